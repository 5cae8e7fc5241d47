// One round trip to PostgreSQL in libpq's pipeline mode (extended query
// protocol): any number of statements, each with its own result, go to the
// server in one message and their answers come back in one read.
//
// Why not pqxx::pipeline: it joins the statements into one simple-query
// string (prefixed by a SELECT of its own), which the server must parse and
// plan statement by statement; prepared statements then run as EXECUTE text
// with their parameters as literals. Measured with pgbench on this project's
// create transaction (bench/README.md): the server spent ~3.5x the CPU that
// the same statements cost as Bind/Execute of statements prepared once
// (through the mount, where much else is on the path: ~10-15% more creates/s).
//
// A Sync ends a segment: the statements of a segment outside BEGIN ... COMMIT
// form one implicit transaction, and after an error the server skips the
// rest of the segment (PGRES_PIPELINE_ABORTED) up to the Sync.
#pragma once
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct pg_conn;
struct pg_result;

namespace s3l::meta {

// One statement's answer (rows in text format), shared and cheap to copy.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(pg_result* r);
  bool empty_result() const { return !r_; }
  size_t rows() const;
  int columns() const;
  bool is_null(size_t row, int col) const;
  const char* value(size_t row, int col) const;
  size_t length(size_t row, int col) const;
  int64_t affected_rows() const;   // INSERT/UPDATE/DELETE

 private:
  std::shared_ptr<pg_result> r_;
};

class PgPipeline {
 public:
  explicit PgPipeline(pg_conn* c) : c_(c) {}

  // Each returns the index of its answer in results().
  size_t prepare(const std::string& name, const std::string& sql);
  size_t run_prepared(const std::string& name, const std::vector<std::optional<std::string>>& params);
  size_t run(const std::string& sql);   // one statement without parameters
  void sync();                          // ends a segment

  // Sends everything (a final Sync is added if missing), reads every answer
  // and leaves pipeline mode. Throws the first error: pqxx::sql_error with
  // its SQLSTATE for one the server reported, pqxx::broken_connection if the
  // connection failed. Answers before the error are kept; ok(i) tells which.
  void send();

  const PgResult& result(size_t i) const { return items_.at(i).result; }
  bool ok(size_t i) const { return items_.at(i).ok; }
  bool empty() const { return items_.empty(); }

 private:
  enum class Kind { kPrepare, kRun, kSync };
  struct Item {
    Kind kind;
    std::string name;   // prepared statement (kPrepare, kRun of a prepared one)
    std::string sql;    // kPrepare, kRun without a name
    std::vector<std::optional<std::string>> params;
    PgResult result;
    bool ok = false;
  };
  void queue(Item& it);
  void read(Item& it, std::optional<std::string>& first_error, std::string& error_state);
  [[noreturn]] void lost(const std::string& what);

  pg_conn* c_;
  std::vector<Item> items_;
};

}  // namespace s3l::meta
