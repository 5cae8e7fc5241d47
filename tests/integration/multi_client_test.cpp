// Two daemons on one volume (issue 4): mount A and mount B are separate
// `s3layerfs-daemon mount` processes on the same meta URL and storage URL,
// at two mountpoints, with their own cache dirs. The contract under test:
//  - close-to-open: after close (or fsync) on A, an open on B sees the full
//    size and content, even if B had looked at or opened the file before;
//  - names created concurrently through both mounts exist once, and exactly
//    one of the two creators of each name succeeds (the other gets EEXIST);
//  - rename/unlink/mkdir/rmdir on A are visible on B once B's kernel caches
//    expire: within --entry-timeout / --attr-timeout (default 1 s).
// Run on PostgreSQL (CTest multi_client_test_pg) and on SQLite (two processes
// on one WAL database file: multi_client_test).
#define BOOST_TEST_MODULE multi_client
#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fs_util.hpp"
#include "tests/support/mount_fixture.hpp"

using namespace s3l::test;
using Clock = std::chrono::steady_clock;

namespace {

// ---- two mounts of one volume ------------------------------------------------

FixtureOptions mount_opts(const std::vector<std::string>& extra, const MountFixture* first) {
  FixtureOptions o;
  o.mount_args.insert(o.mount_args.end(), extra.begin(), extra.end());
  o.same_volume_as = first;
  return o;
}

// A formats the volume and mounts it; B mounts the same volume as a second
// client. Members are destroyed in reverse order: B goes before A, whose temp
// dir may hold the SQLite file and the objects.
struct TwoMounts {
  explicit TwoMounts(const std::vector<std::string>& mount_args = {})
      : a(mount_opts(mount_args, nullptr)), b(mount_opts(mount_args, &a)) {
    BOOST_TEST_MESSAGE("mount A " << a.mountpoint() << " (daemon " << a.daemon_pid() << "), mount B "
                                  << b.mountpoint() << " (daemon " << b.daemon_pid() << "), meta "
                                  << a.meta_url());
  }
  // Clean unmount of both (any dirty data must commit) and fsck of the volume.
  void unmount_and_fsck() {
    b.unmount();
    a.unmount();
    RunResult f = a.fsck();
    BOOST_CHECK_MESSAGE(f.code() == 0, "fsck after both mounts are gone:\n" << f.describe());
  }
  MountFixture a;
  MountFixture b;
};

// Runs on_a and on_b in two threads released at the same moment, so that
// they race, and waits for both. Exceptions are rethrown here (first A, then
// B). The bodies must not use BOOST_CHECK (not thread-safe): record, then
// check after race() returns.
void race(const std::function<void()>& on_a, const std::function<void()>& on_b) {
  std::promise<void> go;
  std::shared_future<void> start = go.get_future().share();
  auto body = [start](const std::function<void()>& fn) {
    start.wait();
    fn();
  };
  auto fa = std::async(std::launch::async, body, on_a);
  auto fb = std::async(std::launch::async, body, on_b);
  go.set_value();
  fa.get();
  fb.get();
}

// ---- small syscall helpers -----------------------------------------------------

int err_of(int rc) { return rc == -1 ? errno : 0; }

std::string random_bytes(uint64_t seed, size_t n) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  for (uint64_t v = rng(); i < n; ++i, v >>= 8) s[i] = static_cast<char>(v & 0xff);
  return s;
}

// Reads an open file from offset 0 to EOF (read(2), so the kernel's idea of
// the size limits it, as it does for any program).
std::string read_fd_to_end(int fd, const std::string& what) {
  std::string out;
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::pread(fd, &buf[0], buf.size(), static_cast<off_t>(out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("pread " + what + ": " + errno_name(errno));
    if (n == 0) return out;
    out.append(buf.data(), static_cast<size_t>(n));
  }
}

int open_or_throw(const std::string& path, int flags, mode_t mode = 0644) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + errno_name(errno));
  return fd;
}

void close_or_throw(int fd, const std::string& what) {
  if (::close(fd) != 0) throw std::runtime_error("close " + what + ": " + errno_name(errno));
}

// What B shows of `path` compared with `want`: "" if byte-exact, else how it
// differs (fstat size and read(2) content both checked).
std::string compare_on_open(const std::string& path, const std::string& want) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "open: " + errno_name(errno);
  struct stat st;
  std::string problem;
  if (::fstat(fd, &st) != 0) problem = "fstat: " + errno_name(errno);
  else if (static_cast<uint64_t>(st.st_size) != want.size())
    problem = "fstat size " + std::to_string(st.st_size) + ", expected " + std::to_string(want.size());
  std::string got;
  try {
    got = read_fd_to_end(fd, path);
  } catch (const std::exception& e) {
    problem += (problem.empty() ? "" : "; ") + std::string(e.what());
  }
  ::close(fd);
  if (got != want) problem += (problem.empty() ? "" : "; ") + std::string("read: ") + first_difference(got, want);
  return problem;
}

std::set<std::string> list_dir(const std::string& path, std::vector<std::string>* dupes = nullptr) {
  std::set<std::string> names;
  DIR* d = ::opendir(path.c_str());
  if (!d) throw std::runtime_error("opendir " + path + ": " + errno_name(errno));
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (!names.insert(n).second && dupes) dupes->push_back(n);
    errno = 0;
  }
  int e = errno;
  ::closedir(d);
  if (e) throw std::runtime_error("readdir " + path + ": " + errno_name(e));
  return names;
}

