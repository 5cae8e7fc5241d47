// fsck against damage done on purpose to the object store: a clean volume
// passes, a deleted block object, a truncated one and (with --check-data) a
// corrupted one are each reported with a non-zero exit naming the file or
// the block, and reading the file whose block is gone fails with EIO instead
// of returning zeros.
#define BOOST_TEST_MODULE fsck
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "tests/support/fs_util.hpp"
#include "tests/support/mount_fixture.hpp"

using namespace s3l::test;

namespace {

constexpr uint64_t MiB = 1024 * 1024;

// Writes a file and returns the keys of the objects that appeared for it.
std::vector<std::string> write_and_find_objects(MountFixture& m, const std::string& name, uint64_t seed,
                                                uint64_t size) {
  std::vector<std::string> before = m.object_keys();
  write_pattern_file(m.path(name), seed, size);
  int fd = ::open(m.path(name).c_str(), O_RDONLY | O_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE_EQUAL(::fsync(fd), 0);
  ::close(fd);
  std::vector<std::string> after = m.object_keys(), added;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(added));
  BOOST_TEST_MESSAGE(name << ": " << added.size() << " new objects");
  return added;
}

std::string basename_of(const std::string& p) {
  auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

// fsck must fail with exit code 1 and name the file or the block object.
void expect_reported(const RunResult& r, const std::string& file, const std::string& object, const char* what) {
  BOOST_CHECK_MESSAGE(r.code() == 1, what << ": fsck should exit 1; " << r.describe());
  const std::string out = r.output();
  bool named = out.find(file) != std::string::npos || out.find(basename_of(object)) != std::string::npos;
  BOOST_CHECK_MESSAGE(named, what << ": fsck output names neither '" << file << "' nor the object '" << object
                                  << "':\n" << out);
  BOOST_TEST_MESSAGE(what << ": fsck said:\n" << out);
}

// Reads the whole file; returns the errno name of the first failing read, or
// "no error" if every byte could be read.
std::string read_until_error(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "open failed with " + errno_name(errno);
  std::string buf(MiB, '\0');
  std::string outcome = "no error (every byte was returned)";
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      outcome = errno_name(errno);
      break;
    }
    if (n == 0) break;
  }
  ::close(fd);
  return outcome;
}

}  // namespace

BOOST_AUTO_TEST_CASE(fsck_reports_damaged_block_objects) {
  MountFixture m;
  BOOST_TEST_MESSAGE("storage: " << m.storage_url());
  write_pattern_file(m.path("intact.bin"), 1, 9 * MiB + 3);
  std::vector<std::string> deleted = write_and_find_objects(m, "deleted-block.bin", 2, 5 * MiB + 17);
  std::vector<std::string> truncated = write_and_find_objects(m, "truncated-block.bin", 3, 3 * MiB);
  std::vector<std::string> corrupted = write_and_find_objects(m, "corrupted-block.bin", 4, 2 * MiB + 5);
  BOOST_REQUIRE(!deleted.empty() && !truncated.empty() && !corrupted.empty());
  m.unmount();

  RunResult clean = m.fsck({"--check-data"});
  BOOST_REQUIRE_MESSAGE(clean.code() == 0, "fsck --check-data of the undamaged volume: " << clean.describe());

  // The damage goes through the store interface, so it works on every
  // backend (for file:// a put replaces the object file atomically).
  auto store = m.open_store();
  // Deleted: the last block of a two-block file.
  BOOST_REQUIRE(store->remove(deleted.back()).ok());
  expect_reported(m.fsck(), "deleted-block.bin", deleted.back(), "deleted block object");

  // Truncated: same key, wrong size.
  {
    auto data = store->get(truncated.front());
    BOOST_REQUIRE_MESSAGE(data.ok(), data.msg());
    BOOST_REQUIRE(store->put(truncated.front(), data->data(), 1000).ok());
  }
  RunResult r = m.fsck();
  expect_reported(r, "truncated-block.bin", truncated.front(), "truncated block object");

  // Corrupted: same size, one byte flipped; only reading the data finds it.
  {
    auto data = store->get(corrupted.front());
    BOOST_REQUIRE_MESSAGE(data.ok() && data->size() > 1000, data.msg());
    (*data)[1000] = static_cast<char>((*data)[1000] ^ 0x5a);
    BOOST_REQUIRE(store->put(corrupted.front(), data->data(), data->size()).ok());
  }
  r = m.fsck({"--check-data"});
  expect_reported(r, "corrupted-block.bin", corrupted.front(), "corrupted block object (--check-data)");
  BOOST_CHECK_MESSAGE(r.output().find("deleted-block.bin") != std::string::npos ||
                          r.output().find(basename_of(deleted.back())) != std::string::npos,
                      "fsck --check-data should still report the deleted block:\n" << r.output());

  // Reading the damaged file must fail loudly, never return zeros; the
  // intact file still reads back. The disk cache is emptied first so the
  // daemon has to go to the store.
  remove_tree(m.root() + "/cache");
  m.mount();
  BOOST_CHECK_EQUAL(check_pattern_file(m.path("intact.bin"), 1, 9 * MiB + 3), "");
  for (const char* name : {"deleted-block.bin", "corrupted-block.bin"}) {
    std::string outcome = read_until_error(m.path(name));
    BOOST_CHECK_MESSAGE(outcome == "EIO", "reading " << name << " to the end: " << outcome << ", expected EIO");
  }
}
