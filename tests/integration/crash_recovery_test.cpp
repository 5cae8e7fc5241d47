// kill -9 of the daemon (issue 5): while it writes a 200 MiB file after part
// of it was fsynced, during a storm of renames, while it holds an open but
// unlinked file, and while its compactor uploads a merged slice. After a remount every fsynced byte and every completed
// rename is there, nothing is half done; once the dead session expires (1 s
// heartbeat: 5 s) the cleaner of the new mount removes what it held, the
// store holds exactly the objects the metadata references (nothing leaked),
// and fsck --check-data is clean.
#define BOOST_TEST_MODULE crash_recovery
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "meta/meta.hpp"
#include "store/block_key.hpp"
#include "tests/support/fs_util.hpp"
#include "tests/support/mount_fixture.hpp"
#include "tests/support/mounts.hpp"
#include "tests/support/volume_check.hpp"

using namespace s3l::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kMiB = 1 << 20;

FixtureOptions fast_heartbeat() {
  FixtureOptions o;
  o.mount_args = {"--allow-other", "--heartbeat", "1"};   // stale after 5 s
  return o;
}

// SIGKILL, then clear the dead mount so that mount() can run again. Returns
// the sessions registered at the time: the dead mount's among them.
std::set<uint64_t> crash(MountFixture& fx) {
  std::set<uint64_t> before;
  auto listed = open_volume_meta(fx)->list_sessions();
  BOOST_REQUIRE_MESSAGE(listed.ok(), listed.msg());
  for (auto& s : *listed) before.insert(s.id);
  BOOST_REQUIRE(!before.empty());
  pid_t pid = fx.daemon_pid();
  BOOST_REQUIRE(pid > 0);
  BOOST_REQUIRE(::kill(pid, SIGKILL) == 0);
  std::string log;
  BOOST_REQUIRE_MESSAGE(force_unmount(fx.mountpoint(), &log), log);
  return before;
}

// The cleaner of the new mount ended the dead sessions, and the deleter has
// emptied the dead-block queue.
void wait_for_recovery(MountFixture& fx, const std::set<uint64_t>& dead) {
  auto m = open_volume_meta(fx);
  bool cleaned = wait_until([&] {
    auto s = m->list_sessions();
    if (!s.ok() || s->empty()) return false;   // the new mount registers after it appears
    for (auto& x : *s)
      if (dead.count(x.id)) return false;
    return true;
  }, std::chrono::seconds(40));
  auto sessions = m->list_sessions();
  BOOST_REQUIRE(sessions.ok());
  BOOST_REQUIRE_MESSAGE(cleaned, "the dead session was not cleaned up within 40 s: "
                                     << sessions->size() << " sessions left\n" << fx.daemon_log());
  bool drained = wait_until([&] {
    auto d = m->dead_blocks(1);
    return d.ok() && d->empty();
  }, std::chrono::seconds(40));
  BOOST_REQUIRE_MESSAGE(drained, "dead blocks were not deleted within 40 s\n" << fx.daemon_log());
}

// What gc would call leaked (none) and no committed block without its object.
void expect_store_matches_metadata(MountFixture& fx) {
  std::string diff = store_vs_metadata(fx);
  BOOST_TEST(diff.empty(), diff);
}

void expect_fsck_clean(MountFixture& fx) {
  RunResult f = fx.fsck({"--check-data"});
  BOOST_TEST(f.code() == 0, f.describe());
}

}  // namespace

