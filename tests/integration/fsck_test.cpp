// fsck against damage done on purpose to the object store: a clean volume
// passes, a deleted block object, a truncated one and (with --check-data) a
// corrupted one are each reported with a non-zero exit naming the file or
// the block, and reading the file whose block is gone fails with EIO instead
// of returning zeros. fsck --repair against damage done on purpose to the
// metadata (raw SQL on the volume's database): exit 1 naming the paths, then
// --repair exits 0, a new fsck is clean and every file still reads right
// through a mount; a missing object stays a broken file (exit 1, never
// zeroed). The progress line appears on a terminal only.
#define BOOST_TEST_MODULE fsck
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <string>
#include <vector>

#include "meta/sql_conn.hpp"
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

// The volume's database, for damaging it on purpose (SQLite or PostgreSQL).
class RawDb {
 public:
  explicit RawDb(const std::string& url) {
    auto c = s3l::meta::open_sql_conn(url, false);
    if (!c.ok()) throw std::runtime_error("open " + url + ": " + c.msg());
    conn_ = std::move(*c);
  }
  // The inode named `name` in directory `parent`.
  uint64_t ino(uint64_t parent, const std::string& name) {
    s3l::meta::Query q(*conn_, "SELECT ino FROM entries WHERE parent = $1 AND name = $2");
    q.bind(1, parent).blob(2, name);
    if (!q.next()) throw std::runtime_error("no entry '" + name + "' in inode " + std::to_string(parent));
    return q.u64(0);
  }
  void exec(const std::string& sql, std::vector<uint64_t> args = {}) {
    s3l::meta::Query q(*conn_, sql);
    for (size_t i = 0; i < args.size(); ++i) q.bind(static_cast<int>(i + 1), args[i]);
    q.run();
  }
  void add_entry(uint64_t parent, const std::string& name, uint64_t ino) {
    s3l::meta::Query(*conn_, "INSERT INTO entries (parent, name, ino) VALUES ($1, $2, $3)")
        .bind(1, parent).blob(2, name).bind(3, ino).run();
  }

 private:
  std::unique_ptr<s3l::meta::SqlConn> conn_;
};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

