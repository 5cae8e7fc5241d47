// A mounted volume whose metadata is in PostgreSQL while that server goes
// away (issue 4: "Killing the PostgreSQL server for a few seconds during a
// write: the daemon reconnects, and the data written before and after is
// intact once the server is back"):
//   - SIGKILL of the whole cluster during a 200 MiB write, restarted 4 s later;
//   - a graceful stop (pg_ctl stop -m fast) for 4 s during a write and a
//     stream of creates, small writes and renames;
//   - an outage longer than the daemon's reconnect window (EIO in bounded
//     time, and the mount works again afterwards);
//   - COMMITs whose answer is lost on the way (a relay cuts the connection
//     right after the server committed, or right before it could): the
//     daemon must find out what happened instead of failing or losing data.
// Every call the test makes either succeeds or is reported with its name and
// errno; after a remount with an empty cache every byte is compared and
// `fsck --check-data` must be clean.
//
// Writers and metadata streams run in forked child processes: restarting the
// server forks pg_ctl, and fork() in a process with a thread blocked in a
// FUSE request waits for that request (tests/README.md).
#define BOOST_TEST_MODULE pg_outage_mount
#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "meta/meta.hpp"
#include "tests/support/fs_util.hpp"
#include "tests/support/mount_fixture.hpp"
#include "tests/support/pg_proxy.hpp"
#include "tests/support/pg_server.hpp"
#include "tests/support/process.hpp"
#include "util/clock.hpp"

using namespace s3l::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t MiB = 1024 * 1024;
// meta/pg_conn.cpp: how long the daemon waits for a lost server (kReconnectWindow).
constexpr double kReconnectWindowS = 15;

// ---- one PostgreSQL server for the executable, a database per test ----------

PgServer* g_pg = nullptr;

struct PgFixture {
  PgFixture() { g_pg = new PgServer(); }
  ~PgFixture() {
    cleanup_everything();   // mounts first: their daemons talk to the server
    delete g_pg;
    g_pg = nullptr;
  }
};
BOOST_TEST_GLOBAL_FIXTURE(PgFixture);

PgServer& pg() { return *g_pg; }

std::string new_database() {
  static int n = 0;
  std::string db = "outage" + std::to_string(++n);
  pg().create_database(db);
  return db;
}

// MountFixture takes the metadata URL from S3L_TEST_META_URL (it also wins
// over an outer S3L_TEST_META_URL=postgres-auto: this test needs its own server).
std::unique_ptr<MountFixture> mount_volume(const std::string& meta_url, std::vector<std::string> mount_args = {}) {
  ::setenv("S3L_TEST_META_URL", meta_url.c_str(), 1);
  FixtureOptions fo;
  fo.mount_args.insert(fo.mount_args.end(), mount_args.begin(), mount_args.end());
  return std::make_unique<MountFixture>(fo);
}