std::string describe(const std::set<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : " ") + n;
  return "{" + s + "}";
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Polls `observe` (what B shows: "" once it is what A made it) until it
// passes or `limit_s` seconds have passed since `since`. Returns the seconds
// it took, or -1 after a failed check naming the last observation.
double wait_visible(const std::string& what, const std::function<std::string()>& observe,
                    Clock::time_point since, double limit_s) {
  std::string last;
  for (;;) {
    try {
      last = observe();
    } catch (const std::exception& e) {
      last = e.what();
    }
    if (last.empty()) return seconds_since(since);
    if (seconds_since(since) > limit_s) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  BOOST_ERROR(what << ": not visible on B " << limit_s << " s after the change on A; B shows: " << last);
  return -1;
}

// "" if lstat(path) fails with ENOENT, else what B still has there.
std::string gone(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) == 0) return "still there (ino " + std::to_string(st.st_ino) + ")";
  return errno == ENOENT ? "" : "lstat: " + errno_name(errno);
}

// "" if path is a directory with inode `ino`.
std::string is_dir(const std::string& path, ino_t ino) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return "lstat: " + errno_name(errno);
  if (!S_ISDIR(st.st_mode)) return "not a directory";
  if (st.st_ino != ino) return "ino " + std::to_string(st.st_ino) + ", expected " + std::to_string(ino);
  return "";
}

// "" if path is a regular file with inode `ino` and content `want`.
std::string is_file(const std::string& path, ino_t ino, const std::string& want) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return "lstat: " + errno_name(errno);
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (st.st_ino != ino) return "ino " + std::to_string(st.st_ino) + ", expected " + std::to_string(ino);
  return compare_on_open(path, want);
}

}  // namespace

// ---- 1. close-to-open ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(new_files_written_on_a_read_byte_exact_on_b) {
  TwoMounts m;
  BOOST_REQUIRE_EQUAL(::mkdir(m.a.path("c2o").c_str(), 0755), 0);
  const uint64_t seed = static_cast<uint64_t>(std::random_device{}()) << 32 | std::random_device{}();
  BOOST_TEST_MESSAGE("content seed " << seed);
  const std::vector<size_t> sizes = {0, 1, (4u << 20) + 1, 20u << 20};
  std::map<std::string, std::string> written;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string name = "c2o/f" + std::to_string(sizes[i]);
    written[name] = random_bytes(seed + i, sizes[i]);
    write_file(m.a.path(name), written[name]);   // open, write, close on A
  }
  // B never looked these names up: its first lookup and open must find them.
  for (const auto& [name, data] : written) {
    BOOST_CHECK_MESSAGE(compare_on_open(m.b.path(name), data).empty(),
                        "B reading " << name << " (" << data.size() << " bytes written and closed on A): "
                                     << compare_on_open(m.b.path(name), data));
    BOOST_CHECK_EQUAL(stat_path(m.b.path(name)).st_ino, stat_path(m.a.path(name)).st_ino);
  }
  m.unmount_and_fsck();
}

// B has read the file (its kernel caches the size, its pages, the entry);
// A rewrites it in place and closes; B's next open must see the new size and
// every new byte, at once, with no timeout to wait for.
BOOST_AUTO_TEST_CASE(rewrite_on_a_seen_by_next_open_on_b) {
  TwoMounts m;
  const std::string name = "rewritten";
  const uint64_t seed = static_cast<uint64_t>(std::random_device{}());
  BOOST_TEST_MESSAGE("content seed " << seed);
  struct Step {
    const char* what;
    size_t size;
  };
  // Grow past the size B cached, shrink below it, grow across block borders.
  const std::vector<Step> steps = {{"initial", 3u << 20},
                                   {"grown", (5u << 20) + 123},
                                   {"shrunk", 4096},
                                   {"grown to 20 MiB", 20u << 20}};
  for (size_t i = 0; i < steps.size(); ++i) {
    const std::string data = random_bytes(seed + i, steps[i].size);
    write_file(m.a.path(name), data);   // O_TRUNC rewrite, close
    const std::string seen = compare_on_open(m.b.path(name), data);
    BOOST_CHECK_MESSAGE(seen.empty(), "step '" << steps[i].what << "' (" << data.size()
                                               << " bytes rewritten and closed on A): B's next open: " << seen);
  }

  // Same size, new bytes in the middle (pwrite, no O_TRUNC): B's cached pages
  // of the old content must not be served after its next open.
  {
    std::string data = random_bytes(seed + 100, 1u << 20);
    write_file(m.a.path(name), data);
    BOOST_REQUIRE_MESSAGE(compare_on_open(m.b.path(name), data).empty(), "B before the in-place overwrite");
    const std::string patch = random_bytes(seed + 101, 10000);
    int fd = open_or_throw(m.a.path(name), O_WRONLY);
    pwrite_all(fd, patch.data(), patch.size(), 300000, "A: " + name);
    close_or_throw(fd, "A: " + name);
    data.replace(300000, patch.size(), patch);
    const std::string seen = compare_on_open(m.b.path(name), data);
    BOOST_CHECK_MESSAGE(seen.empty(), "in-place overwrite of 10000 bytes at 300000 on A: B's next open: " << seen);
  }

  // fsync instead of close: A keeps its descriptor open.
  {
    const std::string data = random_bytes(seed + 200, (6u << 20) + 5);
    int fd = open_or_throw(m.a.path(name), O_WRONLY | O_TRUNC);
    pwrite_all(fd, data.data(), data.size(), 0, "A: " + name);
    BOOST_REQUIRE_EQUAL(err_of(::fsync(fd)), 0);
    const std::string seen = compare_on_open(m.b.path(name), data);
    BOOST_CHECK_MESSAGE(seen.empty(), "rewritten and fsynced (still open) on A: B's next open: " << seen);
    close_or_throw(fd, "A: " + name);
  }
  m.unmount_and_fsck();
}

