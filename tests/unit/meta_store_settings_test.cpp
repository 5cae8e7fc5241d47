// The S3 store options in the volume settings: written by format, read back,
// absent keys (volumes formatted before they existed, still format_version 1)
// read as the defaults, malformed ones are refused, and no secret row exists
// unless one was given. Runs on SQLite and, as meta_store_settings_test_pg, on
// PostgreSQL.
#define BOOST_TEST_MODULE meta_store_settings
#include <boost/test/unit_test.hpp>

#include "tests/unit/meta_fixture.hpp"

using namespace s3l;
using namespace s3l::meta;
using namespace s3l::meta::test;

BOOST_FIXTURE_TEST_SUITE(store_settings, MetaFixture)

BOOST_AUTO_TEST_CASE(s3_options_round_trip) {
  VolumeSettings s = settings();
  s.storage_url = "s3://my-bucket";
  s.s3_endpoint = "http://127.0.0.1:9000";
  s.s3_region = "eu-west-3";
  s.s3_virtual_hosted = true;
  s.s3_verify_tls = false;
  s.s3_ca_file = "/etc/ssl/ca.pem";
  s.s3_access_key = "AKID";
  s.s3_secret_key = "very-secret";
  BOOST_REQUIRE(m->format(s, 0, 0, true).ok());
  auto other = open_or_fail(url, false);   // a fresh connection, no cached settings
  auto r = other->load_settings();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->storage_url == "s3://my-bucket");
  BOOST_TEST(r->s3_endpoint == "http://127.0.0.1:9000");
  BOOST_TEST(r->s3_region == "eu-west-3");
  BOOST_TEST(r->s3_virtual_hosted);
  BOOST_TEST(!r->s3_verify_tls);
  BOOST_TEST(r->s3_ca_file == "/etc/ssl/ca.pem");
  BOOST_TEST(r->s3_access_key == "AKID");
  BOOST_TEST(r->s3_secret_key == "very-secret");
}

BOOST_AUTO_TEST_CASE(defaults_write_no_secret_rows) {
  // The fixture's volume: file:// storage, every S3 field at its default.
  auto r = open_or_fail(url, false)->load_settings();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->s3_endpoint.empty());
  BOOST_TEST(r->s3_region.empty());
  BOOST_TEST(!r->s3_virtual_hosted);
  BOOST_TEST(r->s3_verify_tls);
  BOOST_TEST(r->s3_access_key.empty());
  BOOST_TEST(r->s3_secret_key.empty());
  // No row at all for the credentials (not even an empty one).
  raw("UPDATE settings SET value = 'x' WHERE key IN ('s3_access_key', 's3_secret_key')");
  BOOST_TEST(open_or_fail(url, false)->load_settings()->s3_secret_key.empty());
}

BOOST_AUTO_TEST_CASE(volumes_without_the_keys_read_as_defaults) {
  VolumeSettings s = settings();
  s.storage_url = "http://127.0.0.1:9000/b";
  s.s3_region = "eu-west-1";
  s.s3_virtual_hosted = true;
  s.s3_verify_tls = false;
  s.s3_secret_key = "k";
  BOOST_REQUIRE(m->format(s, 0, 0, true).ok());
  // What a volume formatted before these keys existed looks like.
  raw("DELETE FROM settings WHERE key LIKE 's3_%'");
  auto r = open_or_fail(url, false)->load_settings();
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->format_version == 1u);
  BOOST_TEST(r->s3_region.empty());
  BOOST_TEST(!r->s3_virtual_hosted);
  BOOST_TEST(r->s3_verify_tls);
  BOOST_TEST(r->s3_secret_key.empty());
}

BOOST_AUTO_TEST_CASE(malformed_flags_are_refused) {
  raw("UPDATE settings SET value = 'maybe' WHERE key = 's3_verify_tls'");
  auto r = open_or_fail(url, false)->load_settings();
  BOOST_TEST(r.err() == EIO);
  BOOST_TEST(r.msg().find("s3_verify_tls") != std::string::npos, r.msg());
}

BOOST_AUTO_TEST_SUITE_END()
