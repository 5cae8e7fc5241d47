// `s3layerfs-daemon gc` against a real volume: objects put into the store on
// purpose (leaked block keys, a young one, keys that are not block keys, a
// slice id never handed out, objects of a pending slice, a dead block) are
// each counted in their own category with exact bytes; only the leaked ones
// are deleted, and only with --delete; files still read byte-exact and fsck
// is clean afterwards. And gc --min-age 0 --delete, run again and again
// while a mount writes a large file, never deletes an object of that file.
#define BOOST_TEST_MODULE gc_cli
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "meta/meta.hpp"
#include "store/block_key.hpp"
#include "tests/support/fs_util.hpp"
#include "tests/support/mount_fixture.hpp"
#include "util/clock.hpp"
#include "util/sha256.hpp"

using namespace s3l::test;
namespace meta = s3l::meta;
namespace store = s3l::store;

namespace {

constexpr uint64_t MiB = 1024 * 1024;
const std::string kVol = "s3ltest";   // the volume name MountFixture formats

struct Tally {
  bool found = false;
  uint64_t objects = 0, bytes = 0;
};

// "gc: <label>: N objects, B bytes" from gc's summary.
Tally tally(const std::string& out, const std::string& label) {
  std::smatch m;
  std::regex re("gc: " + label + ": ([0-9]+) objects, ([0-9]+) bytes");
  Tally t;
  if (std::regex_search(out, m, re)) {
    t.found = true;
    t.objects = std::stoull(m[1]);
    t.bytes = std::stoull(m[2]);
  }
  return t;
}

void expect_tally(const RunResult& r, const std::string& label, uint64_t objects, uint64_t bytes) {
  Tally t = tally(r.out, label);
  BOOST_CHECK_MESSAGE(t.found && t.objects == objects && t.bytes == bytes,
                      "gc '" << label << "': expected " << objects << " objects, " << bytes << " bytes; got "
                             << (t.found ? std::to_string(t.objects) + " objects, " + std::to_string(t.bytes) + " bytes"
                                         : std::string("no such line"))
                             << "\n" << r.describe());
}

void put(store::ObjectStore& st, const std::string& key, size_t size) {
  std::string data = pattern(key.size(), 0, size);
  s3l::Status s = st.put(key, data.data(), data.size());
  BOOST_REQUIRE_MESSAGE(s.ok(), "put " << key << ": " << s.msg);
}

std::set<std::string> key_set(const MountFixture& m) {
  auto v = m.object_keys();
  return std::set<std::string>(v.begin(), v.end());
}

uint64_t ino_of(meta::Meta& md, const std::string& name) {
  auto a = md.lookup(meta::kRootIno, name);
  BOOST_REQUIRE_MESSAGE(a.ok(), "lookup " << name << ": " << a.msg());
  return a->ino;
}

}  // namespace