int64_t mono_ns() {   // CLOCK_MONOTONIC: the same clock in the forked children
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
double secs(int64_t ns) { return static_cast<double>(ns) / 1e9; }

void cold_remount(MountFixture& m) {
  m.unmount();
  remove_tree(m.root() + "/cache");   // reads must come from the object store
  m.mount();
}

void expect_clean_fsck(MountFixture& m) {
  RunResult r = m.fsck({"--check-data"});
  BOOST_CHECK_MESSAGE(r.code() == 0, "fsck --check-data: " << r.describe());
}

// ---- forked children reporting through shared memory -------------------------

template <class T>
T* shared_new() {
  void* p = ::mmap(nullptr, sizeof(T), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error(std::string("mmap: ") + std::strerror(errno));
  return new (p) T();
}

template <class T>
void shared_delete(T* p) {
  p->~T();
  ::munmap(p, sizeof(T));
}

template <class T>
using SharedPtr = std::unique_ptr<T, void (*)(T*)>;
template <class T>
SharedPtr<T> make_shared_mem() {
  return SharedPtr<T>(shared_new<T>(), &shared_delete<T>);
}

// A function run in a forked child. The destructor kills and reaps it if it
// is still running (a child stuck on the mount is released by the fixture's
// teardown, which aborts the FUSE connection).
class Forked {
 public:
  template <class F>
  explicit Forked(F fn) {
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int code = 0;
      try {
        fn();
      } catch (...) {
        code = 3;
      }
      ::_exit(code);
    }
  }
  ~Forked() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      wait_for(10s);
    }
  }
  Forked(const Forked&) = delete;
  Forked& operator=(const Forked&) = delete;

  // True once the child has ended (within `d`).
  bool wait_for(std::chrono::milliseconds d) {
    const auto deadline = std::chrono::steady_clock::now() + d;
    while (!reaped_) {
      int st = 0;
      pid_t r = ::waitpid(pid_, &st, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD)) {
        reaped_ = true;
        status_ = st;
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }
  bool exited_ok() const { return reaped_ && WIFEXITED(status_) && WEXITSTATUS(status_) == 0; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

// The first failing call of a child: its name, errno and when.
struct Failure {
  std::atomic<int> err{0};
  std::atomic<uint64_t> offset{0};
  std::atomic<int64_t> at_ns{0};
  char call[48] = {};

  void set(const char* what, int e, uint64_t off = 0) {
    if (err.load() != 0) return;
    std::strncpy(call, what, sizeof call - 1);
    offset = off;
    at_ns = mono_ns();
    err = e ? e : EIO;
  }
  std::string describe() const {
    if (err.load() == 0) return "no failure";
    return std::string(call) + " failed with " + errno_name(err.load()) + " (" + std::strerror(err.load()) + ")";
  }
};

// A streaming writer: `size` bytes of pattern(seed) in 1 MiB pwrites, an
// fsync after `fsync_at` bytes, the final fsync and close.
struct WriterState {
  std::atomic<uint64_t> written{0};         // bytes pwrite accepted
  std::atomic<int> phase{0};                // 0 writing, 1 in the part-way fsync, 2 writing on, 3 final fsync, 4 done
  std::atomic<int64_t> start_ns{0}, fsync1_start_ns{0}, fsync1_end_ns{0}, end_ns{0};
  std::atomic<bool> done{false};
  // If set, the writer waits at `fsync_at` (up to 60 s) until `go` before its
  // part-way fsync: the test takes the server down meanwhile.
  std::atomic<bool> hold{false}, go{false};
  Failure failure;
};

void run_writer(WriterState& w, const std::string& path, uint64_t seed, uint64_t size, uint64_t fsync_at) {
  w.start_ns = mono_ns();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    w.failure.set("open(O_CREAT)", errno);
  } else {
    std::string buf(MiB, '\0');
    for (uint64_t off = 0; off < size && w.failure.err == 0; off += MiB) {
      if (off == fsync_at) {
        w.phase = 1;
        for (int i = 0; i < 6000 && w.hold && !w.go; ++i) ::usleep(10000);
        w.fsync1_start_ns = mono_ns();
        if (::fsync(fd) != 0) {
          w.failure.set("fsync (part-way)", errno, off);
          break;
        }
        w.fsync1_end_ns = mono_ns();
        w.phase = 2;
      }
      const size_t n = static_cast<size_t>(std::min<uint64_t>(MiB, size - off));
      fill_pattern(seed, off, buf.data(), n);
      ssize_t r = ::pwrite(fd, buf.data(), n, static_cast<off_t>(off));
      if (r < 0) w.failure.set("pwrite", errno, off);
      else if (static_cast<size_t>(r) != n) w.failure.set("pwrite (short)", EIO, off);
      else w.written += n;
    }
    if (w.failure.err == 0) {
      w.phase = 3;
      if (::fsync(fd) != 0) w.failure.set("fsync (final)", errno, size);
    }
    if (::close(fd) != 0) w.failure.set("close", errno, size);
  }
  w.end_ns = mono_ns();
  w.phase = 4;
  w.done = true;
}

// A stream of small metadata operations in one directory: create (O_EXCL),
// write a few hundred bytes, close (commits them), and every second file a
// rename. Each op's outcome is recorded.
struct OpRecord {
  std::atomic<int> state{0};   // 0 not run, 1 succeeded, 2 failed
  std::atomic<int64_t> start_ns{0}, end_ns{0};
  Failure failure;
};
constexpr int kMaxOps = 4000;
struct OpsState {
  std::atomic<bool> stop{false};
  std::atomic<int> count{0};
  OpRecord ops[kMaxOps];
};

std::string op_content(int i) { return pattern(1000 + i, 0, 100 + (i * 37) % 400); }
std::string op_name(int i, bool renamed) { return (renamed ? "r" : "f") + std::to_string(i); }
bool op_renames(int i) { return i % 2 == 0; }

void run_ops(OpsState& s, const std::string& dir) {
  for (int i = 0; i < kMaxOps && !s.stop; ++i) {
    OpRecord& r = s.ops[i];
    r.start_ns = mono_ns();
    const std::string f = dir + "/" + op_name(i, false);
    const std::string data = op_content(i);
    int fd = ::open(f.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
      r.failure.set("open(O_CREAT|O_EXCL)", errno);
    } else {
      ssize_t n = ::write(fd, data.data(), data.size());
      if (n != static_cast<ssize_t>(data.size())) r.failure.set(n < 0 ? "write" : "write (short)", n < 0 ? errno : EIO);
      if (::close(fd) != 0) r.failure.set("close", errno);
    }
    if (r.failure.err == 0 && op_renames(i) && ::rename(f.c_str(), (dir + "/" + op_name(i, true)).c_str()) != 0)
      r.failure.set("rename", errno);
    r.end_ns = mono_ns();
    r.state = r.failure.err == 0 ? 1 : 2;
    s.count = i + 1;
  }
}

template <class Pred>
bool wait_until(Pred p, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!p()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw std::runtime_error("opendir " + dir + ": " + errno_name(errno));
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  return out;
}

// After the remount: every op that succeeded is there, under its final name,
// with its content, exactly once; failed ones are only reported.
void check_ops(const OpsState& s, const std::string& dir, int* failures) {
  std::set<std::string> names;
  for (auto& n : list_dir(dir)) names.insert(n);
  *failures = 0;
  for (int i = 0; i < s.count; ++i) {
    const OpRecord& r = s.ops[i];
    const std::string plain = op_name(i, false), renamed = op_name(i, true);
    if (r.state != 1) {
      ++*failures;
      BOOST_TEST_MESSAGE("op " << i << " returned an error to its caller: " << r.failure.describe()
                               << " (f" << i << " " << (names.count(plain) ? "exists" : "absent") << ", r" << i << " "
                               << (names.count(renamed) ? "exists" : "absent") << ")");
      continue;
    }
    const std::string want = op_renames(i) ? renamed : plain, other = op_renames(i) ? plain : renamed;
    BOOST_CHECK_MESSAGE(names.count(want), "op " << i << " succeeded but " << want << " is missing after the remount");
    BOOST_CHECK_MESSAGE(!names.count(other), "op " << i << ": " << other << " exists besides " << want);
    if (names.count(want)) {
      const std::string got = read_file(dir + "/" + want);
      BOOST_CHECK_MESSAGE(got == op_content(i), "op " << i << ": " << want << " differs from what was written: "
                                                       << first_difference(got, op_content(i)));
    }
  }
  for (const auto& n : names) {
    const bool known = n.size() > 1 && (n[0] == 'f' || n[0] == 'r') && std::atoi(n.c_str() + 1) < s.count;
    BOOST_CHECK_MESSAGE(known, "unexpected entry " << n << " in " << dir);
  }
}

// A file whose write failed: what it shows is what was written there or a
// hole, never garbage.
std::string check_written_or_hole(const std::string& path, uint64_t seed, uint64_t max_size) {
  struct stat st = stat_path(path);
  if (static_cast<uint64_t>(st.st_size) > max_size)
    return "size " + std::to_string(st.st_size) + " exceeds what was written";
  const std::string data = read_file(path);
  if (data.size() != static_cast<uint64_t>(st.st_size)) return "read returned a different size than stat";
  const std::string want = pattern(seed, 0, data.size());
  for (uint64_t off = 0; off < data.size(); off += 4096) {
    const size_t n = std::min<uint64_t>(4096, data.size() - off);
    const bool same = data.compare(off, n, want, off, n) == 0;
    const bool zero = data.find_first_not_of('\0', off) >= off + n;
    if (!same && !zero) return "bytes at " + std::to_string(off) + " are neither the written data nor a hole";
  }
  return "";
}

}  // namespace

