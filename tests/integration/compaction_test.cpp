// Compaction and GC through a real mount (issue 5): 2,000 small overwrites
// leave one slice after compaction with the content of an in-memory model and
// no object of the old slices in the store; and a randomized mix of writes,
// overwrites, truncates and unlinks with the compactor and the deleter
// running all the time never loses a referenced object (full read-back,
// fsck --check-data, store == metadata).
#define BOOST_TEST_MODULE compaction
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/support/fs_util.hpp"
#include "tests/support/mount_fixture.hpp"
#include "tests/support/volume_check.hpp"

using namespace s3l::test;

namespace {

FixtureOptions eager_compaction(uint32_t threshold) {
  FixtureOptions o;
  o.mount_args = {"--allow-other", "--compact-threshold", std::to_string(threshold), "--compact-interval", "1"};
  return o;
}

uint64_t seed_from_env() {
  const char* s = std::getenv("S3L_TEST_SEED");
  uint64_t seed = s && *s ? std::strtoull(s, nullptr, 10) : static_cast<uint64_t>(::time(nullptr));
  BOOST_TEST_MESSAGE("seed " << seed << " (S3L_TEST_SEED=" << seed << " repeats this run)");
  return seed;
}

uint64_t inode_of(const std::string& path) { return stat_path(path).st_ino; }

size_t committed_slices(s3l::meta::Meta& m, uint64_t ino, uint64_t chunk) {
  auto sl = m.chunk_slices(ino, chunk);
  BOOST_REQUIRE_MESSAGE(sl.ok(), sl.msg());
  return sl->size();
}

void wait_for_no_dead_blocks(MountFixture& fx) {
  auto m = open_volume_meta(fx);
  bool drained = wait_until([&] {
    auto d = m->dead_blocks(1);
    return d.ok() && d->empty();
  }, std::chrono::seconds(60));
  BOOST_REQUIRE_MESSAGE(drained, "dead blocks were not deleted within 60 s");
}

}  // namespace

BOOST_AUTO_TEST_CASE(two_thousand_small_overwrites_become_one_slice) {
  MountFixture fx(eager_compaction(16));
  const std::string path = fx.path("fragmented");
  const size_t kSpan = 1 << 20;
  std::mt19937_64 rng(seed_from_env());
  std::string model(kSpan, '\0');
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  BOOST_REQUIRE(fd >= 0);
  pwrite_all(fd, model.data(), model.size(), 0, "initial fill");
  for (int i = 0; i < 2000; ++i) {
    size_t len = 1 + rng() % 3000, off = rng() % (kSpan - len);
    std::string data = pattern(rng(), off, len);
    pwrite_all(fd, data.data(), len, off, "overwrite " + std::to_string(i));
    model.replace(off, len, data);
    // A commit every few writes: each makes its own slice, as many small
    // writers would (an open slice absorbs overwrites inside it otherwise).
    if (i % 4 == 3) BOOST_REQUIRE(::fsync(fd) == 0);
  }
  BOOST_REQUIRE(::close(fd) == 0);
  const uint64_t ino = inode_of(path);
  auto m = open_volume_meta(fx);
  BOOST_TEST_MESSAGE("slices before compaction: " << committed_slices(*m, ino, 0));
  bool one = wait_until([&] { return committed_slices(*m, ino, 0) == 1; }, std::chrono::seconds(90));
  BOOST_REQUIRE_MESSAGE(one, "chunk 0 still has " << committed_slices(*m, ino, 0) << " slices after 90 s\n"
                                                   << fx.daemon_log());
  BOOST_TEST(read_file(path) == model, first_difference(read_file(path), model));
  wait_for_no_dead_blocks(fx);
  fx.unmount();
  std::string diff = store_vs_metadata(fx);
  BOOST_TEST(diff.empty(), diff);   // no object of the old slices is left
  fx.mount();
  BOOST_TEST(read_file(path) == model);
  fx.unmount();
  RunResult f = fx.fsck({"--check-data"});
  BOOST_TEST(f.code() == 0, f.describe());
}