// B holds the file open across A's rewrite; B closes and reopens: the new
// content, whatever B's daemon still had for its open inode.
BOOST_AUTO_TEST_CASE(b_open_during_rewrite_sees_new_content_after_reopen) {
  TwoMounts m;
  const std::string name = "held";
  const uint64_t seed = static_cast<uint64_t>(std::random_device{}());
  BOOST_TEST_MESSAGE("content seed " << seed);
  const std::string old_data = random_bytes(seed, (2u << 20) + 77);
  write_file(m.a.path(name), old_data);

  int held = open_or_throw(m.b.path(name), O_RDONLY);
  BOOST_REQUIRE_MESSAGE(read_fd_to_end(held, "B: " + name) == old_data, "B's first read");

  const std::string new_data = random_bytes(seed + 1, (9u << 20) + 3);
  write_file(m.a.path(name), new_data);
  close_or_throw(held, "B: " + name);
  std::string seen = compare_on_open(m.b.path(name), new_data);
  BOOST_CHECK_MESSAGE(seen.empty(), "B reopened after A's rewrite (B had it open meanwhile): " << seen);

  // Again while another descriptor of B stays open the whole time, so B's
  // daemon keeps its open inode (and what it cached for it) alive.
  int keeper = open_or_throw(m.b.path(name), O_RDONLY);
  BOOST_REQUIRE_MESSAGE(read_fd_to_end(keeper, "B: " + name) == new_data, "B's keeper read");
  const std::string third = random_bytes(seed + 2, (1u << 20) + 9);
  write_file(m.a.path(name), third);
  seen = compare_on_open(m.b.path(name), third);
  BOOST_CHECK_MESSAGE(seen.empty(), "B opened again while another B descriptor stayed open across A's rewrite: "
                                        << seen);
  close_or_throw(keeper, "B: " + name);
  m.unmount_and_fsck();
}

// B only looked at the file (stat, as `ls -l` does): its kernel caches the
// size for --attr-timeout. A grows the file and closes; B's next open must
// read all of it, not stop at the size B's kernel remembered.
BOOST_AUTO_TEST_CASE(size_cached_by_stat_on_b_refreshed_by_next_open) {
  TwoMounts m;   // default --attr-timeout 1 s: A's small rewrite fits well inside it
  const uint64_t seed = static_cast<uint64_t>(std::random_device{}());
  BOOST_TEST_MESSAGE("content seed " << seed);
  const std::vector<size_t> sizes = {100007, (4u << 20) + 1};
  for (size_t i = 0; i < sizes.size(); ++i) {
    const std::string name = "statted" + std::to_string(i);
    write_file(m.a.path(name), "x\n");
    BOOST_REQUIRE_EQUAL(stat_path(m.b.path(name)).st_size, 2);   // B caches size 2
    const auto looked = Clock::now();
    const std::string data = random_bytes(seed + i, sizes[i]);
    write_file(m.a.path(name), data);
    const double gap = seconds_since(looked);
    const std::string seen = compare_on_open(m.b.path(name), data);
    BOOST_CHECK_MESSAGE(seen.empty(), "B stat'ed " << name << " (2 bytes), A rewrote it to " << data.size()
                                                   << " bytes and closed " << gap << " s later; B's next open: "
                                                   << seen);
    if (gap > 0.8) BOOST_TEST_MESSAGE("note: A's rewrite took " << gap << " s, close to the 1 s attr timeout");
  }
  m.unmount_and_fsck();
}

// ---- 2. the same names created through both mounts at once ------------------------