// ---- 1. SIGKILL during a 200 MiB write --------------------------------------

BOOST_AUTO_TEST_CASE(server_killed_during_a_large_write_and_back_4s_later) {
  // A buffer much smaller than the file: the writer has to wait for commits
  // (back-pressure) while the server is gone, instead of finishing in memory.
  auto m = mount_volume(pg().url_for(new_database()), {"--buffer-size", "32M"});
  write_pattern_file(m->path("before.bin"), 1, 8 * MiB);   // committed before the outage

  const uint64_t size = 200 * MiB, fsync_at = 96 * MiB;
  auto w = make_shared_mem<WriterState>();
  w->hold = true;
  const std::string path = m->path("big.bin");
  Forked child([&] { run_writer(*w, path, 2, size, fsync_at); });

  // Kill the cluster right after the writer's last write before its part-way
  // fsync: up to 32 MiB are still on their way (uploads, begin and commit
  // transactions), and the fsync then waits for them through the outage.
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return w->phase >= 1; }, 120s),
                        "the writer did not reach " << fsync_at / MiB << " MiB within 120 s: " << w->failure.describe());
  BOOST_REQUIRE_MESSAGE(!w->done, "the writer ended before the outage: " << w->failure.describe());
  const uint64_t at_kill = w->written;
  const int64_t t_kill = mono_ns();
  pg().kill_hard();
  const int64_t t_dead = mono_ns();
  w->go = true;
  std::this_thread::sleep_for(4s);
  pg().start();
  const int64_t t_up = mono_ns();

  BOOST_REQUIRE_MESSAGE(child.wait_for(180s), "the writer did not finish within 180 s after the restart");
  BOOST_TEST_MESSAGE("killed after " << at_kill / MiB << " MiB written (kill took " << secs(t_dead - t_kill)
                                     << " s); server down for " << secs(t_up - t_kill) << " s; part-way fsync took "
                                     << secs(w->fsync1_end_ns - w->fsync1_start_ns)
                                     << " s; the write took " << secs(w->end_ns - w->start_ns) << " s in all");
  BOOST_REQUIRE_MESSAGE(w->failure.err == 0, "the write did not complete: " << w->failure.describe() << " at offset "
                                                                            << w->failure.offset << "\ndaemon log:\n"
                                                                            << m->daemon_log());
  BOOST_CHECK(child.exited_ok());
  // The outage really hit the write: the part-way fsync, started while the
  // server was dead, returned only after it was back.
  BOOST_CHECK_MESSAGE(w->fsync1_start_ns > t_dead && w->fsync1_end_ns > t_up,
                      "the part-way fsync did not wait for the server");
  BOOST_CHECK_MESSAGE(m->daemon_log().find("connection lost") != std::string::npos,
                      "the daemon never noticed the lost connection:\n" << m->daemon_log());

  cold_remount(*m);
  BOOST_CHECK_EQUAL(check_pattern_file(path, 2, size), "");
  BOOST_CHECK_EQUAL(check_pattern_file(m->path("before.bin"), 1, 8 * MiB), "");
  m->unmount();
  expect_clean_fsck(*m);
}

