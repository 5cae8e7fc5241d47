// A real PostgreSQL server for a test run: initdb in a temporary directory (as
// the `postgres` user when running as root: PostgreSQL refuses to run as root),
// pg_ctl start on a free loopback port with the socket in that directory, one
// database created, trust authentication. Stopped (pg_ctl stop -m fast, then
// SIGKILL by PID) and removed by the destructor, and by the process cleanup
// registry (tests/support/process.hpp) if the test fails or exits early. A
// server left behind by a test process that was killed is removed the next
// time a PgServer starts.
//
// S3L_TEST_META_URL=postgres-auto: a Boost global fixture linked into every
// test executable starts one PgServer for the whole executable and replaces
// the variable by its URL, so the meta suite runs unchanged on PostgreSQL.
#pragma once
#include <memory>
#include <string>

namespace s3l::test {

struct PgServerOptions {
  std::string database = "s3l";
  // false: fsync=off, full_page_writes=off (fast; a killed server process
  // still loses nothing, only an OS crash would). true: the server defaults,
  // for benchmarks.
  bool durable = false;
};

class PgServer {
 public:
  // Throws std::runtime_error with the server log if it cannot start.
  explicit PgServer(PgServerOptions opts = {});
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  // postgres://postgres@127.0.0.1:PORT/DB (trust authentication: no password).
  std::string url() const;
  std::string url_for(const std::string& database) const;
  int port() const;
  const std::string& dir() const;   // the temporary directory (data, socket, log)
  std::string log() const;          // the server log so far

  // Runs SQL with psql as the postgres superuser; returns its unaligned output.
  // Throws std::runtime_error with psql's output on failure.
  std::string psql(const std::string& sql, const std::string& database = "") const;
  void create_database(const std::string& name) const;

  bool running() const;
  // pg_ctl stop -m fast (SIGKILL if that does not work); the data stays.
  void stop();
  // Starts again on the same port (after stop()).
  void start();
  // SIGKILL to the postmaster: a crash, for reconnection tests (start() again after).
  void kill_hard();

  struct State;

 private:
  std::shared_ptr<State> s_;
};

// Exposes the server started by the postgres-auto global fixture (nullptr if none).
PgServer* auto_pg_server();

}  // namespace s3l::test