BOOST_AUTO_TEST_CASE(concurrent_creates_of_the_same_names) {
  TwoMounts m;
  constexpr int kNames = 500;
  for (const char* d : {"files", "dirs", "shared"}) BOOST_REQUIRE_EQUAL(::mkdir(m.a.path(d).c_str(), 0755), 0);
  auto name_of = [](int i) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "n%03d", i);
    return std::string(buf);
  };
  auto tag = [](const char* who, int i) { return std::string(who) + ":" + std::to_string(i); };

  // Per name and mount: 0 if that mount's call succeeded, else its errno.
  std::vector<int> file_a(kNames), file_b(kNames), dir_a(kNames), dir_b(kNames);
  // O_CREAT|O_EXCL: the winner writes its tag into the file it made.
  auto create_files = [&](const MountFixture& mnt, const char* who, std::vector<int>& out) {
    for (int i = 0; i < kNames; ++i) {
      const std::string p = mnt.path("files/" + name_of(i));
      int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      out[i] = fd >= 0 ? 0 : errno;
      if (fd < 0) continue;
      const std::string t = tag(who, i);
      pwrite_all(fd, t.data(), t.size(), 0, p);
      close_or_throw(fd, p);
    }
  };
  auto make_dirs = [&](const MountFixture& mnt, std::vector<int>& out) {
    for (int i = 0; i < kNames; ++i) out[i] = err_of(::mkdir(mnt.path("dirs/" + name_of(i)).c_str(), 0755));
  };
  const auto t0 = Clock::now();
  race([&] { create_files(m.a, "A", file_a); }, [&] { create_files(m.b, "B", file_b); });
  const double files_s = seconds_since(t0);
  const auto t1 = Clock::now();
  race([&] { make_dirs(m.a, dir_a); }, [&] { make_dirs(m.b, dir_b); });
  const double dirs_s = seconds_since(t1);

  int file_wins_a = 0, dir_wins_a = 0, bad = 0;
  for (int i = 0; i < kNames && bad < 20; ++i) {
    const bool files_ok = (file_a[i] == 0 && file_b[i] == EEXIST) || (file_a[i] == EEXIST && file_b[i] == 0);
    const bool dirs_ok = (dir_a[i] == 0 && dir_b[i] == EEXIST) || (dir_a[i] == EEXIST && dir_b[i] == 0);
    if (!files_ok || !dirs_ok) ++bad;
    BOOST_CHECK_MESSAGE(files_ok, "open(O_CREAT|O_EXCL) of files/" << name_of(i) << ": A got "
                                      << errno_name(file_a[i]) << ", B got " << errno_name(file_b[i])
                                      << " (expected exactly one success and one EEXIST)");
    BOOST_CHECK_MESSAGE(dirs_ok, "mkdir of dirs/" << name_of(i) << ": A got " << errno_name(dir_a[i])
                                                  << ", B got " << errno_name(dir_b[i])
                                                  << " (expected exactly one success and one EEXIST)");
    file_wins_a += file_a[i] == 0;
    dir_wins_a += dir_a[i] == 0;
  }
  BOOST_TEST_MESSAGE(kNames << " O_EXCL creates per mount in " << files_s << " s (A won " << file_wins_a << "), "
                            << kNames << " mkdirs per mount in " << dirs_s << " s (A won " << dir_wins_a << ")");

  // O_CREAT without O_EXCL: both opens succeed, on one and the same inode.
  constexpr int kShared = 200;
  std::vector<int64_t> ino_a(kShared), ino_b(kShared);
  auto open_shared = [&](const MountFixture& mnt, std::vector<int64_t>& out) {
    for (int i = 0; i < kShared; ++i) {
      const std::string p = mnt.path("shared/" + name_of(i));
      int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
      if (fd < 0) {
        out[i] = -errno;
        continue;
      }
      struct stat st;
      out[i] = ::fstat(fd, &st) == 0 ? static_cast<int64_t>(st.st_ino) : -errno;
      ::close(fd);
    }
  };
  race([&] { open_shared(m.a, ino_a); }, [&] { open_shared(m.b, ino_b); });
  for (int i = 0, shown = 0; i < kShared && shown < 20; ++i) {
    const bool ok = ino_a[i] > 0 && ino_a[i] == ino_b[i];
    shown += !ok;
    BOOST_CHECK_MESSAGE(ok, "open(O_CREAT) of shared/" << name_of(i) << " from both mounts: A "
                                << (ino_a[i] > 0 ? "ino " + std::to_string(ino_a[i]) : errno_name(static_cast<int>(-ino_a[i])))
                                << ", B "
                                << (ino_b[i] > 0 ? "ino " + std::to_string(ino_b[i]) : errno_name(static_cast<int>(-ino_b[i])))
                                << " (expected both to open the same inode)");
  }

  // Both mounts list every name exactly once, after B's and A's entry caches
  // (1 s) have expired; each file holds its creator's tag on both mounts.
  std::this_thread::sleep_for(std::chrono::milliseconds(1300));
  std::set<std::string> expected, expected_shared;
  for (int i = 0; i < kNames; ++i) expected.insert(name_of(i));
  for (int i = 0; i < kShared; ++i) expected_shared.insert(name_of(i));
  for (const MountFixture* mnt : {&m.a, &m.b}) {
    const char* side = mnt == &m.a ? "A" : "B";
    for (const char* d : {"files", "dirs"}) {
      std::vector<std::string> dupes;
      const auto names = list_dir(mnt->path(d), &dupes);
      BOOST_CHECK_MESSAGE(dupes.empty(), side << " lists " << d << "/ with duplicates: " << dupes.size());
      BOOST_CHECK_MESSAGE(names == expected, side << " lists " << names.size() << " names in " << d << "/, expected "
                                                  << kNames);
    }
    BOOST_CHECK_MESSAGE(list_dir(mnt->path("shared")) == expected_shared, side << " lists shared/ wrongly");
    int wrong = 0;
    for (int i = 0; i < kNames && wrong < 10; ++i) {
      const std::string f = mnt->path("files/" + name_of(i)), d = mnt->path("dirs/" + name_of(i));
      const std::string want = tag(file_a[i] == 0 ? "A" : "B", i);
      std::string got;
      try {
        got = read_file(f);
      } catch (const std::exception& e) {
        got = e.what();
      }
      struct stat st;
      const bool dir_ok = ::lstat(d.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_nlink == 2;
      wrong += got != want || !dir_ok;
      BOOST_CHECK_MESSAGE(got == want, side << " reads files/" << name_of(i) << " as '" << got << "', expected '"
                                            << want << "' (its creator's tag)");
      BOOST_CHECK_MESSAGE(dir_ok, side << ": dirs/" << name_of(i) << " is not an empty directory");
    }
  }
  BOOST_CHECK_EQUAL(stat_path(m.b.path("dirs")).st_nlink, 2u + kNames);
  m.unmount_and_fsck();
}

// ---- 3. namespace changes on A seen on B after the cache timeouts ------------------