// ---- 2. graceful stop during a write and a stream of metadata operations -----

BOOST_AUTO_TEST_CASE(server_stopped_during_writes_creates_and_renames) {
  auto m = mount_volume(pg().url_for(new_database()), {"--buffer-size", "32M"});
  // Three independent streams (each waits for its own calls), one directory each.
  constexpr int kStreams = 3;
  std::vector<std::string> dirs;
  for (int k = 0; k < kStreams; ++k) {
    dirs.push_back(m->path("ops" + std::to_string(k)));
    BOOST_REQUIRE_EQUAL(::mkdir(dirs.back().c_str(), 0755), 0);
  }

  const uint64_t size = 96 * MiB;
  auto w = make_shared_mem<WriterState>();
  std::vector<SharedPtr<OpsState>> ops;
  for (int k = 0; k < kStreams; ++k) ops.push_back(make_shared_mem<OpsState>());
  auto total_ops = [&] {
    int n = 0;
    for (auto& o : ops) n += o->count;
    return n;
  };
  const std::string path = m->path("data.bin");
  // The writer stops at 48 MiB until the server is stopped, then goes on
  // (a part-way fsync first): under load, the metadata streams once needed
  // longer for their first 30 ops than the writer for all 96 MiB.
  w->hold = true;
  Forked writer([&] { run_writer(*w, path, 3, size, 48 * MiB); });
  std::vector<std::unique_ptr<Forked>> streams;
  for (int k = 0; k < kStreams; ++k) {
    OpsState* o = ops[k].get();
    const std::string dir = dirs[k];
    streams.push_back(std::make_unique<Forked>([o, dir] { run_ops(*o, dir); }));
  }

  BOOST_REQUIRE_MESSAGE(wait_until([&] { return total_ops() >= 30 && w->phase >= 1; }, 120s),
                        "no progress before the outage: " << total_ops() << " ops, " << w->written / MiB
                                                          << " MiB written; " << w->failure.describe());
  BOOST_REQUIRE_MESSAGE(!w->done, "the writer ended before the outage: " << w->failure.describe());
  const int ops_before = total_ops();
  const int64_t t_stop = mono_ns();
  pg().stop();   // pg_ctl stop -m fast: sessions are terminated, the server shuts down cleanly
  const int64_t t_down = mono_ns();
  w->go = true;
  std::this_thread::sleep_for(4s);
  const int ops_during = total_ops() - ops_before;
  pg().start();
  const int64_t t_up = mono_ns();
  // Let the streams go on for a while with the server back, then stop them.
  wait_until([&] { return total_ops() >= ops_before + ops_during + 100; }, 20s);
  for (auto& o : ops) o->stop = true;
  for (auto& f : streams) BOOST_REQUIRE_MESSAGE(f->wait_for(120s), "a metadata stream did not end within 120 s");
  BOOST_REQUIRE_MESSAGE(writer.wait_for(180s), "the writer did not finish within 180 s after the restart");

  // Ops that were waiting for the server while it was down.
  int spanning = 0;
  for (auto& o : ops)
    for (int i = 0; i < o->count; ++i)
      if (o->ops[i].start_ns < t_up && o->ops[i].end_ns > t_up) ++spanning;
  BOOST_TEST_MESSAGE("stop took " << secs(t_down - t_stop) << " s, server down " << secs(t_up - t_down) << " s; "
                                  << total_ops() << " ops (" << ops_before << " before the stop, " << ops_during
                                  << " completed while it was down, " << spanning << " waited across the restart); "
                                  << "write: " << secs(w->end_ns - w->start_ns) << " s, " << w->failure.describe());
  BOOST_CHECK_MESSAGE(spanning >= kStreams, "only " << spanning << " metadata operations were in flight while the "
                                                    << "server was down");
  BOOST_CHECK_MESSAGE(w->failure.err == 0, "the write did not complete: " << w->failure.describe() << " at offset "
                                                                          << w->failure.offset);
  BOOST_CHECK_MESSAGE(w->end_ns > t_up, "the writer finished before the server came back");

  cold_remount(*m);
  int failures = 0;
  for (int k = 0; k < kStreams; ++k) {
    int f = 0;
    check_ops(*ops[k], dirs[k], &f);
    failures += f;
  }
  // The outage is far shorter than the reconnect window: nothing may fail.
  BOOST_CHECK_MESSAGE(failures == 0, failures << " metadata operations returned an error (listed above)\n"
                                              << m->daemon_log());
  if (w->failure.err == 0) BOOST_CHECK_EQUAL(check_pattern_file(path, 3, size), "");
  m->unmount();
  expect_clean_fsck(*m);
}

