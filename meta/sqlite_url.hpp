// Parsing of sqlite3:// metadata URLs (kept apart so tests can check it).
#pragma once
#include <memory>
#include <string>

#include "meta/sql_conn.hpp"
#include "util/result.hpp"

namespace s3l::meta {

struct SqliteUrl {
  std::string path;            // absolute: the daemon may chdir("/") after parsing
  bool sync_full = false;      // ?sync=normal (default: durable at fsync) | full (every commit)
  int busy_timeout_ms = 5000;  // ?busy_timeout=MS
};

// sqlite3://PATH (relative to the current directory) or sqlite3:///abs/path,
// optional query ?sync=full|normal&busy_timeout=MS. EINVAL with a clear message.
Result<SqliteUrl> parse_sqlite_url(const std::string& url);

Result<std::unique_ptr<SqlConn>> open_sqlite_conn(const SqliteUrl& u, bool create);

}  // namespace s3l::meta