namespace {

// Builds a small tree on A, lets B look at all of it (and at two names that
// do not exist yet, so B caches negative entries too), changes it on A, and
// polls B until it shows the new state. Fails if that takes longer than
// `limit_s` after the last change on A. Returns the slowest latency seen.
double namespace_changes_reach_b(TwoMounts& m, double limit_s) {
  const std::string d = "tree";
  BOOST_REQUIRE_EQUAL(::mkdir(m.a.path(d).c_str(), 0755), 0);
  write_file(m.a.path(d + "/f1"), "one");
  write_file(m.a.path(d + "/f2"), "two");
  write_file(m.a.path(d + "/victim"), "victim content");
  write_file(m.a.path(d + "/target"), "old target");
  BOOST_REQUIRE_EQUAL(::mkdir(m.a.path(d + "/s").c_str(), 0755), 0);
  BOOST_REQUIRE_EQUAL(::mkdir(m.a.path(d + "/s2").c_str(), 0755), 0);
  write_file(m.a.path(d + "/s2/inner"), "inner");
  const ino_t f1 = stat_path(m.a.path(d + "/f1")).st_ino;
  const ino_t victim = stat_path(m.a.path(d + "/victim")).st_ino;
  const ino_t s2 = stat_path(m.a.path(d + "/s2")).st_ino;

  // B looks at everything: positive entries, attributes and pages cached,
  // and negative entries for the names A is about to create.
  const std::set<std::string> before = {"f1", "f2", "victim", "target", "s", "s2"};
  BOOST_REQUIRE_MESSAGE(list_dir(m.b.path(d)) == before, "B lists " << describe(list_dir(m.b.path(d))));
  for (const auto& n : before) stat_path(m.b.path(d + "/" + n));
  BOOST_REQUIRE_EQUAL(read_file(m.b.path(d + "/target")), "old target");
  BOOST_REQUIRE_EQUAL(read_file(m.b.path(d + "/s2/inner")), "inner");
  for (const char* n : {"/g1", "/t"}) BOOST_REQUIRE_EQUAL(gone(m.b.path(d + n)), "");

  // The changes, on A.
  BOOST_REQUIRE_EQUAL(err_of(::rename(m.a.path(d + "/f1").c_str(), m.a.path(d + "/g1").c_str())), 0);
  BOOST_REQUIRE_EQUAL(err_of(::unlink(m.a.path(d + "/f2").c_str())), 0);
  BOOST_REQUIRE_EQUAL(err_of(::rename(m.a.path(d + "/victim").c_str(), m.a.path(d + "/target").c_str())), 0);
  BOOST_REQUIRE_EQUAL(err_of(::rmdir(m.a.path(d + "/s").c_str())), 0);
  BOOST_REQUIRE_EQUAL(err_of(::mkdir(m.a.path(d + "/t").c_str(), 0755)), 0);
  BOOST_REQUIRE_EQUAL(err_of(::rename(m.a.path(d + "/s2").c_str(), m.a.path(d + "/s3").c_str())), 0);
  const auto changed = Clock::now();
  const ino_t t = stat_path(m.a.path(d + "/t")).st_ino;
  const std::set<std::string> after = {"g1", "target", "t", "s3"};
  BOOST_REQUIRE_MESSAGE(list_dir(m.a.path(d)) == after, "A lists " << describe(list_dir(m.a.path(d))));

  const std::string b = m.b.path(d);
  struct Expect {
    std::string what;
    std::function<std::string()> observe;
  };
  const std::vector<Expect> expectations = {
      {"rename f1 -> g1 (new name)", [&] { return is_file(b + "/g1", f1, "one"); }},
      {"rename f1 -> g1 (old name)", [&] { return gone(b + "/f1"); }},
      {"unlink f2", [&] { return gone(b + "/f2"); }},
      {"rename victim over target (target)", [&] { return is_file(b + "/target", victim, "victim content"); }},
      {"rename victim over target (victim)", [&] { return gone(b + "/victim"); }},
      {"rmdir s", [&] { return gone(b + "/s"); }},
      {"mkdir t", [&] { return is_dir(b + "/t", t); }},
      {"rename dir s2 -> s3 (new name)", [&] { return is_dir(b + "/s3", s2); }},
      {"rename dir s2 -> s3 (content)", [&] { return compare_on_open(b + "/s3/inner", "inner"); }},
      {"rename dir s2 -> s3 (old name)", [&] { return gone(b + "/s2"); }},
      {"readdir", [&] {
         auto names = list_dir(b);
         return names == after ? "" : "lists " + describe(names);
       }},
  };
  double slowest = 0;
  for (const auto& e : expectations) {
    const double took = wait_visible(e.what, e.observe, changed, limit_s);
    BOOST_TEST_MESSAGE(e.what << ": visible on B after " << took << " s");
    slowest = std::max(slowest, took);
  }
  // And the reverse direction: B's own change is seen by A.
  BOOST_REQUIRE_EQUAL(err_of(::unlink(m.b.path(d + "/g1").c_str())), 0);
  const auto b_changed = Clock::now();
  slowest = std::max(slowest, wait_visible("unlink g1 on B, seen on A", [&] { return gone(m.a.path(d + "/g1")); },
                                           b_changed, limit_s));
  return slowest;
}

}  // namespace

BOOST_AUTO_TEST_CASE(namespace_changes_visible_after_short_timeouts) {
  TwoMounts m({"--attr-timeout", "0.2", "--entry-timeout", "0.2"});
  // 0.2 s of kernel caching plus scheduling slack on a busy 2-core machine.
  const double slowest = namespace_changes_reach_b(m, 0.6);
  BOOST_TEST_MESSAGE("with 0.2 s timeouts, the slowest change reached B after " << slowest << " s");
  m.unmount_and_fsck();
}

BOOST_AUTO_TEST_CASE(namespace_changes_visible_within_default_timeouts) {
  TwoMounts m;   // --attr-timeout / --entry-timeout default: 1 s
  const double slowest = namespace_changes_reach_b(m, 1.5);
  BOOST_TEST_MESSAGE("with the default 1 s timeouts, the slowest change reached B after " << slowest << " s");
  m.unmount_and_fsck();
}

