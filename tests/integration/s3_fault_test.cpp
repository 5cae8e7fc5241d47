// A mounted volume on S3 while the S3 server misbehaves: stopped in the middle
// of a 100 MiB write and restarted 10 s later, gone for longer than the retry
// budget, answering 503 SlowDown for a while. Every write either completes
// or fails with EIO; afterwards only committed data is visible (checked after
// a remount with an empty cache) and fsck --check-data is clean.
#define BOOST_TEST_MODULE s3_fault
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "tests/support/fault_proxy.hpp"
#include "tests/support/fs_util.hpp"
#include "tests/support/mount_fixture.hpp"
#include "tests/support/s3_server.hpp"

using namespace s3l::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t MiB = 1024 * 1024;

S3Server* g_server = nullptr;

struct ServerFixture {
  ServerFixture() {
    g_server = new S3Server("s3l-fault-0");
    ::setenv("AWS_ACCESS_KEY_ID", S3Server::kAccessKey, 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", S3Server::kSecretKey, 1);
  }
  ~ServerFixture() { delete g_server; }
};
BOOST_TEST_GLOBAL_FIXTURE(ServerFixture);

S3Server& server() { return *g_server; }

std::string new_bucket() {
  static int n = 0;
  return "s3l-fault-" + std::to_string(++n);
}

double secs_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Writes `size` bytes of pattern(seed) in 1 MiB writes, then fsync and close.
// Runs in its own thread; `written` counts the bytes write() accepted. Do
// not fork (start a server) while it is blocked in the FUSE mount: fork()
// then waits for the write (the first test uses a dd process instead).
struct Writer {
  std::atomic<uint64_t> written{0};
  std::atomic<bool> done{false};
  int error = 0;               // errno of the first failing call, 0 if all succeeded
  std::string failed_call;
  double seconds = 0;

  void run(const std::string& path, uint64_t seed, uint64_t size) {
    auto t0 = std::chrono::steady_clock::now();
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
      fail("open");
    } else {
      std::string buf;
      for (uint64_t off = 0; off < size && error == 0; off += MiB) {
        buf = pattern(seed, off, std::min<uint64_t>(MiB, size - off));
        ssize_t n = ::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(off));
        if (n != static_cast<ssize_t>(buf.size())) fail(n < 0 ? "write" : "short write");
        else written += buf.size();
      }
      if (error == 0 && ::fsync(fd) != 0) fail("fsync");
      if (::close(fd) != 0 && error == 0) fail("close");
    }
    seconds = secs_since(t0);
    done = true;
  }
  void fail(const char* what) {
    error = errno ? errno : EIO;
    failed_call = what;
  }
};

// After a failed write: every byte the file shows must be what was written
// there or a hole (zeros): never garbage, never another file's data.
std::string check_committed_part(const std::string& path, uint64_t seed, uint64_t max_size) {
  struct stat st = stat_path(path);
  if (static_cast<uint64_t>(st.st_size) > max_size)
    return "size " + std::to_string(st.st_size) + " exceeds what was written";
  std::string data = read_file(path);
  if (data.size() != static_cast<uint64_t>(st.st_size)) return "read returned a different size than stat";
  const std::string want = pattern(seed, 0, data.size());
  for (uint64_t off = 0; off < data.size(); off += 4096) {
    size_t n = std::min<uint64_t>(4096, data.size() - off);
    bool same = data.compare(off, n, want, off, n) == 0;
    bool zero = data.find_first_not_of('\0', off) >= off + n;
    if (!same && !zero) return "bytes at " + std::to_string(off) + " are neither the written data nor a hole";
  }
  return "";
}

void expect_clean_fsck(MountFixture& m) {
  RunResult r = m.fsck({"--check-data"});
  BOOST_CHECK_MESSAGE(r.code() == 0, "fsck --check-data after the fault: " << r.describe());
}

// Remount with an empty cache, so reads go to the store.
void cold_remount(MountFixture& m) {
  m.unmount();
  remove_tree(m.root() + "/cache");
  m.mount();
}

}  // namespace