// ---- 3. an outage longer than the reconnect window ----------------------------

struct LongOutageState {
  std::atomic<int64_t> create_ns{0}, write_ns{0};
  std::atomic<bool> created{false}, wrote{false}, opened{false}, go{false};
  Failure create_failure, write_failure;
};

BOOST_AUTO_TEST_CASE(outage_longer_than_the_retry_budget_is_eio_then_the_mount_works_again) {
  auto m = mount_volume(pg().url_for(new_database()));
  write_pattern_file(m->path("before.bin"), 31, 4 * MiB);
  write_file(m->path("w.bin"), "");
  const uint64_t wsize = 4 * MiB;

  auto st = make_shared_mem<LongOutageState>();
  const std::string late = m->path("late.txt"), wpath = m->path("w.bin");
  // The child opens w.bin while the server is up, then (once it is down)
  // writes and fsyncs it, then tries a create.
  Forked child([&] {
    int fd = ::open(wpath.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) st->write_failure.set("open(O_WRONLY) before the outage", errno);
    st->opened = true;
    for (int i = 0; i < 6000 && !st->go; ++i) ::usleep(10000);
    int64_t t0 = mono_ns();
    if (fd >= 0) {
      const std::string data = pattern(32, 0, wsize);
      ssize_t n = ::pwrite(fd, data.data(), data.size(), 0);
      if (n != static_cast<ssize_t>(data.size())) st->write_failure.set("pwrite", n < 0 ? errno : EIO);
      else if (::fsync(fd) != 0) st->write_failure.set("fsync", errno);
      if (::close(fd) != 0) st->write_failure.set("close", errno);
    }
    st->wrote = st->write_failure.err == 0;
    st->write_ns = mono_ns() - t0;

    t0 = mono_ns();
    fd = ::open(late.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) st->create_failure.set("open(O_CREAT|O_EXCL)", errno);
    else if (::close(fd) != 0) st->create_failure.set("close", errno);
    st->created = st->create_failure.err == 0;
    st->create_ns = mono_ns() - t0;
  });
  BOOST_REQUIRE(wait_until([&] { return st->opened.load(); }, 30s));
  pg().stop();
  const int64_t t_down = mono_ns();
  st->go = true;
  // Bounded: the reconnect window (15 s) plus slack, far below the 2 min
  // request timeout inside the daemon.
  const bool ended = child.wait_for(60s);
  const double down_s = secs(mono_ns() - t_down);
  pg().start();
  BOOST_REQUIRE_MESSAGE(ended, "calls on the mount were still blocked " << down_s << " s into the outage");
  BOOST_TEST_MESSAGE("server down " << down_s << " s; create: " << st->create_failure.describe() << " after "
                                    << secs(st->create_ns) << " s; write+fsync: " << st->write_failure.describe()
                                    << " after " << secs(st->write_ns) << " s");
  BOOST_CHECK_MESSAGE(!st->created && st->create_failure.err == EIO,
                      "create without a server: expected EIO, got " << st->create_failure.describe());
  BOOST_CHECK_MESSAGE(!st->wrote && st->write_failure.err == EIO,
                      "write+fsync without a server: expected EIO, got " << st->write_failure.describe());
  BOOST_CHECK_MESSAGE(secs(st->create_ns) <= kReconnectWindowS + 10,
                      "the create took " << secs(st->create_ns) << " s to fail");
  BOOST_CHECK_MESSAGE(secs(st->write_ns) <= kReconnectWindowS + 10,
                      "the write took " << secs(st->write_ns) << " s to fail");

  // The server is back: the same mount works again, without a remount.
  write_pattern_file(m->path("after.bin"), 33, 3 * MiB);
  BOOST_CHECK_EQUAL(::mkdir(m->path("after.dir").c_str(), 0755), 0);
  BOOST_CHECK_EQUAL(check_pattern_file(m->path("before.bin"), 31, 4 * MiB), "");

  cold_remount(*m);
  BOOST_CHECK_EQUAL(check_pattern_file(m->path("after.bin"), 33, 3 * MiB), "");
  BOOST_CHECK_EQUAL(check_pattern_file(m->path("before.bin"), 31, 4 * MiB), "");
  BOOST_CHECK(S_ISDIR(stat_path(m->path("after.dir")).st_mode));
  struct stat sb;
  BOOST_CHECK_MESSAGE(::lstat(late.c_str(), &sb) != 0 && errno == ENOENT,
                      "late.txt exists although its create failed while the server was down");
  BOOST_CHECK_EQUAL(check_written_or_hole(wpath, 32, wsize), "");
  m->unmount();
  expect_clean_fsck(*m);
}