namespace {
void drop_dentries() {   // every unused dentry goes: the next lookups reach the daemon
  ::sync();
  int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  BOOST_REQUIRE_MESSAGE(fd >= 0, "open drop_caches: " << errno_name(errno));
  BOOST_REQUIRE_EQUAL(::write(fd, "2", 1), 1);
  ::close(fd);
}
}  // namespace

// A mount answers lookups of names that do not exist from a listing of the
// directory it read after a few misses (vfs/dir_names_cache.hpp), kept for
// the entry timeout: here 60 s, so the listing outlives everything below.
// Every name A adds afterwards, in every way, and a name B made that A
// learns of from EEXIST, must be found by A once A's kernel has forgotten
// its dentries (drop_caches makes it ask the daemon again); removed names
// must be gone.
BOOST_AUTO_TEST_CASE(names_made_through_a_are_found_after_its_listing_was_read) {
  TwoMounts m({"--entry-timeout", "60"});
  const std::string d = m.a.path("listed"), other = m.a.path("elsewhere");
  BOOST_REQUIRE_EQUAL(::mkdir(d.c_str(), 0755), 0);
  BOOST_REQUIRE_EQUAL(::mkdir(other.c_str(), 0755), 0);
  write_file(d + "/before", "old");
  write_file(other + "/moving", "moved");
  // Misses: the daemon reads the listing of d in the background.
  for (int i = 0; i < 3; ++i) BOOST_REQUIRE_EQUAL(gone(d + "/missing" + std::to_string(i)), "");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // B makes a name A's listing does not have; A learns of it from EEXIST.
  BOOST_REQUIRE_EQUAL(::mkdir(m.b.path("listed/from-b").c_str(), 0755), 0);
  BOOST_REQUIRE_EQUAL(err_of(::mkdir((d + "/from-b").c_str(), 0755)), EEXIST);

  std::set<std::string> want = {"before", "from-b"};
  for (int i = 0; i < 50; ++i) {
    const std::string n = "file" + std::to_string(i);
    int fd = ::open((d + "/" + n).c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    BOOST_REQUIRE_MESSAGE(fd >= 0, "create " << n << ": " << errno_name(errno));
    ::close(fd);
    want.insert(n);
  }
  BOOST_REQUIRE_EQUAL(err_of(::mkdir((d + "/dir").c_str(), 0755)), 0);
  BOOST_REQUIRE_EQUAL(err_of(::symlink("before", (d + "/sym").c_str())), 0);
  BOOST_REQUIRE_EQUAL(err_of(::mkfifo((d + "/fifo").c_str(), 0644)), 0);
  BOOST_REQUIRE_EQUAL(err_of(::link((d + "/before").c_str(), (d + "/hard").c_str())), 0);
  BOOST_REQUIRE_EQUAL(err_of(::rename((other + "/moving").c_str(), (d + "/moved").c_str())), 0);
  BOOST_REQUIRE_EQUAL(err_of(::rename((d + "/file1").c_str(), (d + "/file1-renamed").c_str())), 0);
  BOOST_REQUIRE_EQUAL(err_of(::unlink((d + "/file2").c_str())), 0);
  BOOST_REQUIRE_EQUAL(err_of(::rmdir((d + "/from-b").c_str())), 0);
  BOOST_REQUIRE_EQUAL(err_of(::mkdir((d + "/from-b").c_str(), 0700)), 0);   // made again, here
  for (const char* n : {"dir", "sym", "fifo", "hard", "moved", "file1-renamed"}) want.insert(n);
  for (const char* n : {"file1", "file2"}) want.erase(n);

  drop_dentries();   // each stat below is a LOOKUP to the daemon
  int wrong = 0;
  for (const auto& n : want) {
    struct stat st;
    const bool found = ::lstat((d + "/" + n).c_str(), &st) == 0;
    wrong += !found;
    BOOST_CHECK_MESSAGE(found, "A does not find " << n << ", which it made: " << errno_name(errno));
  }
  for (const char* n : {"file1", "file2", "missing0"}) BOOST_CHECK_EQUAL(gone(d + "/" + n), "");
  BOOST_CHECK_EQUAL(stat_path(d + "/moved").st_size, 5);
  BOOST_CHECK_EQUAL(stat_path(d + "/from-b").st_mode & 07777, 0700u);
  BOOST_CHECK_MESSAGE(wrong == 0, wrong << " of " << want.size() << " names missing");
  BOOST_CHECK_MESSAGE(list_dir(d) == want, "A lists " << describe(list_dir(d)));
  m.unmount_and_fsck();
}

// Lookups in name order are answered from lookup windows (vfs/
// lookup_windows.hpp), kept here up to the 60 s timeouts. After A changes
// files a window covers, A's next lookups must show every change at once:
// a window is not used once a write of this mount has completed.
BOOST_AUTO_TEST_CASE(lookups_in_name_order_on_a_show_a_changes_at_once) {
  TwoMounts m({"--entry-timeout", "60", "--attr-timeout", "60"});
  const std::string d = m.a.path("ordered");
  BOOST_REQUIRE_EQUAL(::mkdir(d.c_str(), 0755), 0);
  auto name = [](int i) {
    char b[16];
    std::snprintf(b, sizeof b, "f%03d", i);
    return std::string(b);
  };
  for (int i = 100; i < 200; ++i) write_file(m.b.path("ordered/" + name(i)), "x");   // made on B
  // In name order: the last window A reads covers f1xx up to the end.
  for (int i = 100; i < 200; ++i) stat_path(d + "/" + name(i));

  BOOST_REQUIRE_EQUAL(err_of(::chmod((d + "/" + name(190)).c_str(), 0600)), 0);
  write_file(d + "/" + name(191), "hello");
  BOOST_REQUIRE_EQUAL(err_of(::unlink((d + "/" + name(192)).c_str())), 0);
  BOOST_REQUIRE_EQUAL(err_of(::rename((d + "/" + name(193)).c_str(), (d + "/" + name(193) + "-renamed").c_str())), 0);
  BOOST_REQUIRE_EQUAL(err_of(::link((d + "/" + name(194)).c_str(), (d + "/" + name(195) + "-linked").c_str())), 0);
  drop_dentries();
  BOOST_CHECK_EQUAL(stat_path(d + "/" + name(190)).st_mode & 07777, 0600u);
  BOOST_CHECK_EQUAL(stat_path(d + "/" + name(191)).st_size, 5);
  BOOST_CHECK_EQUAL(gone(d + "/" + name(192)), "");
  BOOST_CHECK_EQUAL(gone(d + "/" + name(193)), "");
  BOOST_CHECK_EQUAL(err_of(::access((d + "/" + name(193) + "-renamed").c_str(), F_OK)), 0);
  BOOST_CHECK_EQUAL(stat_path(d + "/" + name(194)).st_nlink, 2u);
  BOOST_CHECK_EQUAL(err_of(::access((d + "/" + name(195) + "-linked").c_str(), F_OK)), 0);
  BOOST_CHECK_EQUAL(stat_path(d + "/" + name(199)).st_size, 1);
  m.unmount_and_fsck();
}

// rm -r on A: its unlinks are applied to A's windows rather than dropping
// them (LookupWindows::removed). Inside the window A holds, an unlinked name
// must read as gone and the other link of an unlinked inode must show its
// new nlink; a whole rm -r in name order must leave exactly the rest.
BOOST_AUTO_TEST_CASE(unlinks_in_name_order_on_a_are_applied_to_a_windows) {
  TwoMounts m({"--entry-timeout", "60", "--attr-timeout", "60"});
  BOOST_REQUIRE_EQUAL(::mkdir(m.b.path("rm").c_str(), 0755), 0);
  auto name = [](int i) { return "f" + std::to_string(i); };
  for (int i = 100; i < 200; ++i) write_file(m.b.path("rm/" + name(i)), "x");   // made on B
  BOOST_REQUIRE_EQUAL(err_of(::link(m.b.path("rm/f108").c_str(), m.b.path("rm/f108-link").c_str())), 0);
  const std::string d = m.a.path("rm");
  const struct stat before = stat_path(d);
  // In name order: the third lookup reads a window of 64 entries from f103.
  for (int i = 100; i < 106; ++i) stat_path(d + "/" + name(i));
  BOOST_REQUIRE_EQUAL(err_of(::unlink((d + "/f105").c_str())), 0);
  BOOST_REQUIRE_EQUAL(err_of(::unlink((d + "/f108").c_str())), 0);
  drop_dentries();   // the lookups below go to the daemon, which answers from that window
  BOOST_CHECK_EQUAL(stat_path(d + "/f104").st_size, 1);
  BOOST_CHECK_EQUAL(gone(d + "/f105"), "");
  BOOST_CHECK_EQUAL(stat_path(d + "/f106").st_size, 1);
  BOOST_CHECK_EQUAL(gone(d + "/f108"), "");
  BOOST_CHECK_EQUAL(stat_path(d + "/f108-link").st_nlink, 1u);
  // The rest like rm -r: look up, unlink, in name order.
  for (int i = 106; i < 200; ++i) {
    if (i == 108) continue;
    stat_path(d + "/" + name(i));
    BOOST_REQUIRE_EQUAL(err_of(::unlink((d + "/" + name(i)).c_str())), 0);
  }
  drop_dentries();
  for (int i = 100; i < 105; ++i) BOOST_CHECK_EQUAL(stat_path(d + "/" + name(i)).st_size, 1);
  for (int i = 105; i < 200; ++i) BOOST_CHECK_EQUAL(gone(d + "/" + name(i)), "");
  BOOST_CHECK_EQUAL(stat_path(d + "/f108-link").st_nlink, 1u);
  const struct stat after = stat_path(d);
  BOOST_CHECK(after.st_mtim.tv_sec > before.st_mtim.tv_sec ||
              (after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mtim.tv_nsec > before.st_mtim.tv_nsec));
  BOOST_CHECK_EQUAL(list_dir(d).size(), 6u);   // f100..f104 and f108-link
  m.unmount_and_fsck();
}

// The other half: B's windows must not hide A's changes past B's timeouts.
BOOST_AUTO_TEST_CASE(lookups_in_name_order_on_b_see_a_changes_within_the_timeouts) {
  TwoMounts m({"--attr-timeout", "0.2", "--entry-timeout", "0.2"});
  BOOST_REQUIRE_EQUAL(::mkdir(m.a.path("ordered").c_str(), 0755), 0);
  auto name = [](int i) { return "f" + std::to_string(i); };
  for (int i = 100; i < 200; ++i) write_file(m.a.path("ordered/" + name(i)), "x");
  const std::string b = m.b.path("ordered");
  for (int i = 100; i < 200; ++i) stat_path(b + "/" + name(i));   // in name order: windows on B
  BOOST_REQUIRE_EQUAL(err_of(::chmod(m.a.path("ordered/f190").c_str(), 0600)), 0);
  BOOST_REQUIRE_EQUAL(err_of(::unlink(m.a.path("ordered/f192").c_str())), 0);
  write_file(m.a.path("ordered/f192x"), "new");
  const auto changed = Clock::now();
  wait_visible("chmod f190", [&] {
    return (stat_path(b + "/f190").st_mode & 07777) == 0600 ? "" : std::string("old mode");
  }, changed, 0.6);
  wait_visible("unlink f192", [&] { return gone(b + "/f192"); }, changed, 0.6);
  wait_visible("create f192x", [&] {
    struct stat st;
    return ::lstat((b + "/f192x").c_str(), &st) == 0 ? "" : "lstat: " + errno_name(errno);
  }, changed, 0.6);
  m.unmount_and_fsck();
}

// ---- 4. O_APPEND from both mounts ----------------------------------------------------
// Each append lands at the end of the file as of its commit (commit_append),
// whatever size the appending kernel had cached: no record overwrites another.

namespace {

std::string append_record(const std::string& who, int i) {
  // 30 to ~3,000 bytes: some records straddle 4 KiB pages and commits.
  std::string body = who + " record " + std::to_string(i) + " ";
  body.append(static_cast<size_t>((i * 7919) % 2971), static_cast<char>('a' + i % 26));
  return body + "\n";
}

// Every line is a whole record of A or B, each writer's records appear once
// and in order; "" if so.
std::string check_appended(const std::string& content, int per_writer) {
  std::map<std::string, int> next{{"A", 0}, {"B", 0}};
  size_t pos = 0, line = 0;
  while (pos < content.size()) {
    size_t nl = content.find('\n', pos);
    if (nl == std::string::npos) return "the file ends inside a record at byte " + std::to_string(pos);
    std::string rec = content.substr(pos, nl + 1 - pos);
    ++line;
    std::string who = rec.substr(0, rec.find(' '));
    if (!next.count(who)) return "line " + std::to_string(line) + " at byte " + std::to_string(pos) + " is torn";
    if (rec != append_record(who, next[who]))
      return "line " + std::to_string(line) + " at byte " + std::to_string(pos) + " is not " + who + "'s record " +
             std::to_string(next[who]) + " (lost, torn or reordered)";
    ++next[who];
    pos = nl + 1;
  }
  for (auto& [who, n] : next)
    if (n != per_writer) return who + " has " + std::to_string(n) + " records, expected " + std::to_string(per_writer);
  return "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(both_mounts_append_to_one_file_and_every_record_survives) {
  TwoMounts m;
  const int kRecords = 1000;
  const std::string name = "shared.log";
  std::string err_a, err_b;
  auto appender = [&](MountFixture& fx, const std::string& who, std::string& err) {
    try {
      // O_CREAT on both: one creates the file, the other opens it.
      int fd = open_or_throw(fx.path(name), O_WRONLY | O_APPEND | O_CREAT);
      for (int i = 0; i < kRecords; ++i) {
        std::string r = append_record(who, i);
        ssize_t n = ::write(fd, r.data(), r.size());
        if (n != static_cast<ssize_t>(r.size()))
          throw std::runtime_error(who + ": append " + std::to_string(i) + " returned " + std::to_string(n) +
                                   " (" + errno_name(errno) + ")");
        if (i % 250 == 249 && ::fsync(fd) != 0) throw std::runtime_error(who + ": fsync: " + errno_name(errno));
      }
      close_or_throw(fd, who + ": close");
    } catch (const std::exception& e) {
      err = e.what();
    }
  };
  race([&] { appender(m.a, "A", err_a); }, [&] { appender(m.b, "B", err_b); });
  BOOST_REQUIRE_MESSAGE(err_a.empty(), err_a);
  BOOST_REQUIRE_MESSAGE(err_b.empty(), err_b);
  size_t expect = 0;
  for (int i = 0; i < kRecords; ++i) expect += append_record("A", i).size() + append_record("B", i).size();
  for (MountFixture* fx : {&m.a, &m.b}) {
    int fd = open_or_throw(fx->path(name), O_RDONLY);
    std::string content = read_fd_to_end(fd, "read back");
    close_or_throw(fd, "close after read");
    BOOST_TEST(content.size() == expect, fx->mountpoint() << ": " << content.size() << " bytes, expected " << expect);
    std::string bad = check_appended(content, kRecords);
    BOOST_TEST(bad.empty(), fx->mountpoint() << ": " << bad);
  }
  m.unmount_and_fsck();
}

// ---- 5. A follower on B (tail -f) sees what A appends ---------------------------------
// B keeps the file open and reads on at its end; each time A appends and
// closes, B's next read after the attribute timeout returns exactly the new
// line. (It once returned zeros: B's handle kept its old slice lists while
// taking the new size.)
BOOST_AUTO_TEST_CASE(follower_on_b_reads_what_a_appends) {
  TwoMounts m({"--attr-timeout", "0.2", "--entry-timeout", "0.2"});
  write_file(m.a.path("log"), "line 0\n");
  int r = open_or_throw(m.b.path("log"), O_RDONLY);
  std::string seen(64, '\0');
  BOOST_REQUIRE_EQUAL(::read(r, &seen[0], seen.size()), 7);   // "line 0\n"; the offset is now 7
  for (int i = 1; i <= 3; ++i) {
    const std::string line = "line " + std::to_string(i) + "\n";
    int w = open_or_throw(m.a.path("log"), O_WRONLY | O_APPEND);
    BOOST_REQUIRE(::write(w, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
    close_or_throw(w, "close on A");
    std::this_thread::sleep_for(std::chrono::milliseconds(600));   // past B's attribute timeout
    std::string got(64, '\0');
    ssize_t n = ::read(r, &got[0], got.size());   // on from where B stopped, like tail -f
    BOOST_REQUIRE_MESSAGE(n >= 0, "read on B: " << errno_name(errno));
    got.resize(static_cast<size_t>(n));
    BOOST_TEST(got == line, "after append " << i << " B read '" << got << "' (" << got.size() << " bytes)");
  }
  close_or_throw(r, "close on B");
  m.unmount_and_fsck();
}