BOOST_AUTO_TEST_CASE(gc_counts_every_category_and_deletes_only_leaked_objects) {
  MountFixture m;
  BOOST_TEST_MESSAGE("meta: " << m.meta_url() << ", storage: " << m.storage_url());
  write_pattern_file(m.path("a.bin"), 1, 9 * MiB + 3);
  write_pattern_file(m.path("b.bin"), 2, MiB);
  write_file(m.path("small.txt"), "hello");
  write_file(m.path("dead.bin"), "0123456789");
  m.unmount();

  // What the files left in the store: every block key is referenced.
  auto st = m.open_store();
  auto listed = st->list(store::chunks_prefix(kVol));
  BOOST_REQUIRE_MESSAGE(listed.ok(), listed.msg());
  uint64_t ref_objects = 0, ref_bytes = 0;
  std::vector<uint64_t> slices;
  for (const auto& o : *listed) {
    auto k = store::parse_block_key(o.key);
    BOOST_REQUIRE_MESSAGE(k.ok(), k.msg());
    ++ref_objects;
    ref_bytes += o.size;
    slices.push_back(k->slice_id);
  }
  BOOST_REQUIRE_EQUAL(ref_objects, 6u);   // a.bin 3 blocks, b.bin, small.txt, dead.bin
  std::sort(slices.begin(), slices.end());
  const uint64_t s1 = slices.front(), s2 = slices.back();
  const std::set<std::string> files_keys = key_set(m);

  // Through the metadata: a pending slice with two uploaded objects (an
  // upload in flight), and dead.bin truncated to 0 so its block is queued
  // for the deleter (no mount runs, so it stays queued).
  auto opened = meta::open_meta(m.meta_url(), false);
  BOOST_REQUIRE_MESSAGE(opened.ok(), opened.msg());
  auto& md = *opened.value;
  meta::SessionInfo si;
  si.host = "gc-test";
  si.pid = ::getpid();
  si.mountpoint = "/nowhere";
  si.version = "test";
  auto sid = md.register_session(si);
  BOOST_REQUIRE_MESSAGE(sid.ok(), sid.msg());
  auto pending = md.begin_slice(ino_of(md, "b.bin"), 0, *sid);
  BOOST_REQUIRE_MESSAGE(pending.ok(), pending.msg());
  const std::string p0 = store::block_key(kVol, *pending, 0, 4096), p1 = store::block_key(kVol, *pending, 1, 100);
  put(*st, p0, 4096);
  put(*st, p1, 100);
  auto tr = md.truncate(ino_of(md, "dead.bin"), 0, s3l::now_ns());
  BOOST_REQUIRE_MESSAGE(tr.ok(), tr.msg());

  // Leaked: valid block keys of existing slices that no block names.
  const std::vector<std::pair<std::string, size_t>> leaked = {
      {store::block_key(kVol, s1, 7, 1234), 1234}, {store::block_key(kVol, s1, 8, 100), 100},
      {store::block_key(kVol, s2, 9, 5000), 5000}};
  for (auto& [k, n] : leaked) put(*st, k, n);
  const std::string unallocated = store::block_key(kVol, 123456789, 0, 77);   // far beyond the slice counter
  put(*st, unallocated, 77);
  const std::string junk1 = kVol + "/chunks/junk.txt", junk2 = kVol + "/chunks/0/0/01_0_5";   // not block keys
  put(*st, junk1, 10);
  put(*st, junk2, 5);
  const std::string outside = kVol + "/notes/keep-me";   // outside chunks/: never even listed
  put(*st, outside, 5);
  std::this_thread::sleep_for(std::chrono::seconds(12));
  const std::string young = store::block_key(kVol, s1, 10, 333);
  put(*st, young, 333);

  const std::vector<std::string> gc = {"gc", m.meta_url()};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = gc;
    a.insert(a.end(), extra.begin(), extra.end());
    return m.run_cli(a);
  };

  // Report only: every category exact; exit 1 because leaked objects remain.
  RunResult r = with({"--min-age", "6", "--log-level", "info"});
  BOOST_TEST_MESSAGE("gc --min-age 6:\n" << r.out);
  BOOST_CHECK_MESSAGE(r.code() == 1, r.describe());
  expect_tally(r, "listed", ref_objects + 9, ref_bytes + 4096 + 100 + 6334 + 77 + 15 + 333);
  expect_tally(r, "referenced", ref_objects - 1, ref_bytes - 10);
  expect_tally(r, "dead-queued", 1, 10);
  expect_tally(r, "pending-slice", 2, 4196);
  expect_tally(r, "too-young", 1, 333);
  expect_tally(r, "unallocated-id", 1, 77);
  expect_tally(r, "unrecognised", 2, 15);
  expect_tally(r, "vanished", 0, 0);
  expect_tally(r, "leaked", 3, 6334);
  for (auto& [k, n] : leaked)
    BOOST_CHECK_MESSAGE(r.err.find("leaked: " + k + " ") != std::string::npos, "no info line for " << k << "\n" << r.err);
  BOOST_CHECK_MESSAGE(r.err.find("leaked: " + young) == std::string::npos, r.err);
  BOOST_CHECK_MESSAGE(r.err.find("not block keys of this volume") != std::string::npos, "no warning:\n" << r.err);
  BOOST_CHECK_MESSAGE(r.out.find("run with --delete") != std::string::npos, r.out);
  std::set<std::string> all_keys = key_set(m);
  for (auto& [k, n] : leaked) BOOST_CHECK_MESSAGE(all_keys.count(k), "deleted without --delete: " << k);

  // The default --min-age (1 h): nothing here is old enough to judge.
  r = with({});
  BOOST_CHECK_MESSAGE(r.code() == 0, r.describe());
  expect_tally(r, "leaked", 0, 0);
  expect_tally(r, "too-young", 4, 6334 + 333);
  BOOST_CHECK_MESSAGE(r.out.find("less than 3600 s") != std::string::npos, r.out);

  // --delete: exactly the leaked objects go.
  r = with({"--min-age", "6", "--delete", "--threads", "2", "--log-level", "info"});
  BOOST_TEST_MESSAGE("gc --min-age 6 --delete:\n" << r.out);
  BOOST_CHECK_MESSAGE(r.code() == 0, r.describe());
  expect_tally(r, "leaked", 3, 6334);
  expect_tally(r, "deleted", 3, 6334);
  std::set<std::string> expect = all_keys;
  for (auto& [k, n] : leaked) expect.erase(k);
  BOOST_CHECK(key_set(m) == expect);
  BOOST_CHECK_MESSAGE(key_set(m).count(store::settings_key(kVol)), "the volume marker is gone");
  BOOST_CHECK(key_set(m).count(outside));

  // The upload is abandoned: its objects are now leaked too (and the young
  // object is judged with --min-age 0); everything else stays.
  BOOST_REQUIRE(md.abort_slice(*pending).ok());
  r = with({"--min-age", "0", "--delete"});
  BOOST_CHECK_MESSAGE(r.code() == 0, r.describe());
  expect_tally(r, "pending-slice", 0, 0);
  expect_tally(r, "deleted", 3, 4096 + 100 + 333);
  expect = files_keys;
  for (const auto& k : {unallocated, junk1, junk2, outside}) expect.insert(k);
  BOOST_CHECK(key_set(m) == expect);
  r = with({"--min-age", "0"});
  BOOST_CHECK_MESSAGE(r.code() == 0, r.describe());
  expect_tally(r, "leaked", 0, 0);
  expect_tally(r, "dead-queued", 1, 10);
  BOOST_REQUIRE(md.close_session(*sid).ok());
  opened.value.reset();

  // The files are intact; the mount's deleter takes the dead block; fsck is clean.
  remove_tree(m.root() + "/cache");
  m.mount();
  BOOST_CHECK_EQUAL(check_pattern_file(m.path("a.bin"), 1, 9 * MiB + 3), "");
  BOOST_CHECK_EQUAL(check_pattern_file(m.path("b.bin"), 2, MiB), "");
  BOOST_CHECK_EQUAL(read_file(m.path("small.txt")), "hello");
  BOOST_CHECK_EQUAL(read_file(m.path("dead.bin")), "");
  m.unmount();
  RunResult f = m.fsck({"--check-data"});
  BOOST_CHECK_MESSAGE(f.code() == 0, f.describe());
  r = with({"--min-age", "0"});
  BOOST_CHECK_MESSAGE(r.code() == 0, r.describe());
  expect_tally(r, "referenced", ref_objects - 1, ref_bytes - 10);
  expect_tally(r, "dead-queued", 0, 0);
}