// ---- 4. COMMIT answers lost on the way -----------------------------------------

namespace {
std::string proxy_url(const PgProxy& p, const std::string& db) {
  return "postgres://postgres@127.0.0.1:" + std::to_string(p.port()) + "/" + db;
}
}  // namespace

namespace {
// A formatted volume on a new database, opened by the meta layer through a
// PgProxy (its objects directory is removed at the end).
struct ProxiedMeta {
  std::string db = new_database();
  std::string objects = pg().dir() + "/objects-" + db;
  PgProxy proxy{static_cast<uint16_t>(pg().port())};
  std::unique_ptr<s3l::meta::Meta> meta;

  ProxiedMeta() {
    RunResult f = run({MountFixture::daemon_path(), "format", pg().url_for(db), "lost", "--storage",
                       "file://" + objects},
                      60000ms);
    BOOST_REQUIRE_MESSAGE(f.code() == 0, f.describe());
    auto opened = s3l::meta::open_meta(proxy_url(proxy, db), false);
    BOOST_REQUIRE_MESSAGE(opened.ok(), opened.msg());
    BOOST_REQUIRE(opened.value->load_settings().ok());
    meta = std::move(opened.value);
  }
  ~ProxiedMeta() { remove_tree(objects); }
};

std::multiset<std::string> root_names(s3l::meta::Meta& meta) {
  auto entries = meta.readdir(s3l::meta::kRootIno);
  BOOST_REQUIRE_MESSAGE(entries.ok(), entries.msg());
  std::multiset<std::string> names;
  for (const auto& e : *entries)
    if (e.name != "." && e.name != "..") names.insert(e.name);
  return names;
}
}  // namespace