BOOST_AUTO_TEST_CASE(randomized_writes_with_compaction_and_gc_running_lose_nothing) {
  MountFixture fx(eager_compaction(3));
  std::mt19937_64 rng(seed_from_env() + 1);
  const int kFiles = 4;
  const size_t kMax = 3 << 20;
  std::map<int, std::string> model;
  auto name = [&](int f) { return fx.path("r" + std::to_string(f)); };
  auto open_rw = [&](int f) {
    int fd = ::open(name(f).c_str(), O_RDWR | O_CREAT, 0644);
    BOOST_REQUIRE_MESSAGE(fd >= 0, "open " << name(f) << ": " << errno_name(errno));
    return fd;
  };
  for (int f = 0; f < kFiles; ++f) {
    write_file(name(f), "");
    model[f] = "";
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
  int ops = 0;
  while (std::chrono::steady_clock::now() < deadline && ops < 3000) {
    ++ops;
    int f = static_cast<int>(rng() % kFiles);
    std::string& mod = model[f];
    unsigned what = rng() % 100;
    if (what < 55) {   // write somewhere, often overlapping what is there
      size_t len = 1 + rng() % (what < 10 ? 300000 : 5000);
      size_t off = rng() % (std::min(kMax, mod.size() + 10000));
      if (off + len > kMax) len = kMax - off;
      std::string data = pattern(rng(), off, len);
      int fd = open_rw(f);
      pwrite_all(fd, data.data(), len, off, "write");
      if (rng() % 2) BOOST_REQUIRE(::fsync(fd) == 0);
      BOOST_REQUIRE(::close(fd) == 0);
      if (mod.size() < off + len) mod.resize(off + len, '\0');
      mod.replace(off, len, data);
    } else if (what < 65) {   // truncate down or up
      size_t size = rng() % (mod.size() + 20000);
      BOOST_REQUIRE(::truncate(name(f).c_str(), static_cast<off_t>(size)) == 0);
      mod.resize(size, '\0');
    } else if (what < 70) {   // unlink and start over
      BOOST_REQUIRE(::unlink(name(f).c_str()) == 0);
      write_file(name(f), "");
      mod.clear();
    } else {   // read a range and compare with the model
      if (mod.empty()) continue;
      size_t off = rng() % mod.size(), len = std::min<size_t>(1 + rng() % 200000, mod.size() - off);
      int fd = ::open(name(f).c_str(), O_RDONLY);
      BOOST_REQUIRE(fd >= 0);
      std::string got = pread_exact(fd, len, off, "read " + name(f));
      ::close(fd);
      BOOST_REQUIRE_MESSAGE(got == mod.substr(off, len), "op " << ops << ": " << name(f) << " [" << off << ", +"
                                                               << len << ") differs: "
                                                               << first_difference(got, mod.substr(off, len)));
    }
  }
  BOOST_TEST_MESSAGE(ops << " operations");
  // Let the compactor catch up, then check everything.
  auto m = open_volume_meta(fx);
  bool settled = wait_until([&] {
    auto c = m->fragmented_chunks(3, 1);
    return c.ok() && c->empty();
  }, std::chrono::seconds(60));
  BOOST_TEST(settled, "fragmented chunks left after 60 s");
  for (int f = 0; f < kFiles; ++f) {
    std::string got = read_file(name(f));
    BOOST_TEST(got == model[f], name(f) << ": " << first_difference(got, model[f]));
  }
  wait_for_no_dead_blocks(fx);
  fx.unmount();
  std::string diff = store_vs_metadata(fx);
  BOOST_TEST(diff.empty(), diff);
  RunResult fsck = fx.fsck({"--check-data"});
  BOOST_TEST(fsck.code() == 0, fsck.describe());
}

BOOST_AUTO_TEST_CASE(gc_compact_rewrites_every_fragmented_chunk) {
  FixtureOptions o;
  o.mount_args = {"--allow-other", "--compact-interval", "86400"};   // the mount's compactor stays idle
  MountFixture fx(o);
  std::mt19937_64 rng(seed_from_env() + 2);
  std::map<std::string, std::string> model;
  for (int f = 0; f < 3; ++f) {
    const std::string path = fx.path("g" + std::to_string(f));
    std::string& mod = model[path];
    mod.assign((f + 1) * 100000, '\0');
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    BOOST_REQUIRE(fd >= 0);
    pwrite_all(fd, mod.data(), mod.size(), 0, "fill");
    for (int i = 0; i < 30; ++i) {
      size_t len = 1 + rng() % 2000, off = rng() % (mod.size() - len);
      std::string data = pattern(rng(), off, len);
      pwrite_all(fd, data.data(), len, off, "overwrite");
      mod.replace(off, len, data);
      BOOST_REQUIRE(::fsync(fd) == 0);
    }
    BOOST_REQUIRE(::close(fd) == 0);
  }
  fx.unmount();
  auto m = open_volume_meta(fx);
  BOOST_REQUIRE_EQUAL(m->fragmented_chunks(2, 100)->size(), 3u);
  RunResult r = fx.run_cli({"gc", fx.meta_url(), "--compact", "--min-age", "0"});
  BOOST_TEST_MESSAGE(r.out);
  BOOST_REQUIRE_MESSAGE(r.code() == 0, r.describe());
  BOOST_TEST(r.out.find("compacted 3 chunks") != std::string::npos, r.out);
  BOOST_TEST(m->fragmented_chunks(2, 100)->empty());
  BOOST_TEST(!m->dead_blocks(1)->empty());   // the old blocks wait for a deleter
  fx.mount();   // its deleter removes them (at the latest when it unmounts)
  for (auto& [path, mod] : model) BOOST_TEST(read_file(path) == mod, path);
  fx.unmount();
  BOOST_TEST(m->dead_blocks(1)->empty());
  std::string diff = store_vs_metadata(fx);
  BOOST_TEST(diff.empty(), diff);
  RunResult f = fx.fsck({"--check-data"});
  BOOST_TEST(f.code() == 0, f.describe());
}