void expect_output(const RunResult& r, const std::vector<std::string>& parts, const char* what) {
  for (const auto& p : parts)
    BOOST_CHECK_MESSAGE(contains(r.output(), p), what << ": output should contain '" << p << "':\n" << r.output());
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
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

BOOST_AUTO_TEST_CASE(fsck_repair_fixes_injected_metadata_damage) {
  MountFixture m;
  BOOST_REQUIRE_EQUAL(::mkdir(m.path("d").c_str(), 0755), 0);
  BOOST_REQUIRE_EQUAL(::mkdir(m.path("d/sub").c_str(), 0755), 0);
  write_pattern_file(m.path("d/kept.bin"), 11, 5 * MiB + 7);
  write_pattern_file(m.path("d/lost.bin"), 12, 3 * MiB + 1);
  write_pattern_file(m.path("hard.bin"), 13, 1 * MiB);
  BOOST_REQUIRE_EQUAL(::link(m.path("hard.bin").c_str(), m.path("hard2.bin").c_str()), 0);
  m.unmount();
  RunResult clean = m.fsck();
  BOOST_REQUIRE_MESSAGE(clean.code() == 0, "fsck of the undamaged volume: " << clean.describe());
  BOOST_CHECK_MESSAGE(!contains(clean.output(), "objects checked"), "no progress line without a terminal:\n"
                                                                        << clean.output());

  uint64_t d = 0, kept = 0, lost = 0, hard = 0;
  {
    RawDb db(m.meta_url());
    d = db.ino(1, "d");
    kept = db.ino(d, "kept.bin");
    lost = db.ino(d, "lost.bin");
    hard = db.ino(1, "hard.bin");
    db.exec("UPDATE inodes SET nlink = 5 WHERE ino = $1", {kept});                     // nlink
    db.exec("UPDATE inodes SET nlink = 9 WHERE ino = $1", {d});                        // directory nlink
    db.exec("UPDATE blocks SET refs = refs + 1 WHERE id IN (SELECT sb.block_id FROM slice_blocks sb "
            "JOIN slices s ON s.id = sb.slice_id WHERE s.ino = $1)", {hard});           // refcounts
    db.add_entry(1, "ghost", 999999);                                                  // entry to a missing inode
    db.exec("DELETE FROM entries WHERE ino = $1", {lost});                             // unreachable file
    db.exec("UPDATE counters SET value = value + 1000 WHERE name = 'used_bytes'");     // statfs
    db.exec("INSERT INTO slices (id, ino, chunk, pos, len, zero, status, session, created) "
            "VALUES ($1, $2, 0, 0, 100, 0, 0, 424242, 0)", {1ull << 40, kept});       // pending, session gone
  }
  const std::string unreachable = "unreachable inode " + std::to_string(lost);
  RunResult found = m.fsck();
  BOOST_CHECK_MESSAGE(found.code() == 1, "fsck of the damaged volume should exit 1: " << found.describe());
  expect_output(found, {"nlink-mismatch: /d/kept.bin", "nlink-mismatch: /d:", "refcount-mismatch: block",
                        "(file /hard.bin)", "dangling-entry: /ghost", "unreachable-inode: " + unreachable,
                        "counter-mismatch: counters.used_bytes", "stale-pending-slice: /d/kept.bin"},
                "fsck");

  RunResult repaired = m.fsck({"--repair"});
  BOOST_CHECK_MESSAGE(repaired.code() == 0, "fsck --repair should exit 0: " << repaired.describe());
  expect_output(repaired, {"repaired: dangling-entry: /ghost", "repaired: nlink-mismatch: /d/kept.bin: nlink 5 -> 1",
                           "repaired: unreachable-inode: " + unreachable + ": moved to /lost+found/#" +
                               std::to_string(lost),
                           "repaired: refcount-mismatch", "repaired: stale-session: session 424242",
                           "is consistent now"},
                "fsck --repair");
  BOOST_TEST_MESSAGE("fsck --repair said:\n" << repaired.output());
  RunResult after = m.fsck({"--check-data"});
  BOOST_CHECK_MESSAGE(after.code() == 0, "fsck --check-data after the repair: " << after.describe());

  // Every byte is still where it was, or in lost+found, read from the store.
  remove_tree(m.root() + "/cache");
  m.mount();
  BOOST_CHECK_EQUAL(check_pattern_file(m.path("d/kept.bin"), 11, 5 * MiB + 7), "");
  BOOST_CHECK_EQUAL(check_pattern_file(m.path("lost+found/#" + std::to_string(lost)), 12, 3 * MiB + 1), "");
  BOOST_CHECK_EQUAL(check_pattern_file(m.path("hard.bin"), 13, 1 * MiB), "");
  BOOST_CHECK_EQUAL(check_pattern_file(m.path("hard2.bin"), 13, 1 * MiB), "");
  struct stat st {};
  BOOST_CHECK_EQUAL(::stat(m.path("d/kept.bin").c_str(), &st), 0);
  BOOST_CHECK_EQUAL(st.st_nlink, 1u);
  BOOST_CHECK_EQUAL(::stat(m.path("d").c_str(), &st), 0);
  BOOST_CHECK_EQUAL(st.st_nlink, 3u);
  BOOST_CHECK_EQUAL(::stat(m.path("lost+found").c_str(), &st), 0);
  BOOST_CHECK_EQUAL(st.st_mode & 07777, 0700u);
  BOOST_CHECK(::stat(m.path("ghost").c_str(), &st) != 0 && errno == ENOENT);
  BOOST_CHECK(::stat(m.path("d/lost.bin").c_str(), &st) != 0 && errno == ENOENT);
}

BOOST_AUTO_TEST_CASE(fsck_repair_lists_broken_files_and_never_zeroes_them) {
  MountFixture m;
  write_pattern_file(m.path("intact.bin"), 21, 2 * MiB);
  std::vector<std::string> objs = write_and_find_objects(m, "broken.bin", 22, 2 * MiB + 9);
  BOOST_REQUIRE(!objs.empty());
  m.unmount();
  auto store = m.open_store();
  BOOST_REQUIRE(store->remove(objs.front()).ok());
  {
    RawDb db(m.meta_url());
    db.exec("UPDATE inodes SET nlink = 3 WHERE ino = $1", {db.ino(1, "intact.bin")});   // something repairable too
  }
  RunResult r = m.fsck({"--repair"});
  BOOST_CHECK_MESSAGE(r.code() == 1, "fsck --repair with a missing object should exit 1: " << r.describe());
  expect_output(r, {"repaired: nlink-mismatch: /intact.bin", "not repaired: missing-object: /broken.bin",
                    "broken file /broken.bin (1 missing-object)", "1 problem(s) remain"},
                "fsck --repair");
  BOOST_TEST_MESSAGE("fsck --repair said:\n" << r.output());
  BOOST_CHECK(!store->head(objs.front()).ok());   // nothing was put in its place
  RunResult again = m.fsck();
  BOOST_CHECK_EQUAL(again.code(), 1);
  expect_output(again, {"missing-object: /broken.bin", "broken file /broken.bin"}, "fsck after the repair");
  BOOST_CHECK_MESSAGE(!contains(again.output(), "nlink-mismatch"), again.output());

  remove_tree(m.root() + "/cache");
  m.mount();
  BOOST_CHECK_EQUAL(check_pattern_file(m.path("intact.bin"), 21, 2 * MiB), "");
  std::string outcome = read_until_error(m.path("broken.bin"));
  BOOST_CHECK_MESSAGE(outcome == "EIO", "reading broken.bin to the end: " << outcome << ", expected EIO");
}

// On a terminal fsck shows how far the object checks are; `script` gives it one.
BOOST_AUTO_TEST_CASE(fsck_shows_progress_on_a_terminal) {
  MountFixture m;
  write_pattern_file(m.path("f.bin"), 31, 3 * MiB);
  m.unmount();
  const std::string cmd = shell_quote(MountFixture::daemon_path()) + " fsck " + shell_quote(m.meta_url());
  RunResult tty = run({"script", "-qec", cmd, "/dev/null"});
  BOOST_CHECK_MESSAGE(tty.code() == 0, tty.describe());
  expect_output(tty, {"objects checked", "is consistent"}, "fsck on a terminal");
  RunResult plain = m.fsck();
  BOOST_CHECK_EQUAL(plain.code(), 0);
  BOOST_CHECK_MESSAGE(!contains(plain.output(), "objects checked") && !contains(plain.output(), "\r"),
                      "no progress without a terminal:\n" << plain.output());
}
