// O_APPEND through one mount: appends land at the end of the file as of their
// commit (not at the kernel's idea of the size), stay in write order with the
// positioned writes around them, are readable before close, and an append that
// lands across a chunk end (64 MiB) reads back right, also after a remount.
// (Two mounts appending to one file: multi_client_test.)
#define BOOST_TEST_MODULE append
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fs_util.hpp"
#include "tests/support/mount_fixture.hpp"

using namespace s3l::test;

namespace {

constexpr uint64_t kChunk = 64ull << 20;

int open_or_throw(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags, 0644);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + errno_name(errno));
  return fd;
}

void write_all(int fd, const std::string& s, const std::string& what) {
  ssize_t n = ::write(fd, s.data(), s.size());
  if (n != static_cast<ssize_t>(s.size()))
    throw std::runtime_error(what + ": write returned " + std::to_string(n) + " (" + errno_name(errno) + ")");
}

std::string record(const std::string& who, int i) {
  std::ostringstream o;
  o << who << " record " << i << " " << std::string(static_cast<size_t>(i % 37), '.') << "\n";
  return o.str();
}

// Splits on '\n' and checks that every line is a whole record of a known
// writer; returns per-writer counts and each writer's order violations.
std::string check_records(const std::string& content, const std::vector<std::string>& writers, int per_writer) {
  std::map<std::string, int> next;
  std::istringstream in(content);
  std::string line;
  size_t lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    std::istringstream l(line);
    std::string who, word;
    int i = -1;
    l >> who >> word >> i;
    if (word != "record" || std::find(writers.begin(), writers.end(), who) == writers.end() ||
        record(who, i) != line + "\n")
      return "line " + std::to_string(lines) + " is not a whole record: '" + line + "'";
    if (next[who] != i)
      return "writer " + who + ": record " + std::to_string(i) + " where " + std::to_string(next[who]) +
             " was expected (lost, duplicated or reordered)";
    ++next[who];
  }
  for (const auto& w : writers)
    if (next[w] != per_writer)
      return "writer " + w + ": " + std::to_string(next[w]) + " records, expected " + std::to_string(per_writer);
  return "";
}

}  // namespace

BOOST_AUTO_TEST_CASE(two_descriptors_appending_concurrently_lose_nothing) {
  MountFixture& fx = shared_mount();
  const std::string path = fx.path("concurrent.log");
  write_file(path, "");
  const int kRecords = 1000;
  std::vector<std::string> writers{"left", "right", "third"};
  std::vector<std::string> errors(writers.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < writers.size(); ++t)
    threads.emplace_back([&, t] {
      try {
        int fd = open_or_throw(path, O_WRONLY | O_APPEND);
        for (int i = 0; i < kRecords; ++i) write_all(fd, record(writers[t], i), writers[t]);
        if (::close(fd) != 0) throw std::runtime_error("close: " + errno_name(errno));
      } catch (const std::exception& e) {
        errors[t] = e.what();
      }
    });
  for (auto& th : threads) th.join();
  for (auto& e : errors) BOOST_REQUIRE_MESSAGE(e.empty(), e);
  std::string content = read_file(path);
  size_t expect = 0;
  for (auto& w : writers)
    for (int i = 0; i < kRecords; ++i) expect += record(w, i).size();
  BOOST_TEST(content.size() == expect);
  std::string bad = check_records(content, writers, kRecords);
  BOOST_TEST(bad.empty(), bad);
}

BOOST_AUTO_TEST_CASE(appends_are_readable_before_close_and_keep_order_with_positioned_writes) {
  MountFixture& fx = shared_mount();
  const std::string path = fx.path("mixed");
  int plain = open_or_throw(path, O_RDWR | O_CREAT | O_TRUNC);
  int app = open_or_throw(path, O_RDWR | O_APPEND);
  pwrite_all(plain, "XXXX", 4, 0, "pwrite XXXX");
  write_all(app, "B", "append B");
  // Read through the appending descriptor and another one, before any close.
  BOOST_TEST(pread_exact(app, 5, 0, "pread app") == "XXXXB");
  BOOST_TEST(pread_exact(plain, 5, 0, "pread plain") == "XXXXB");
  pwrite_all(plain, "Y", 1, 1, "pwrite Y");
  write_all(app, "CC", "append CC");
  pwrite_all(plain, "Z", 1, 6, "pwrite Z over the last append");
  BOOST_TEST(pread_exact(plain, 7, 0, "pread all") == "XYXXBCZ");
  struct stat st;
  BOOST_REQUIRE(::fstat(app, &st) == 0);
  BOOST_TEST(st.st_size == 7);
  BOOST_REQUIRE(::close(app) == 0);
  BOOST_REQUIRE(::close(plain) == 0);
  BOOST_TEST(read_file(path) == "XYXXBCZ");
}

BOOST_AUTO_TEST_CASE(append_across_a_chunk_end_reads_back_after_remount) {
  MountFixture& fx = shared_mount();
  const std::string path = fx.path("across");
  const uint64_t start = kChunk - 1000;
  int fd = open_or_throw(path, O_WRONLY | O_CREAT | O_TRUNC);
  // Some real data before the boundary, a hole before that.
  std::string head = pattern(7, start - 5000, 5000);
  pwrite_all(fd, head.data(), head.size(), start - 5000, "pwrite head");
  BOOST_REQUIRE(::close(fd) == 0);
  fd = open_or_throw(path, O_WRONLY | O_APPEND);
  std::string appended;
  for (int i = 0; i < 300; ++i) {
    std::string r = record("tail", i);
    write_all(fd, r, "append");
    appended += r;
    if (i == 150) BOOST_REQUIRE(::fsync(fd) == 0);   // one commit before, one across the end
  }
  BOOST_REQUIRE(::close(fd) == 0);
  BOOST_REQUIRE(appended.size() > 2000u);   // crosses the chunk end
  auto check = [&](const std::string& when) {
    int rfd = open_or_throw(path, O_RDONLY);
    struct stat st;
    BOOST_REQUIRE(::fstat(rfd, &st) == 0);
    BOOST_TEST(static_cast<uint64_t>(st.st_size) == start + appended.size(), when);
    std::string got_head = pread_exact(rfd, head.size(), start - 5000, "pread head");
    std::string got_tail = pread_exact(rfd, appended.size(), start, "pread tail");
    std::string hole = pread_exact(rfd, 4096, 0, "pread hole");
    ::close(rfd);
    BOOST_TEST(got_head == head, when << ": " << first_difference(got_head, head));
    BOOST_TEST(got_tail == appended, when << ": " << first_difference(got_tail, appended));
    BOOST_TEST(hole == std::string(4096, '\0'), when);
  };
  check("before remount");
  fx.remount();
  check("after remount");
  auto f = fx.fsck({"--check-data"});
  BOOST_TEST(f.code() == 0, f.describe());
}
