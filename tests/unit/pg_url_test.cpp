// postgres:// URL parsing: what libpq gets, what may be printed, and that the
// password never appears in anything printable. No server needed.
#define BOOST_TEST_MODULE pg_url
#include <boost/test/unit_test.hpp>

#include "meta/meta.hpp"
#include "meta/pg_url.hpp"

using namespace s3l;
using namespace s3l::meta;

namespace {
bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

BOOST_AUTO_TEST_CASE(full_url_keeps_params_and_hides_password) {
  auto u = parse_pg_url("postgres://alice:s3cr%40t@db.example:6432/meta?sslmode=require&target_session_attrs=read-write");
  BOOST_REQUIRE_MESSAGE(u.ok(), u.msg());
  BOOST_TEST(u->safe == "postgres://alice@db.example:6432/meta?sslmode=require&target_session_attrs=read-write");
  // libpq gets everything, plus our defaults.
  BOOST_TEST(u->conninfo ==
             "postgres://alice:s3cr%40t@db.example:6432/meta?sslmode=require&target_session_attrs=read-write"
             "&connect_timeout=10&application_name=s3layerfs");
  BOOST_TEST(scrub_secrets("x s3cr%40t y s3cr@t z", u->secrets) == "x *** y *** z");
}

BOOST_AUTO_TEST_CASE(both_schemes_and_minimal_forms) {
  auto a = parse_pg_url("postgresql://h/db");
  BOOST_REQUIRE(a.ok());
  BOOST_TEST(a->safe == "postgresql://h/db");
  BOOST_TEST(a->conninfo == "postgresql://h/db?connect_timeout=10&application_name=s3layerfs");
  BOOST_TEST(a->secrets.empty());
  auto b = parse_pg_url("postgres://");   // all libpq defaults (PGHOST, socket, ...)
  BOOST_REQUIRE(b.ok());
  BOOST_TEST(b->conninfo == "postgres://?connect_timeout=10&application_name=s3layerfs");
  auto c = parse_pg_url("postgres://u@[::1]:5433,h2:5434/db?connect_timeout=3&application_name=x");
  BOOST_REQUIRE(c.ok());
  BOOST_TEST(c->conninfo == "postgres://u@[::1]:5433,h2:5434/db?connect_timeout=3&application_name=x");
  BOOST_TEST(c->safe == c->conninfo);
  auto d = parse_pg_url("postgres://u@h/db?");
  BOOST_REQUIRE(d.ok());
  BOOST_TEST(d->conninfo == "postgres://u@h/db?connect_timeout=10&application_name=s3layerfs");
}

BOOST_AUTO_TEST_CASE(password_in_query_is_a_secret_too) {
  auto u = parse_pg_url("postgres://bob@h/db?password=hunter2&sslmode=disable");
  BOOST_REQUIRE(u.ok());
  BOOST_TEST(u->safe == "postgres://bob@h/db?sslmode=disable");
  BOOST_TEST(!contains(u->safe, "hunter2"));
  BOOST_TEST(contains(u->conninfo, "password=hunter2"));
  BOOST_TEST(scrub_secrets("auth hunter2 failed", u->secrets) == "auth *** failed");
}

BOOST_AUTO_TEST_CASE(bad_urls_are_einval_without_the_password) {
  const char* bad[] = {
      "postgres://u:pw1secret@h/db?sslmode",           // not key=value
      "postgres://u:pw1secret@h/db with space",        // space
      "postgres://u:pw1secret@h/a/b",                  // path with two components
      "postgres://u:pw1secret@h/d%zzb",                // malformed escape
      "postgres://u:pw1sec@ret@h/db",                  // raw '@' in the password
      "postgres://u:pw1secret@h/db#frag",              // fragment
  };
  for (const char* url : bad) {
    auto u = parse_pg_url(url);
    BOOST_TEST_CONTEXT(url) {
      BOOST_TEST(u.err() == EINVAL);
      BOOST_TEST(!contains(u.msg(), "pw1secret"));
      BOOST_TEST(!contains(u.msg(), "pw1sec"));
    }
  }
  BOOST_TEST(parse_pg_url("mysql://h/db").err() == EINVAL);
}

BOOST_AUTO_TEST_CASE(open_meta_error_never_shows_the_password) {
  // Port 1 on loopback: nothing listens, the connection is refused at once.
  auto r = open_meta("postgres://u:Pa55w0rdXyz@127.0.0.1:1/db?connect_timeout=2", false);
  BOOST_REQUIRE(!r.ok());
  BOOST_TEST(r.err() == EIO);
  BOOST_TEST(!contains(r.msg(), "Pa55w0rdXyz"));
  BOOST_TEST(contains(r.msg(), "postgres://u@127.0.0.1:1/db"));
  BOOST_TEST_MESSAGE("error: " << r.msg());
  // libpq itself rejects this one (bad port) and may echo the URI: scrubbed.
  auto p = open_meta("postgres://u:Pa55w0rdXyz@127.0.0.1:notaport/db", false);
  BOOST_REQUIRE(!p.ok());
  BOOST_TEST(!contains(p.msg(), "Pa55w0rdXyz"));
  BOOST_TEST_MESSAGE("error: " << p.msg());
}