BOOST_AUTO_TEST_CASE(kill_during_a_200_MiB_write_keeps_every_fsynced_byte) {
  MountFixture fx(fast_heartbeat());
  const std::string path = fx.path("big");
  const uint64_t kSynced = 100 * kMiB, kTotal = 200 * kMiB;
  std::atomic<uint64_t> written{0};
  std::atomic<bool> synced{false};
  std::string writer_error;
  std::thread writer([&] {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
      writer_error = "open: " + errno_name(errno);
      return;
    }
    std::string buf(kMiB, '\0');
    for (uint64_t off = 0; off < kTotal; off += kMiB) {
      fill_pattern(42, off, buf.data(), buf.size());
      if (::pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(off)) != static_cast<ssize_t>(buf.size()))
        break;   // the daemon is gone
      written = off + kMiB;
      if (off + kMiB == kSynced) {
        if (::fsync(fd) != 0) {
          writer_error = "fsync: " + errno_name(errno);
          break;
        }
        synced = true;
      }
    }
    ::close(fd);
  });
  bool reached = wait_until([&] { return written.load() >= kSynced + 30 * kMiB || !writer_error.empty(); }, std::chrono::seconds(120));
  BOOST_REQUIRE_MESSAGE(writer_error.empty(), writer_error);
  BOOST_REQUIRE_MESSAGE(reached && synced, "the writer did not get past the fsync: " << written.load());
  auto dead = crash(fx);
  writer.join();

  fx.mount();
  struct stat st = stat_path(path);
  BOOST_REQUIRE_GE(static_cast<uint64_t>(st.st_size), kSynced);
  // Every fsynced byte is there; what came after is either what was written
  // or never committed (a hole reads as zeros), never anything else.
  int fd = ::open(path.c_str(), O_RDONLY);
  BOOST_REQUIRE(fd >= 0);
  std::string expect(kMiB, '\0'), zeros(4096, '\0');
  for (uint64_t off = 0; off < static_cast<uint64_t>(st.st_size); off += kMiB) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kMiB, st.st_size - off));
    std::string got = pread_exact(fd, n, off, "read back");
    fill_pattern(42, off, expect.data(), n);
    if (off < kSynced) {
      BOOST_REQUIRE_MESSAGE(got.compare(0, n, expect, 0, n) == 0,
                            "fsynced MiB at " << off << " differs: " << first_difference(got, expect.substr(0, n)));
      continue;
    }
    for (size_t p = 0; p < n; p += 4096) {
      size_t k = std::min<size_t>(4096, n - p);
      bool same = got.compare(p, k, expect, p, k) == 0, hole = got.compare(p, k, zeros, 0, k) == 0;
      BOOST_REQUIRE_MESSAGE(same || hole, "unsynced byte range at " << off + p << " is neither the data nor a hole");
    }
  }
  ::close(fd);
  wait_for_recovery(fx, dead);
  fx.unmount();
  expect_store_matches_metadata(fx);
  expect_fsck_clean(fx);
}

BOOST_AUTO_TEST_CASE(kill_during_a_rename_storm_leaves_no_rename_half_done) {
  MountFixture fx(fast_heartbeat());
  const int kFiles = 1500;
  BOOST_REQUIRE(::mkdir(fx.path("a").c_str(), 0755) == 0);
  BOOST_REQUIRE(::mkdir(fx.path("b").c_str(), 0755) == 0);
  for (int i = 0; i < kFiles; ++i) write_file(fx.path("a/f" + std::to_string(i)), "content " + std::to_string(i));
  std::vector<std::atomic<int>> done(kFiles);   // 1: rename returned 0
  for (auto& d : done) d = 0;
  std::atomic<int> completed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t)
    threads.emplace_back([&, t] {
      for (int i = t; i < kFiles; i += 2) {
        std::string from = fx.path("a/f" + std::to_string(i)), to = fx.path("b/g" + std::to_string(i));
        if (::rename(from.c_str(), to.c_str()) != 0) return;   // the daemon is gone
        done[i] = 1;
        ++completed;
      }
    });
  auto give_up = std::chrono::steady_clock::now() + 120s;
  while (completed.load() < kFiles / 3 && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(1ms);
  BOOST_REQUIRE_MESSAGE(completed.load() >= kFiles / 3, "renames too slow: " << completed.load());
  auto dead = crash(fx);
  for (auto& th : threads) th.join();
  BOOST_TEST_MESSAGE(completed.load() << " of " << kFiles << " renames completed before the kill");
  BOOST_REQUIRE_LT(completed.load(), kFiles);   // the kill really interrupted the storm

  fx.mount();
  for (int i = 0; i < kFiles; ++i) {
    std::string a = fx.path("a/f" + std::to_string(i)), b = fx.path("b/g" + std::to_string(i));
    bool in_a = ::access(a.c_str(), F_OK) == 0, in_b = ::access(b.c_str(), F_OK) == 0;
    BOOST_TEST_REQUIRE(in_a != in_b, "file " << i << ": under the old name " << in_a << ", the new name " << in_b);
    if (done[i]) BOOST_TEST_REQUIRE(in_b, "completed rename " << i << " is not visible");
    BOOST_TEST(read_file(in_b ? b : a) == "content " + std::to_string(i));
  }
  BOOST_TEST(stat_path(fx.path("a")).st_nlink == 2u);
  wait_for_recovery(fx, dead);
  fx.unmount();
  expect_store_matches_metadata(fx);
  expect_fsck_clean(fx);
}

