// Parsing of postgres:// and postgresql:// metadata URLs (kept apart so tests
// can check it). libpq parses the URI itself when connecting; we parse it only
// to validate it early, to print it without the password, and to scrub the
// password out of any message libpq might echo.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "meta/sql_conn.hpp"
#include "util/result.hpp"

namespace s3l::meta {

struct PgUrl {
  std::string conninfo;   // what libpq gets: the URL plus our defaults (may hold the password)
  std::string safe;       // printable: the URL without any password
  // Every spelling of the password (as written, percent-decoded), for scrubbing.
  std::vector<std::string> secrets;
};

// postgres://[user[:password]@][host[:port][,...]][/dbname][?param=value&...]
// (also postgresql://). Query parameters are libpq's (sslmode, connect_timeout,
// application_name, host=/socket/dir, ...) and are passed through unchanged;
// connect_timeout=10 and application_name=s3layerfs are added when absent.
// EINVAL with a clear message (never containing the password).
Result<PgUrl> parse_pg_url(const std::string& url);

// `text` with every secret replaced by "***".
std::string scrub_secrets(std::string text, const std::vector<std::string>& secrets);

Result<std::unique_ptr<SqlConn>> open_pg_conn(const PgUrl& u, bool create);

}  // namespace s3l::meta
