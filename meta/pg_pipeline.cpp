#include "meta/pg_pipeline.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <cstring>
#include <pqxx/except>

namespace s3l::meta {

PgResult::PgResult(pg_result* r) : r_(r, PQclear) {}

size_t PgResult::rows() const { return r_ ? static_cast<size_t>(PQntuples(r_.get())) : 0; }
int PgResult::columns() const { return r_ ? PQnfields(r_.get()) : 0; }
bool PgResult::is_null(size_t row, int col) const { return PQgetisnull(r_.get(), static_cast<int>(row), col) != 0; }
const char* PgResult::value(size_t row, int col) const { return PQgetvalue(r_.get(), static_cast<int>(row), col); }
size_t PgResult::length(size_t row, int col) const {
  return static_cast<size_t>(PQgetlength(r_.get(), static_cast<int>(row), col));
}
int64_t PgResult::affected_rows() const {
  if (!r_) return 0;
  const char* s = PQcmdTuples(r_.get());   // "" for statements that change no rows
  int64_t n = 0;
  std::from_chars(s, s + std::strlen(s), n);
  return n;
}

size_t PgPipeline::prepare(const std::string& name, const std::string& sql) {
  items_.push_back(Item{Kind::kPrepare, name, sql, {}, {}, false});
  return items_.size() - 1;
}

size_t PgPipeline::run_prepared(const std::string& name, const std::vector<std::optional<std::string>>& params) {
  items_.push_back(Item{Kind::kRun, name, {}, params, {}, false});
  return items_.size() - 1;
}

size_t PgPipeline::run(const std::string& sql) {
  items_.push_back(Item{Kind::kRun, {}, sql, {}, {}, false});
  return items_.size() - 1;
}

void PgPipeline::sync() { items_.push_back(Item{Kind::kSync, {}, {}, {}, {}, false}); }

void PgPipeline::lost(const std::string& what) {
  throw pqxx::broken_connection("connection to the server lost (" + what + "): " + PQerrorMessage(c_));
}

void PgPipeline::queue(Item& it) {
  int sent = 0;
  switch (it.kind) {
    case Kind::kPrepare:
      sent = PQsendPrepare(c_, it.name.c_str(), it.sql.c_str(), 0, nullptr);
      break;
    case Kind::kRun:
      if (it.name.empty()) {
        sent = PQsendQueryParams(c_, it.sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0);
      } else {
        std::vector<const char*> values;
        values.reserve(it.params.size());
        for (const auto& p : it.params) values.push_back(p ? p->c_str() : nullptr);
        sent = PQsendQueryPrepared(c_, it.name.c_str(), static_cast<int>(values.size()), values.data(), nullptr,
                                   nullptr, 0);
      }
      break;
    case Kind::kSync:
      sent = PQpipelineSync(c_);   // also flushes what was queued
      break;
  }
  // libpq refuses only when the connection failed or its state is not what
  // this class put it in; neither leaves the session in a known state.
  if (!sent) lost("sending a statement");
}

void PgPipeline::read(Item& it, std::optional<std::string>& first_error, std::string& error_state) {
  if (it.kind == Kind::kSync) {
    PGresult* r = PQgetResult(c_);
    if (!r) lost("no answer to a Sync");
    const ExecStatusType st = PQresultStatus(r);
    PQclear(r);
    if (st != PGRES_PIPELINE_SYNC) lost("unexpected answer where a Sync's belongs");
    it.ok = true;
    return;
  }
  // One result, then NULL; a statement after an error in its segment gives
  // PGRES_PIPELINE_ABORTED instead.
  while (PGresult* r = PQgetResult(c_)) {
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      it.result = PgResult(r);
      it.ok = true;
      continue;
    }
    if (st == PGRES_PIPELINE_ABORTED) {
      PQclear(r);
      continue;
    }
    if (st == PGRES_PIPELINE_SYNC) {
      PQclear(r);
      lost("a Sync's answer where a statement's belongs");
    }
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (!first_error) {
      first_error = PQresultErrorMessage(r);
      error_state = state ? state : "";
      if (first_error->empty()) first_error = std::string("statement failed: ") + PQresStatus(st);
    }
    PQclear(r);
  }
  if (PQstatus(c_) == CONNECTION_BAD) lost(first_error ? *first_error : std::string("reading answers"));
}

void PgPipeline::send() {
  if (items_.empty()) return;
  if (items_.back().kind != Kind::kSync) sync();
  if (PQstatus(c_) == CONNECTION_BAD) lost("before sending");
  if (!PQenterPipelineMode(c_)) lost("entering pipeline mode");
  for (Item& it : items_) queue(it);
  std::optional<std::string> first_error;
  std::string state;
  for (Item& it : items_) read(it, first_error, state);
  if (!PQexitPipelineMode(c_)) lost("leaving pipeline mode");
  if (first_error) throw pqxx::sql_error(*first_error, "", state.empty() ? nullptr : state.c_str());
}

}  // namespace s3l::meta