BOOST_AUTO_TEST_CASE(open_unlinked_file_of_a_killed_holder_is_freed_by_the_cleaner) {
  MountFixture fx(fast_heartbeat());
  const std::string path = fx.path("held");
  write_pattern_file(path, 5, 9 * kMiB);
  write_pattern_file(fx.path("kept"), 6, 3 * kMiB);
  int fd = ::open(path.c_str(), O_RDWR);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE(::unlink(path.c_str()) == 0);
  std::string head = pread_exact(fd, 4096, 0, "read after unlink");
  BOOST_TEST(head == pattern(5, 0, 4096));
  pwrite_all(fd, "still writable", 14, 0, "write after unlink");
  BOOST_REQUIRE(::fsync(fd) == 0);
  const size_t objects_held = fx.object_keys().size();
  auto dead = crash(fx);
  ::close(fd);

  fx.mount();
  wait_for_recovery(fx, dead);
  BOOST_TEST(fx.object_keys().size() < objects_held);   // the held file's objects are gone
  BOOST_TEST(check_pattern_file(fx.path("kept"), 6, 3 * kMiB) == "");
  fx.unmount();
  expect_store_matches_metadata(fx);
  expect_fsck_clean(fx);
  auto m = open_volume_meta(fx);
  BOOST_TEST(m->statfs()->used_bytes == 3 * kMiB);
}