BOOST_AUTO_TEST_CASE(gc_while_a_large_file_is_written_deletes_none_of_it) {
  // One upload at a time: each slice stays pending (blocks in the store, no
  // block rows yet) for as long as possible.
  FixtureOptions fo;
  fo.mount_args = {"--allow-other", "--max-uploads", "1"};
  MountFixture m(fo);
  constexpr uint64_t kSize = 160 * MiB;
  const std::string src = m.root() + "/src.bin";   // local disk, outside the mount
  write_pattern_file(src, 7, kSize);

  // The writer is another process (a test thread blocked in a FUSE write
  // would stall the fork of each gc run, tests/README.md). It writes slowly,
  // so that slices stay pending (blocks uploaded, not yet committed) for a
  // long time, and fsyncs at the end.
  const std::string script =
      "import os, sys, time\n"
      "with open(sys.argv[1], 'rb') as f, open(sys.argv[2], 'wb') as g:\n"
      "    while True:\n"
      "        b = f.read(1 << 20)\n"
      "        if not b: break\n"
      "        g.write(b)\n"
      "        time.sleep(0.01)\n"
      "    g.flush()\n"
      "    os.fsync(g.fileno())\n";
  Child writer({"python3", "-c", script, src, m.path("big.bin")}, m.root() + "/writer.out", m.root() + "/writer.err");

  int runs = 0, saw_pending = 0;
  while (writer.running()) {
    RunResult r = m.run_cli({"gc", m.meta_url(), "--min-age", "0", "--delete", "--log-level", "info"});
    ++runs;
    BOOST_CHECK_MESSAGE(r.code() == 0, "gc run " << runs << ": " << r.describe());
    Tally d = tally(r.out, "deleted");
    BOOST_CHECK_MESSAGE(d.found && d.objects == 0, "gc run " << runs << " deleted objects:\n" << r.describe());
    if (tally(r.out, "pending-slice").objects > 0) ++saw_pending;
    if (!d.found || d.objects > 0) break;
  }
  auto ws = writer.wait_for(milliseconds(120000));
  BOOST_REQUIRE_MESSAGE(ws && ws->exited && ws->code == 0,
                        "writer: " << (ws ? ws->describe() : "still running") << " " << slurp(m.root() + "/writer.err"));
  BOOST_TEST_MESSAGE(runs << " gc runs during the write, " << saw_pending << " saw objects of pending slices");
  BOOST_CHECK_MESSAGE(runs >= 3, "too few gc runs overlapped the write: " << runs);
  // Objects of uploads in flight were seen, so the race was really exercised.
  BOOST_CHECK_MESSAGE(saw_pending > 0, "no gc run saw an object of a pending slice in " << runs << " runs");

  BOOST_CHECK_EQUAL(check_pattern_file(m.path("big.bin"), 7, kSize), "");
  m.unmount();
  RunResult f = m.fsck({"--check-data"});
  BOOST_CHECK_MESSAGE(f.code() == 0, f.describe());
  remove_tree(m.root() + "/cache");
  m.mount();
  BOOST_CHECK_EQUAL(check_pattern_file(m.path("big.bin"), 7, kSize), "");
}

BOOST_AUTO_TEST_CASE(gc_runtime_errors_exit_3_usage_errors_exit_2) {
  RunResult r = run({MountFixture::daemon_path(), "gc", "sqlite3:///nonexistent-s3l-dir/meta.db"});
  BOOST_CHECK_MESSAGE(r.code() == 3 && r.err.find("s3layerfs-daemon: gc: ") != std::string::npos, r.describe());
  r = run({MountFixture::daemon_path(), "gc", "sqlite3:///nonexistent-s3l-dir/meta.db", "--threads", "0"});
  BOOST_CHECK_MESSAGE(r.code() == 2 && r.err.find("--threads") != std::string::npos, r.describe());
}
