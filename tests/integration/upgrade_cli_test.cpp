// Schema versions at the command line: mount and fsck refuse a volume whose
// metadata schema is older (naming the upgrade command) or newer; `upgrade`
// migrates an older one in place and the files read back byte-exact.
#define BOOST_TEST_MODULE upgrade_cli
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <string>

#include "meta/sql_conn.hpp"
#include "meta/types.hpp"
#include "tests/support/fs_util.hpp"
#include "tests/support/mount_fixture.hpp"

using namespace s3l::test;

namespace {

void sql(const std::string& url, const std::string& statement) {
  auto c = s3l::meta::open_sql_conn(url, false);
  BOOST_REQUIRE_MESSAGE(c.ok(), c.msg());
  try {
    (*c)->exec(statement);
  } catch (const std::exception& e) {
    BOOST_FAIL("SQL failed: " << statement << ": " << e.what());
  }
}

// What a volume formatted by the version 1 binary looks like (undoes the
// steps of meta/schema_upgrade.cpp).
void downgrade_to_v1(const std::string& url) {
  sql(url, "DROP INDEX chunks_by_slices");
  sql(url, "DROP TABLE leases");
  sql(url, "ALTER TABLE sessions DROP COLUMN expiry");
  sql(url, "ALTER TABLE slices DROP COLUMN off");
  sql(url, "UPDATE schema_version SET version = 1");
}

std::string mount_error(MountFixture& fx) {
  try {
    fx.mount();
  } catch (const std::exception& e) {
    return e.what();
  }
  fx.unmount();
  return "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(older_schema_is_refused_until_upgraded) {
  MountFixture fx;
  const uint64_t kSize = 9u << 20;
  write_pattern_file(fx.path("data"), 11, kSize);
  fx.unmount();
  downgrade_to_v1(fx.meta_url());

  std::string err = mount_error(fx);
  BOOST_TEST(!err.empty(), "mount of a version 1 schema must fail");
  BOOST_TEST(err.find("schema version 1") != std::string::npos, err);
  BOOST_TEST(err.find("s3layerfs-daemon upgrade") != std::string::npos, err);
  RunResult f = fx.fsck();
  BOOST_TEST(f.code() == 3, f.describe());

  RunResult up = fx.run_cli({"upgrade", fx.meta_url()});
  BOOST_REQUIRE_MESSAGE(up.code() == 0, up.describe());
  BOOST_TEST(up.out.find("from version 1 to " + std::to_string(s3l::meta::kSchemaVersion)) != std::string::npos,
             up.out);
  RunResult again = fx.run_cli({"upgrade", fx.meta_url()});
  BOOST_TEST(again.code() == 0, again.describe());
  BOOST_TEST(again.out.find("nothing to do") != std::string::npos, again.out);

  fx.mount();
  BOOST_TEST(check_pattern_file(fx.path("data"), 11, kSize) == "");
  write_file(fx.path("after"), "written after the upgrade");
  fx.unmount();
  RunResult clean = fx.fsck({"--check-data"});
  BOOST_TEST(clean.code() == 0, clean.describe());
}

BOOST_AUTO_TEST_CASE(newer_schema_is_refused_and_not_touched) {
  MountFixture fx;
  fx.unmount();
  sql(fx.meta_url(), "UPDATE schema_version SET version = 99");
  std::string err = mount_error(fx);
  BOOST_TEST(err.find("newer") != std::string::npos, err);
  RunResult up = fx.run_cli({"upgrade", fx.meta_url()});
  BOOST_TEST(up.code() == 3, up.describe());
  BOOST_TEST(up.err.find("newer") != std::string::npos, up.err);
  sql(fx.meta_url(), "UPDATE schema_version SET version = " + std::to_string(s3l::meta::kSchemaVersion));
  fx.mount();   // untouched otherwise: mounts again
}