// The meta layer itself, for a write transaction (rename): one whose COMMIT
// answer is lost is reported as done (it is; a rerun would have failed with
// ENOENT, the source being gone), one whose COMMIT never arrived is rerun.
BOOST_AUTO_TEST_CASE(lost_commit_answer_is_resolved_by_the_meta_layer) {
  ProxiedMeta pm;
  auto& meta = *pm.meta;
  auto& proxy = pm.proxy;
  const uint32_t mode = S_IFREG | 0644;
  const uint64_t root = s3l::meta::kRootIno;
  auto a0 = meta.mknod(root, "a0", mode, 0, 0, 0, "", s3l::now_ns());
  auto b0 = meta.mknod(root, "b0", mode, 0, 0, 0, "", s3l::now_ns());
  BOOST_REQUIRE(a0.ok() && b0.ok());

  proxy.cut_after_commit = 1;   // committed, answer lost
  auto a = meta.rename(root, "a0", root, "a", 0, 0, s3l::now_ns());
  BOOST_CHECK_EQUAL(proxy.cut_after.load(), 1);
  BOOST_CHECK_MESSAGE(a.ok(), "rename whose COMMIT answer was lost: " << a.msg());
  auto la = meta.lookup(root, "a");
  BOOST_REQUIRE_MESSAGE(la.ok(), "a is not there after its COMMIT was answered: " << la.msg());
  BOOST_CHECK_EQUAL(la->ino, a0->ino);

  proxy.cut_before_commit = 1;   // never committed
  auto b = meta.rename(root, "b0", root, "b", 0, 0, s3l::now_ns());
  BOOST_CHECK_EQUAL(proxy.cut_before.load(), 1);
  BOOST_CHECK_MESSAGE(b.ok(), "rename whose COMMIT never reached the server: " << b.msg());
  auto lb = meta.lookup(root, "b");
  BOOST_CHECK_MESSAGE(lb.ok(), "b is missing: " << lb.msg());
  if (lb.ok()) BOOST_CHECK_EQUAL(lb->ino, b0->ino);

  auto names = root_names(meta);
  BOOST_CHECK_MESSAGE((names == std::multiset<std::string>{"a", "b"}), "root holds " << names.size() << " entries");
}

// A create is one statement that commits on its own (meta/sql_mknod_cte.cpp):
// when its answer is lost it is rerun, and the rerun recognises its own
// inode under the name (done, not EEXIST); when it never arrived, the rerun
// creates the file. Either way each name exists once, with the inode the
// caller was given.
BOOST_AUTO_TEST_CASE(lost_create_answer_is_resolved_by_rerunning_it) {
  ProxiedMeta pm;
  auto& meta = *pm.meta;
  auto& proxy = pm.proxy;
  const uint32_t mode = S_IFREG | 0644;
  const uint64_t root = s3l::meta::kRootIno;
  // Reserves a batch of inode numbers: the next create sends one request.
  BOOST_REQUIRE(meta.mknod(root, "first", mode, 0, 0, 0, "", s3l::now_ns()).ok());

  proxy.cut_after_request = 1;   // committed, answer lost
  auto a = meta.mknod(root, "a", mode, 0, 0, 0, "", s3l::now_ns());
  BOOST_CHECK_EQUAL(proxy.cut_after.load(), 1);
  BOOST_CHECK_MESSAGE(a.ok(), "create whose answer was lost: " << a.msg());
  auto la = meta.lookup(root, "a");
  BOOST_REQUIRE_MESSAGE(la.ok(), "a is not there: " << la.msg());
  if (a.ok()) BOOST_CHECK_EQUAL(la->ino, a->ino);

  proxy.cut_before_request = 1;   // never arrived
  auto b = meta.mknod(root, "b", S_IFDIR | 0755, 0, 0, 0, "", s3l::now_ns());
  BOOST_CHECK_EQUAL(proxy.cut_before.load(), 1);
  BOOST_CHECK_MESSAGE(b.ok(), "create that never reached the server: " << b.msg());
  auto lb = meta.lookup(root, "b");
  BOOST_CHECK_MESSAGE(lb.ok(), "b is missing: " << lb.msg());
  if (b.ok() && lb.ok()) BOOST_CHECK_EQUAL(lb->ino, b->ino);

  auto names = root_names(meta);
  BOOST_CHECK_MESSAGE((names == std::multiset<std::string>{"first", "a", "b"}),
                      "root holds " << names.size() << " entries");
  auto root_attr = meta.getattr(root);
  BOOST_REQUIRE(root_attr.ok());
  BOOST_CHECK_EQUAL(root_attr->nlink, 3u);   // ".", "..", and b's ".."
  auto problems = meta.check_consistency();
  BOOST_REQUIRE_MESSAGE(problems.ok(), problems.msg());
  BOOST_CHECK_MESSAGE(problems->empty(), problems->size() << " fsck problems, first: "
                                                          << (problems->empty() ? "" : problems->front().detail));
}