// The mount's compactor reads the chunk's visible bytes, uploads them as a
// pending slice and only then swaps the slice lists in one transaction. A kill
// anywhere before that swap must leave the old slices (and their blocks'
// reference counts) exactly as they were; the pending slice and whatever of
// its blocks reached the store belong to the dead session, and the cleaner
// removes them.
BOOST_AUTO_TEST_CASE(kill_during_a_compaction_keeps_the_old_slices_and_frees_the_new_one) {
  // A writes the fragmented file and never compacts (the highest threshold:
  // neither its scan nor its handles' compaction hints fire), so that
  // nothing but B (below) ever compacts it.
  FixtureOptions a = fast_heartbeat();
  a.mount_args.insert(a.mount_args.end(), {"--compact-threshold", "100000", "--compact-interval", "86400"});
  MountFixture fx(a);
  const std::string path = fx.path("fragmented");
  const uint64_t kSize = 64 * kMiB;   // one whole chunk: the compaction uploads 64 MiB
  std::string model = pattern(11, 0, kSize);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
  BOOST_REQUIRE(fd >= 0);
  for (uint64_t off = 0; off < kSize; off += kMiB) pwrite_all(fd, model.data() + off, kMiB, off, "fill");
  BOOST_REQUIRE(::fsync(fd) == 0);
  std::mt19937_64 rng(11);
  for (int i = 0; i < 400; ++i) {
    size_t len = 1 + rng() % 3000, off = rng() % (kSize - len);
    std::string data = pattern(rng(), off, len);
    pwrite_all(fd, data.data(), len, off, "overwrite " + std::to_string(i));
    model.replace(off, len, data);
    if (i % 4 == 3) BOOST_REQUIRE(::fsync(fd) == 0);   // each commit: slices of their own
  }
  BOOST_REQUIRE(::close(fd) == 0);
  const uint64_t ino = stat_path(path).st_ino;
  fx.unmount();

  auto m = open_volume_meta(fx);
  const auto vol = *m->load_settings();
  // Non-fatal on purpose: they also run while B is stopped (see below).
  auto slices_of = [&] {
    std::vector<std::pair<uint64_t, std::vector<uint64_t>>> out;   // slice id, its block ids
    auto sl = m->chunk_slices(ino, 0);
    BOOST_TEST(sl.ok(), sl.msg());
    if (!sl.ok()) return out;
    for (auto& s : *sl) {
      out.emplace_back(s.id, std::vector<uint64_t>{});
      for (auto& b : s.blocks) out.back().second.push_back(b.id);
    }
    return out;
  };
  auto pending = [&] {
    auto r = m->gc_references([](const s3l::meta::GcBlockRef&) {});
    BOOST_TEST(r.ok(), r.msg());
    return r.ok() ? *r : s3l::meta::GcReferences{};
  };
  const auto before = slices_of();
  BOOST_TEST_MESSAGE(before.size() << " slices in chunk 0 before the compaction");
  BOOST_REQUIRE_GE(before.size(), 100u);
  const auto idle = pending();
  BOOST_REQUIRE(idle.pending_slices.empty());
  const uint64_t kBlocks = kSize / vol.block_size;   // all of block size
  BOOST_REQUIRE_GE(kBlocks, 4u);
  const uint32_t kHalf = static_cast<uint32_t>(kBlocks / 2);

  // B mounts the volume and compacts at once.
  FixtureOptions b = fast_heartbeat();
  b.same_volume_as = &fx;
  b.mount_args.insert(b.mount_args.end(), {"--compact-threshold", "16", "--compact-interval", "1"});
  auto compacting = std::make_unique<MountFixture>(b);
  auto store = fx.open_store();
  // Catch it mid-upload: the merged slice is pending (a slice id handed out
  // after the writes) and half of its blocks are in the store (so the cleaner
  // has to name more than the first one). Then freeze B (SIGSTOP) so that
  // what is seen is the state the kill lands in.
  uint64_t merged = 0;
  bool caught = false;
  const auto give_up = std::chrono::steady_clock::now() + 60s;
  while (!caught && std::chrono::steady_clock::now() < give_up) {
    if (merged == 0)
      for (uint64_t id : pending().pending_slices)
        if (id >= idle.next_slice_id) merged = id;
    if (merged != 0)
      caught = store->head(s3l::store::block_key(vol.name, merged, kHalf - 1, static_cast<uint32_t>(vol.block_size))).ok();
    if (!caught) std::this_thread::sleep_for(2ms);
  }
  const pid_t pid = compacting->daemon_pid();
  BOOST_REQUIRE(pid > 0);
  // Gathered while B is stopped, judged after the kill: nothing in between
  // may throw and leave B stopped.
  bool stopped = caught && ::kill(pid, SIGSTOP) == 0;
  const auto frozen_slices = slices_of();
  const auto frozen = pending();
  size_t uploaded = 0;
  std::string listing_error;
  try {
    for (const auto& k : fx.object_keys()) {
      auto key = s3l::store::parse_block_key(k);
      if (key.ok() && key->slice_id == merged) ++uploaded;
    }
  } catch (const std::exception& e) {
    listing_error = e.what();
  }
  if (stopped) ::kill(pid, SIGKILL);   // crash() kills again and clears the mount
  auto dead = crash(*compacting);
  BOOST_REQUIRE_MESSAGE(listing_error.empty(), listing_error);
  BOOST_REQUIRE_MESSAGE(caught, "no compaction was seen uploading within 60 s\n" << compacting->daemon_log());
  compacting.reset();
  BOOST_TEST_MESSAGE("killed with " << uploaded << " of " << kBlocks << " blocks of slice " << merged << " uploaded");
  const bool still_pending = std::binary_search(frozen.pending_slices.begin(), frozen.pending_slices.end(), merged);
  BOOST_REQUIRE_MESSAGE(still_pending && frozen_slices == before,
                        "the compaction had already swapped its slice in when the kill landed (slice "
                            << merged << " pending: " << still_pending << ", chunk 0 has " << frozen_slices.size()
                            << " slices): the kill did not land during the compaction");
  BOOST_TEST(uploaded >= kHalf);
  // Nothing of the old slices was released: no block is queued for deletion
  // and every reference count matches its references.
  BOOST_TEST(m->dead_blocks(1)->empty());
  auto problems = m->check_consistency();
  BOOST_REQUIRE_MESSAGE(problems.ok(), problems.msg());
  BOOST_TEST(problems->empty(), problems->size() << " metadata problems right after the kill, the first: "
                                                 << (problems->empty() ? "" : problems->front().kind + " " +
                                                     problems->front().where + ": " + problems->front().detail));

  // Remount (A, no compaction): the file is the model, byte for byte.
  fx.mount();
  BOOST_TEST(stat_path(path).st_size == static_cast<off_t>(kSize));
  std::string got = read_file(path);
  BOOST_TEST(got == model, first_difference(got, model));
  wait_for_recovery(fx, dead);
  const bool unchanged = slices_of() == before;
  BOOST_TEST(unchanged, "the slices of chunk 0 changed during the recovery");
  auto after = pending();
  BOOST_TEST(after.pending_slices.empty());
  for (const auto& k : fx.object_keys()) {
    auto key = s3l::store::parse_block_key(k);
    BOOST_TEST(!(key.ok() && key->slice_id == merged), "object " << k << " of the killed compaction is left");
  }
  fx.unmount();
  expect_store_matches_metadata(fx);
  expect_fsck_clean(fx);
  RunResult gc = fx.run_cli({"gc", fx.meta_url(), "--min-age", "0"});
  BOOST_TEST(gc.code() == 0, gc.describe());
  BOOST_TEST(gc.out.find("gc: leaked: 0 objects") != std::string::npos, gc.out);
}
