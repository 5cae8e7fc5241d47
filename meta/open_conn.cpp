// URL dispatch: which engine serves a metadata URL.
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "meta/pg_url.hpp"
#include "meta/sql_conn.hpp"
#include "meta/sqlite_url.hpp"

namespace s3l::meta {

Result<SqliteUrl> parse_sqlite_url(const std::string& url) {
  const std::string scheme = "sqlite3://";
  if (url.compare(0, scheme.size(), scheme) != 0)
    return Status::Error(EINVAL, "not a sqlite3:// URL: " + url);
  std::string rest = url.substr(scheme.size());
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest.resize(q);
  }
  if (rest.empty()) return Status::Error(EINVAL, "metadata URL " + url + " has no file path");
  SqliteUrl u;
  std::error_code ec;
  u.path = std::filesystem::absolute(rest, ec).lexically_normal().string();
  if (ec) return Status::Error(EINVAL, "metadata URL " + url + ": bad path: " + ec.message());
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string kv = query.substr(start, end - start);
    start = end + 1;
    if (kv.empty()) continue;
    auto eq = kv.find('=');
    std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
    if (k == "sync" && (v == "full" || v == "normal")) {
      u.sync_full = v == "full";
    } else if (k == "busy_timeout" && !v.empty() &&
               v.find_first_not_of("0123456789") == std::string::npos && v.size() <= 7) {
      u.busy_timeout_ms = std::atoi(v.c_str());
    } else {
      return Status::Error(EINVAL, "metadata URL " + url + ": unknown option '" + kv +
                                       "' (known: sync=full|normal, busy_timeout=MS)");
    }
  }
  return u;
}

Result<std::unique_ptr<SqlConn>> open_sql_conn(const std::string& url, bool create) {
  if (url.rfind("sqlite3://", 0) == 0) {
    auto u = parse_sqlite_url(url);
    if (!u.ok()) return u.status;
    return open_sqlite_conn(*u, create);
  }
  if (url.rfind("postgres://", 0) == 0 || url.rfind("postgresql://", 0) == 0) {
    auto u = parse_pg_url(url);
    if (!u.ok()) return u.status;
    return open_pg_conn(*u, create);
  }
  // Print only the scheme: other URLs may carry credentials.
  auto colon = url.find("://");
  std::string scheme = colon == std::string::npos ? "(none)" : url.substr(0, colon);
  return Status::Error(EINVAL, "unknown metadata URL scheme '" + scheme + "' (expected sqlite3://PATH or postgres://USER@HOST:PORT/DB)");
}

}  // namespace s3l::meta