BOOST_AUTO_TEST_CASE(server_stopped_during_a_large_write_and_restarted_10s_later) {
  FixtureOptions fo;
  fo.storage = server().url(new_bucket());
  // A buffer much smaller than the file: the writer has to wait for uploads
  // (back-pressure) while the server is down, instead of finishing in memory.
  fo.mount_args.insert(fo.mount_args.end(), {"--buffer-size", "32M"});
  MountFixture m(fo);
  const uint64_t size = 100 * MiB;
  const std::string src = m.root() + "/source.bin", dst = m.path("big.bin");
  write_pattern_file(src, 11, size);
  // The writer is another process: the restart below forks, and fork() in a
  // process with a thread blocked in a FUSE write waits for that write.
  const std::string log = m.root() + "/dd.log";
  auto t0 = std::chrono::steady_clock::now();
  Child dd({"dd", "if=" + src, "of=" + dst, "bs=1M", "conv=fsync"}, log, log);
  uint64_t at_stop = 0;
  while (dd.running() && secs_since(t0) < 60) {
    struct stat st;
    if (::stat(dst.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) >= 16 * MiB) {
      at_stop = static_cast<uint64_t>(st.st_size);
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  BOOST_REQUIRE_MESSAGE(at_stop > 0 && dd.running(), "dd ended (or wrote nothing) before the server was stopped: "
                                                         << slurp(log));
  server().stop();
  std::this_thread::sleep_for(10s);
  server().start();
  auto st = dd.wait_for(milliseconds(240000));
  const double took = secs_since(t0);
  BOOST_REQUIRE_MESSAGE(st, "dd did not finish within 240 s");
  BOOST_TEST_MESSAGE("server stopped after " << at_stop / MiB << " MiB; dd (100 MiB + fsync) ended after " << took
                                             << " s with " << st->describe());
  // 10 s is well within the 60 s retry budget: the write has to succeed.
  BOOST_REQUIRE_MESSAGE(st->exited && st->code == 0, "dd: " << st->describe() << ": " << slurp(log) << "\n"
                                                           << m.daemon_log());
  BOOST_CHECK_MESSAGE(took >= 10.0, "the write took only " << took << " s: it did not wait for the server");
  BOOST_CHECK_MESSAGE(m.daemon_log().find("retrying") != std::string::npos, "the daemon logged no retries");

  cold_remount(m);
  BOOST_CHECK_EQUAL(check_pattern_file(dst, 11, size), "");
  m.unmount();
  expect_clean_fsck(m);
}

BOOST_AUTO_TEST_CASE(server_gone_longer_than_the_retry_budget_fails_with_eio) {
  FixtureOptions fo;
  fo.storage = server().url(new_bucket());
  MountFixture m(fo);
  write_pattern_file(m.path("before.bin"), 21, 5 * MiB);   // committed (closed) before the outage
  const uint64_t size = 12 * MiB;
  server().stop();
  Writer w;
  std::thread t([&] { w.run(m.path("lost.bin"), 22, size); });
  // The daemon retries each upload for 60 s (StoreOptions::retry_budget_ms).
  while (!w.done) std::this_thread::sleep_for(100ms);
  t.join();
  server().start();
  BOOST_TEST_MESSAGE("write without a server: " << (w.error ? w.failed_call + " " + errno_name(w.error) : "success")
                                                << " after " << w.seconds << " s");
  BOOST_CHECK_MESSAGE(w.error == EIO, "expected EIO, got " << (w.error ? errno_name(w.error) : "success")
                                                            << " from " << w.failed_call);
  BOOST_CHECK_MESSAGE(w.seconds >= 50, "gave up after " << w.seconds << " s, before the retry budget was spent");
  BOOST_CHECK_MESSAGE(m.daemon_log().find("was not stored") != std::string::npos,
                      "the daemon did not log the failed upload:\n" << m.daemon_log());

  // The server is back: nothing of the failed write may be visible after a
  // remount, the earlier file is intact, and the volume is consistent.
  cold_remount(m);
  BOOST_CHECK_EQUAL(check_committed_part(m.path("lost.bin"), 22, size), "");
  BOOST_CHECK_EQUAL(check_pattern_file(m.path("before.bin"), 21, 5 * MiB), "");
  // The volume still works.
  write_pattern_file(m.path("after.bin"), 23, 6 * MiB);
  cold_remount(m);
  BOOST_CHECK_EQUAL(check_pattern_file(m.path("after.bin"), 23, 6 * MiB), "");
  m.unmount();
  expect_clean_fsck(m);
}

BOOST_AUTO_TEST_CASE(server_answering_503_for_a_while_is_retried) {
  FaultProxy proxy(server().port());   // outlives the mount
  FixtureOptions fo;
  fo.storage = proxy.url(new_bucket());
  MountFixture m(fo);
  proxy.fail_for(6s);
  auto t0 = std::chrono::steady_clock::now();
  write_pattern_file(m.path("slow.bin"), 31, 24 * MiB);
  int fd = ::open(m.path("slow.bin").c_str(), O_RDONLY | O_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  BOOST_CHECK_MESSAGE(::fsync(fd) == 0, "fsync: " << errno_name(errno));
  ::close(fd);
  BOOST_TEST_MESSAGE("24 MiB through 6 s of 503 SlowDown: " << secs_since(t0) << " s, " << proxy.failed.load()
                                                            << " requests refused");
  BOOST_CHECK_MESSAGE(proxy.failed.load() >= 6, "only " << proxy.failed.load() << " requests met the fault");
  cold_remount(m);
  BOOST_CHECK_EQUAL(check_pattern_file(m.path("slow.bin"), 31, 24 * MiB), "");
  // Reads are retried as well.
  m.unmount();
  remove_tree(m.root() + "/cache");
  m.mount();
  const int refused_before_reads = proxy.failed.load();
  proxy.fail_for(3s);
  BOOST_CHECK_EQUAL(check_pattern_file(m.path("slow.bin"), 31, 24 * MiB), "");
  BOOST_CHECK_MESSAGE(proxy.failed.load() > refused_before_reads, "no read met the fault");
  m.unmount();
  expect_clean_fsck(m);
}
