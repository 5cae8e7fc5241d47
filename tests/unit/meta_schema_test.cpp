// Schema versioning: an older schema is refused until upgrade_schema() runs,
// a newer one is refused always; the upgrade keeps the data.
#define BOOST_TEST_MODULE meta_schema
#include "meta_fixture.hpp"

using namespace s3l;
using namespace s3l::meta;
using namespace s3l::meta::test;

namespace {

// Turns the formatted volume back into what version 1 looked like (undoes
// the steps of meta/schema_upgrade.cpp).
void downgrade_to_v1(MetaFixture& f) {
  f.raw("DROP INDEX chunks_by_slices");
  f.raw("DROP TABLE leases");
  f.raw("ALTER TABLE sessions DROP COLUMN expiry");
  f.raw("ALTER TABLE slices DROP COLUMN off");
  f.raw("UPDATE schema_version SET version = 1");
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(schema, MetaFixture)

BOOST_AUTO_TEST_CASE(current_schema_loads_and_upgrade_is_a_no_op) {
  auto v = m->upgrade_schema();
  BOOST_REQUIRE_MESSAGE(v.ok(), v.msg());
  BOOST_TEST(*v == kSchemaVersion);
  BOOST_TEST(m->load_settings().ok());
}

BOOST_AUTO_TEST_CASE(older_schema_is_refused_until_upgraded) {
  Attr f = mk(kRootIno, "f");
  Slice s = write(f.ino, 0, 10, 1000);
  m.reset();
  downgrade_to_v1(*this);

  auto m2 = open_or_fail(url, false);
  auto st = m2->load_settings();
  BOOST_REQUIRE(!st.ok());
  BOOST_TEST(st.err() == EPROTO);
  BOOST_TEST_MESSAGE(st.msg());
  BOOST_TEST(st.msg().find("schema version 1") != std::string::npos);
  BOOST_TEST(st.msg().find("s3layerfs-daemon upgrade") != std::string::npos);

  auto v = m2->upgrade_schema();
  BOOST_REQUIRE_MESSAGE(v.ok(), v.msg());
  BOOST_TEST(*v == 1u);
  BOOST_REQUIRE(m2->load_settings().ok());
  // The data written under version 1 reads the same.
  auto sl = m2->chunk_slices(f.ino, 0);
  BOOST_REQUIRE_MESSAGE(sl.ok(), sl.msg());
  BOOST_REQUIRE_EQUAL(sl->size(), 1u);
  BOOST_TEST(sl->front().id == s.id);
  BOOST_TEST(sl->front().pos == 10u);
  BOOST_TEST(sl->front().len == 1000u);
  BOOST_TEST(sl->front().off == 0u);
  BOOST_TEST(sl->front().blocks.size() == 1u);
  // What version 2 added works: an append across a chunk end.
  BOOST_REQUIRE(m2->truncate(f.ino, kChunk - 10, kT0).ok());
  auto id = m2->begin_slice(f.ino, 0, session);
  BOOST_REQUIRE(id.ok());
  auto a = m2->commit_append(make_slice(*id, f.ino, 0, 0, 100), kT0);
  BOOST_REQUIRE_MESSAGE(a.ok(), a.msg());
  BOOST_TEST(a->size == kChunk + 90);
  // A second upgrade finds nothing to do.
  auto again = m2->upgrade_schema();
  BOOST_REQUIRE(again.ok());
  BOOST_TEST(*again == kSchemaVersion);
  m = std::move(m2);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(newer_schema_is_refused_and_never_downgraded) {
  m.reset();
  raw("UPDATE schema_version SET version = " + std::to_string(kSchemaVersion + 1));
  auto m2 = open_or_fail(url, false);
  auto st = m2->load_settings();
  BOOST_REQUIRE(!st.ok());
  BOOST_TEST(st.err() == EPROTO);
  BOOST_TEST(st.msg().find("newer") != std::string::npos);
  auto v = m2->upgrade_schema();
  BOOST_REQUIRE(!v.ok());
  BOOST_TEST(v.err() == EPROTO);
  // Still the newer version: nothing was touched.
  auto st2 = m2->load_settings();
  BOOST_TEST(st2.err() == EPROTO);
  raw("UPDATE schema_version SET version = " + std::to_string(kSchemaVersion));
  m = std::move(m2);
  BOOST_TEST(m->load_settings().ok());
}

BOOST_AUTO_TEST_CASE(no_volume_is_reported_as_such) {
  m.reset();
  raw("DROP TABLE schema_version");
  auto m2 = open_or_fail(url, false);
  auto v = m2->upgrade_schema();
  BOOST_REQUIRE(!v.ok());
  BOOST_TEST(v.err() == ENODATA);
  format_or_fail(*m2);   // leave a volume behind for the fixture's teardown
  m = std::move(m2);
}

BOOST_AUTO_TEST_SUITE_END()