// Through a mount: fsyncs whose commits lose their answers succeed, and the
// data is all there afterwards (a commit reported failed although it landed
// used to delete the blocks the committed slice points to).
BOOST_AUTO_TEST_CASE(lost_commit_answers_during_fsync_lose_no_data) {
  const std::string db = new_database();
  PgProxy proxy(static_cast<uint16_t>(pg().port()));
  auto m = mount_volume(proxy_url(proxy, db));
  const int files = 8;
  const uint64_t fsize = 3 * MiB + 123;
  std::vector<std::string> errors;
  for (int k = 0; k < files; ++k) {
    const std::string path = m->path("c" + std::to_string(k) + ".bin");
    const std::string data = pattern(40 + k, 0, fsize);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      errors.push_back(path + ": open: " + errno_name(errno));
      continue;
    }
    ssize_t n = ::pwrite(fd, data.data(), data.size(), 0);
    if (n != static_cast<ssize_t>(data.size())) errors.push_back(path + ": pwrite: " + errno_name(errno));
    // fsync runs two transactions: begin slice, then commit slice. Lose the
    // answer of both, or of the commit only (then the blocks are in the store
    // and a committed slice points to them), or cut before they commit.
    switch (k % 4) {
      case 0: proxy.cut_after_commit = 2; break;
      case 1: proxy.cut_before_commit = 2; break;
      case 2: proxy.pass_commits = 1; proxy.cut_after_commit = 1; break;
      case 3: proxy.pass_commits = 1; proxy.cut_before_commit = 1; break;
    }
    if (::fsync(fd) != 0) errors.push_back(path + ": fsync: " + errno_name(errno));
    if (::close(fd) != 0) errors.push_back(path + ": close: " + errno_name(errno));
    // A namespace change with a lost answer, too (a rename: a transaction;
    // mkdir is one statement without COMMIT, lost_create_answer_... above).
    const std::string tmp = m->path("t" + std::to_string(k));
    if (::mkdir(tmp.c_str(), 0755) != 0) errors.push_back("mkdir t" + std::to_string(k) + ": " + errno_name(errno));
    proxy.cut_after_commit = 1;
    if (::rename(tmp.c_str(), m->path("d" + std::to_string(k)).c_str()) != 0)
      errors.push_back("rename t" + std::to_string(k) + ": " + errno_name(errno));
  }
  proxy.cut_after_commit = 0;
  proxy.cut_before_commit = 0;
  proxy.pass_commits = 0;
  BOOST_TEST_MESSAGE("COMMITs seen " << proxy.commits_seen << ", answers lost after the commit " << proxy.cut_after
                                     << ", cut before it " << proxy.cut_before);
  // Armed per file: 3/2 answers lost after COMMIT (+1 for the rename), 3/2 cut before.
  BOOST_CHECK_GE(proxy.cut_after.load(), files + files * 3 / 4);
  BOOST_CHECK_GE(proxy.cut_before.load(), files * 3 / 4);
  std::string all;
  for (auto& e : errors) all += e + "\n";
  BOOST_CHECK_MESSAGE(errors.empty(), errors.size() << " calls failed:\n" << all << m->daemon_log());

  cold_remount(*m);
  for (int k = 0; k < files; ++k) {
    BOOST_CHECK_EQUAL(check_pattern_file(m->path("c" + std::to_string(k) + ".bin"), 40 + k, fsize), "");
    struct stat sb;
    BOOST_CHECK_MESSAGE(::stat(m->path("d" + std::to_string(k)).c_str(), &sb) == 0 && S_ISDIR(sb.st_mode),
                        "directory d" << k << " is missing");
    BOOST_CHECK_MESSAGE(::stat(m->path("t" + std::to_string(k)).c_str(), &sb) != 0 && errno == ENOENT,
                        "t" << k << " is still there after its rename");
  }
  m->unmount();
  expect_clean_fsck(*m);
}
