// Consistency checks and repairs of the metadata engine: every problem kind
// is injected on purpose with raw SQL on a second connection, must then be
// reported, and where the repair claims to fix it, repair_consistency must
// leave a volume that checks clean, with the file data rows untouched. Kinds
// the repair must NOT fix (broken files, stale sessions that still have a
// row, sizes) are checked to remain.
#define BOOST_TEST_MODULE meta_fsck
#include "meta_fixture.hpp"

using namespace s3l;
using namespace s3l::meta;
using namespace s3l::meta::test;

namespace {

std::string n(uint64_t v) { return std::to_string(v); }
constexpr int64_t kSecond = 1'000'000'000;

struct FsckFixture : MetaFixture {
  CheckOptions at(int64_t now, int64_t expiry_s = 60) {
    CheckOptions o;
    o.now_ns = now;
    o.session_expiry_ns = expiry_s * kSecond;
    return o;
  }
  std::vector<Problem> problems_at(const CheckOptions& o) {
    auto r = m->check_consistency(o);
    BOOST_REQUIRE_MESSAGE(r.ok(), "check_consistency: " << r.msg());
    return *r;
  }
  static bool listed(const std::vector<Problem>& ps, const std::string& kind, const std::string& where_part,
                     const std::string& detail_part = "") {
    for (const Problem& p : ps)
      if (p.kind == kind && p.where.find(where_part) != std::string::npos &&
          p.detail.find(detail_part) != std::string::npos)
        return true;
    return false;
  }
  static std::string describe(const std::vector<Problem>& ps) {
    std::string s;
    for (const Problem& p : ps) s += "\n  " + p.kind + " | " + p.where + " | " + p.detail;
    return s.empty() ? " (none)" : s;
  }
  // The problem must be reported (at the fixture's clock, kT0).
  void expect_problem(const std::string& kind, const std::string& where_part, const std::string& detail_part = "") {
    auto ps = problems();
    BOOST_CHECK_MESSAGE(listed(ps, kind, where_part, detail_part),
                        "expected " << kind << " at '" << where_part << "'; found:" << describe(ps));
  }

  std::vector<RepairAction> repair(const CheckOptions& o) {
    std::vector<RepairAction> done;
    Status st = m->repair_consistency(o, &done);
    BOOST_REQUIRE_MESSAGE(st.ok(), "repair_consistency: " << st.msg);
    for (const RepairAction& a : done)
      BOOST_TEST_MESSAGE((a.done ? "repaired " : "declined ") << a.kind << " | " << a.where << " | " << a.action);
    return done;
  }
  std::vector<RepairAction> repair() { return repair(at(kT0)); }
  static bool did(const std::vector<RepairAction>& done, const std::string& kind, const std::string& where_part,
                  const std::string& action_part = "") {
    for (const RepairAction& a : done)
      if (a.done && a.kind == kind && a.where.find(where_part) != std::string::npos &&
          a.action.find(action_part) != std::string::npos)
        return true;
    return false;
  }
  // Repairs, requires the named repair among the actions, and a clean re-check.
  std::vector<RepairAction> repair_to_clean(const std::string& kind, const std::string& where_part,
                                            const std::string& action_part = "") {
    auto done = repair();
    BOOST_CHECK_MESSAGE(did(done, kind, where_part, action_part),
                        "repair should have done " << kind << " at '" << where_part << "' (" << action_part << ")");
    auto ps = problems();
    BOOST_CHECK_MESSAGE(ps.empty(), "problems left after repair:" << describe(ps));
    auto again = repair();
    BOOST_CHECK_MESSAGE(again.empty(), "a second repair of a clean volume changed " << again.size() << " things");
    return done;
  }

  // Raw SQL with a name (blobs have no portable literal).
  void raw_entry(uint64_t parent, const std::string& name, uint64_t ino) {
    auto c = open_sql_conn(url, false);
    BOOST_REQUIRE_MESSAGE(c.ok(), c.msg());
    try {
      Query(**c, "INSERT INTO entries (parent, name, ino) VALUES ($1, $2, $3)").bind(1, parent).blob(2, name).bind(3, ino).run();
    } catch (const DbError& e) {
      BOOST_FAIL("raw insert failed: " << e.what());
    }
  }
  uint64_t raw_count(const std::string& sql) {
    auto c = open_sql_conn(url, false);
    BOOST_REQUIRE_MESSAGE(c.ok(), c.msg());
    try {
      Query q(**c, sql);
      BOOST_REQUIRE(q.next());
      return q.u64(0);
    } catch (const DbError& e) {
      BOOST_FAIL("raw query failed: " << e.what());
    }
    return 0;
  }
  size_t slice_count(uint64_t ino, uint64_t chunk) {
    auto r = m->chunk_slices(ino, chunk);
    BOOST_REQUIRE_MESSAGE(r.ok(), "chunk_slices: " << r.msg());
    return r->size();
  }
  // An append of `len` bytes through commit_append.
  Attr append(uint64_t ino, uint64_t len) {
    auto id = m->begin_slice(ino, 0, session);
    BOOST_REQUIRE_MESSAGE(id.ok(), id.msg());
    auto a = m->commit_append(make_slice(*id, ino, 0, 0, len), kT0);
    BOOST_REQUIRE_MESSAGE(a.ok(), "commit_append: " << a.msg());
    return *a;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(fsck, FsckFixture)

BOOST_AUTO_TEST_CASE(path_of) {
  Attr a = mkdir(kRootIno, "a");
  Attr b = mkdir(a.ino, "b");
  Attr c = mk(b.ino, "c");
  BOOST_TEST(m->path_of(kRootIno) == "/");
  BOOST_TEST(m->path_of(c.ino) == "/a/b/c");
  BOOST_TEST(m->path_of(999999) == "<ino 999999>");
  BOOST_REQUIRE(m->unlink(b.ino, "c", session, kT0).ok());
  BOOST_TEST(m->path_of(c.ino) == "<ino " + n(c.ino) + ">");
}

BOOST_AUTO_TEST_CASE(clean_volume_has_no_problems_and_nothing_to_repair) {
  Attr d = mkdir(kRootIno, "d");
  Attr f = mk(d.ino, "f");
  write(f.ino, 0, 0, 100000);
  write(f.ino, 1, 0, 10);
  BOOST_REQUIRE(m->link(f.ino, kRootIno, "hard", kT0).ok());
  BOOST_REQUIRE(m->truncate(f.ino, 5000, kT0).ok());
  mk(kRootIno, "l", S_IFLNK | 0777, "target");
  // An append across a chunk end: two slice rows share every block (refs 2).
  Attr g = mk(kRootIno, "g");
  write(g.ino, 0, 0, kChunk - 1000);
  append(g.ino, 3000);
  BOOST_REQUIRE_EQUAL(raw_count("SELECT COUNT(*) FROM blocks WHERE refs = 2"), 1u);
  // An orphan and a pending slice of the live session are fine.
  Attr o = mk(kRootIno, "o");
  BOOST_REQUIRE(m->unlink(kRootIno, "o", session, kT0).ok());
  BOOST_REQUIRE(m->begin_slice(g.ino, 0, session).ok());
  expect_consistent();
  auto done = repair();
  BOOST_TEST(done.empty(), done.size() << " repairs on a clean volume");
  BOOST_TEST(attr(o.ino).nlink == 0u);   // still held by its session
}

// ---- entries --------------------------------------------------------------

BOOST_AUTO_TEST_CASE(dangling_entry) {
  Attr d = mkdir(kRootIno, "dir");
  Attr g = mk(d.ino, "ghost");
  raw("DELETE FROM inodes WHERE ino = " + n(g.ino));   // portable SQL: no blob literals
  expect_problem("dangling-entry", "/dir/ghost", "missing inode " + n(g.ino));
  // unlink removes such an entry, rmdir and rename refuse with EIO
  BOOST_TEST(m->rename(d.ino, "ghost", d.ino, "x", 0, session, kT0).err() == EIO);
  BOOST_TEST(m->rmdir(d.ino, "ghost", kT0).err == EIO);
  BOOST_TEST(m->lookup(d.ino, "ghost").err() == ENOENT);
  BOOST_REQUIRE(m->unlink(d.ino, "ghost", session, kT0).ok());
  BOOST_TEST(!has_problem("dangling-entry", "/dir/ghost"));
}

BOOST_AUTO_TEST_CASE(dangling_entry_is_dropped_by_repair) {
  Attr d = mkdir(kRootIno, "d");
  Attr f = mk(d.ino, "f");
  Attr sub = mkdir(d.ino, "sub");
  raw("DELETE FROM inodes WHERE ino = " + n(sub.ino));   // a subdirectory vanishes, its entry stays
  expect_problem("dangling-entry", "/d/sub", "missing inode " + n(sub.ino));
  expect_problem("nlink-mismatch", "/d");                 // it no longer counts as a subdirectory
  expect_problem("counter-mismatch", "counters.inodes");
  repair_to_clean("dangling-entry", "/d/sub", "entry removed");
  BOOST_TEST(m->lookup(d.ino, "sub").err() == ENOENT);
  BOOST_TEST(m->lookup(d.ino, "f")->ino == f.ino);
  BOOST_TEST(attr(d.ino).nlink == 2u);
  auto st = m->statfs();
  BOOST_REQUIRE(st.ok());
  BOOST_TEST(st->inodes == raw_count("SELECT COUNT(*) FROM inodes"));
}

BOOST_AUTO_TEST_CASE(entries_in_a_missing_or_non_directory_parent) {
  Attr d = mkdir(kRootIno, "d");
  Attr f = mk(d.ino, "f");
  write(f.ino, 0, 0, 5000);
  Attr g = mk(kRootIno, "g");
  Attr h = mk(kRootIno, "h");
  raw("DELETE FROM inodes WHERE ino = " + n(d.ino));   // the directory row vanishes, its entries stay
  raw_entry(g.ino, "inner", h.ino);                    // an entry inside a regular file
  expect_problem("dangling-entry", "/d");
  expect_problem("bad-parent", "<ino " + n(d.ino) + ">/f", "missing inode " + n(d.ino));
  expect_problem("bad-parent", "/g/inner", "non-directory inode " + n(g.ino));
  expect_problem("unreachable-inode", "unreachable inode " + n(f.ino), "cut off from the root");
  expect_problem("nlink-mismatch", "/h", "2 entries");
  auto done = repair_to_clean("bad-parent", "/g/inner", "entry removed");
  BOOST_TEST(did(done, "bad-parent", "<ino " + n(d.ino) + ">/f"));
  BOOST_TEST(did(done, "unreachable-inode", "unreachable inode " + n(f.ino), "/lost+found/#" + n(f.ino)));
  BOOST_TEST(m->path_of(f.ino) == "/lost+found/#" + n(f.ino));
  BOOST_TEST(slice_count(f.ino, 0) == 1u);   // the data came along
  BOOST_TEST(attr(h.ino).nlink == 1u);
  BOOST_TEST(m->lookup(kRootIno, "h")->ino == h.ino);
}

// ---- link counts ------------------------------------------------------------

BOOST_AUTO_TEST_CASE(nlink_mismatch) {
  Attr f = mk(kRootIno, "f");
  Attr d = mkdir(kRootIno, "d");
  Attr h = mk(d.ino, "h");
  BOOST_REQUIRE(m->link(h.ino, kRootIno, "h2", kT0).ok());
  raw("UPDATE inodes SET nlink = 5 WHERE ino = " + n(f.ino));
  raw("UPDATE inodes SET nlink = 7 WHERE ino = " + n(d.ino));
  raw("UPDATE inodes SET nlink = 1 WHERE ino = " + n(h.ino));   // two entries name it
  raw("UPDATE inodes SET nlink = 2 WHERE ino = 1");              // the root has a subdirectory
  expect_problem("nlink-mismatch", "/f", "nlink 5 but 1 entries");
  expect_problem("nlink-mismatch", "/d", "expected 2 + 0 subdirectories");
  expect_problem("nlink-mismatch", "/h2", "nlink 1 but 2 entries");   // path_of: the first name in (parent, name) order
  expect_problem("nlink-mismatch", "/", "expected 2 + 1 subdirectories");
  auto done = repair_to_clean("nlink-mismatch", "/f", "5 -> 1");
  BOOST_TEST(did(done, "nlink-mismatch", "/d", "7 -> 2"));
  BOOST_TEST(did(done, "nlink-mismatch", "/h2", "1 -> 2"));
  BOOST_TEST(attr(f.ino).nlink == 1u);
  BOOST_TEST(attr(d.ino).nlink == 2u);
  BOOST_TEST(attr(h.ino).nlink == 2u);
  BOOST_TEST(attr(kRootIno).nlink == 3u);
}

BOOST_AUTO_TEST_CASE(directory_parent_column) {
  Attr a = mkdir(kRootIno, "a");
  Attr b = mkdir(kRootIno, "b");
  Attr c = mkdir(a.ino, "c");
  raw("UPDATE inodes SET parent = " + n(b.ino) + " WHERE ino = " + n(c.ino));
  expect_problem("bad-dir-parent", "/a/c", "parent column " + n(b.ino));
  repair_to_clean("bad-dir-parent", "/a/c", n(b.ino) + " -> " + n(a.ino));
  // The parent column guards renames: /a into its own child must fail again.
  BOOST_TEST(m->rename(kRootIno, "a", c.ino, "x", 0, session, kT0).err() == EINVAL);
}

// ---- reachability -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(unreachable_file_goes_to_lost_found) {
  Attr d = mkdir(kRootIno, "d");
  Attr f = mk(d.ino, "f");
  write(f.ino, 0, 0, 100000);
  write(f.ino, 1, 0, 10);
  raw("DELETE FROM entries WHERE ino = " + n(f.ino));   // its only name is lost, no orphan record
  expect_problem("unreachable-inode", "unreachable inode " + n(f.ino),
                 "regular file of " + n(kChunk + 10) + " bytes, nlink 1: no entry names it");
  expect_problem("nlink-mismatch", "<ino " + n(f.ino) + ">");
  auto done = repair_to_clean("unreachable-inode", "unreachable inode " + n(f.ino), "/lost+found/#" + n(f.ino));
  BOOST_TEST(did(done, "unreachable-inode", "/lost+found", "created"));
  auto lf = m->lookup(kRootIno, "lost+found");
  BOOST_REQUIRE_MESSAGE(lf.ok(), lf.msg());
  BOOST_TEST((lf->mode & S_IFMT) == static_cast<uint32_t>(S_IFDIR));
  BOOST_TEST((lf->mode & 07777) == 0700u);
  BOOST_TEST(lf->uid == 0u);
  BOOST_TEST(m->lookup(lf->ino, "#" + n(f.ino))->ino == f.ino);
  BOOST_TEST(attr(f.ino).nlink == 1u);
  BOOST_TEST(attr(f.ino).size == kChunk + 10);
  BOOST_TEST(slice_count(f.ino, 0) == 1u);
  BOOST_TEST(slice_count(f.ino, 1) == 1u);
  BOOST_TEST(attr(kRootIno).nlink == 4u);   // d and lost+found
}

BOOST_AUTO_TEST_CASE(unreachable_raw_inode_and_an_existing_lost_found) {
  Attr lf = mkdir(kRootIno, "lost+found");
  mk(lf.ino, "#777777");   // the name is taken: the repair must pick another
  raw("INSERT INTO inodes (ino, mode, uid, gid, nlink, size, rdev, atime, mtime, ctime, parent) "
      "VALUES (777777, 33188, 0, 0, 1, 0, 0, 0, 0, 0, 0)");
  expect_problem("unreachable-inode", "unreachable inode 777777");
  expect_problem("nlink-mismatch", "<ino 777777>");
  expect_problem("counter-mismatch", "inodes");
  auto done = repair_to_clean("unreachable-inode", "unreachable inode 777777", "/lost+found/#777777.1");
  BOOST_TEST(!did(done, "unreachable-inode", "/lost+found", "created"));
  BOOST_TEST(m->lookup(lf.ino, "#777777.1")->ino == 777777u);
}

BOOST_AUTO_TEST_CASE(directory_cycle_cut_off_from_the_root) {
  Attr a = mkdir(kRootIno, "a");
  Attr b = mkdir(a.ino, "b");
  Attr c = mk(b.ino, "c");
  write(c.ino, 0, 0, 3000);
  // /a's entry moves into /a/b: a and b now only name each other.
  raw("UPDATE entries SET parent = " + n(b.ino) + " WHERE ino = " + n(a.ino));
  for (uint64_t ino : {a.ino, b.ino, c.ino})
    expect_problem("unreachable-inode", "unreachable inode " + n(ino), "cut off from the root");
  auto done = repair_to_clean("unreachable-inode", "unreachable inode " + n(a.ino), "cycle");
  // One directory is cut out of the cycle and named; the rest comes along.
  BOOST_TEST(m->path_of(a.ino) == "/lost+found/#" + n(a.ino));
  BOOST_TEST(m->path_of(c.ino) == "/lost+found/#" + n(a.ino) + "/b/c");
  BOOST_TEST(slice_count(c.ino, 0) == 1u);
  BOOST_TEST(attr(b.ino).nlink == 2u);
  BOOST_TEST(attr(a.ino).nlink == 3u);
}

BOOST_AUTO_TEST_CASE(lost_found_taken_by_a_file_is_not_overwritten) {
  Attr taken = mk(kRootIno, "lost+found");
  Attr f = mk(kRootIno, "f");
  raw("DELETE FROM entries WHERE ino = " + n(f.ino));
  auto done = repair();
  bool declined = false;
  for (const RepairAction& a : done)
    if (!a.done && a.action.find("not a directory") != std::string::npos) declined = true;
  BOOST_TEST(declined, "the repair should say why it could not use /lost+found");
  expect_problem("unreachable-inode", "unreachable inode " + n(f.ino));
  BOOST_TEST(attr(f.ino).nlink == 1u);   // not "deleted" by a recount
  BOOST_TEST(attr(taken.ino).nlink == 1u);
}

BOOST_AUTO_TEST_CASE(missing_root_is_reported_not_repaired) {
  mk(kRootIno, "f");
  raw("DELETE FROM inodes WHERE ino = 1");
  expect_problem("missing-root", "/");
  auto done = repair();
  BOOST_REQUIRE_EQUAL(done.size(), 1u);   // refuses everything: without a root every name looks wrong
  BOOST_TEST(!done[0].done);
  expect_problem("missing-root", "/");
  BOOST_TEST(raw_count("SELECT COUNT(*) FROM entries") == 1u);
}

// ---- sessions ---------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(orphans_and_pending_slices_of_dead_sessions) {
  Attr f = mk(kRootIno, "f");
  write(f.ino, 0, 0, 1000);
  Attr g = mk(kRootIno, "g");
  BOOST_REQUIRE(m->unlink(kRootIno, "f", session, kT0).ok());
  auto pending = m->begin_slice(g.ino, 0, session);
  BOOST_REQUIRE(pending.ok());
  // Live (heartbeat kT0): an orphan is not unreachable, a pending slice is an upload in flight.
  expect_consistent();
  // Silent for 61 s with an expiry of 60 s: dead. With 120 s: still live.
  const CheckOptions later = at(kT0 + 61 * kSecond);
  auto ps = problems_at(later);
  BOOST_TEST(listed(ps, "stale-orphan", "orphan inode " + n(f.ino), "last heartbeat 61 s ago (expiry 60 s)"),
             describe(ps));
  BOOST_TEST(listed(ps, "stale-pending-slice", "/g", "pending slice " + n(*pending)), describe(ps));
  BOOST_TEST(!listed(ps, "unreachable-inode", ""), describe(ps));
  BOOST_TEST(problems_at(at(kT0 + 61 * kSecond, 120)).empty());
  {  // A session that registered a longer expiry (a mount with a slow heartbeat) is judged by it.
    SessionInfo slow{0, "slowhost", 43, "/mnt/slow", "test", kT0, kT0};
    slow.expiry_ns = 300 * kSecond;
    auto s2 = m->register_session(slow);
    BOOST_REQUIRE_MESSAGE(s2.ok(), s2.msg());
    Attr h = mk(kRootIno, "h");
    BOOST_REQUIRE(m->unlink(kRootIno, "h", *s2, kT0).ok());
    ps = problems_at(later);
    BOOST_TEST(!listed(ps, "stale-orphan", "orphan inode " + n(h.ino)), describe(ps));
    ps = problems_at(at(kT0 + 301 * kSecond));
    BOOST_TEST(listed(ps, "stale-orphan", "orphan inode " + n(h.ino), "(expiry 300 s)"), describe(ps));
    BOOST_REQUIRE(m->close_session(*s2).ok());
  }
  // A silent session that still has its row is the session cleaner's: left alone.
  repair(later);
  ps = problems_at(later);
  BOOST_TEST(listed(ps, "stale-orphan", "orphan inode " + n(f.ino)), describe(ps));
  BOOST_TEST(listed(ps, "stale-pending-slice", "/g"), describe(ps));
  BOOST_TEST(m->list_sessions()->size() == 1u);
  // The session row vanishes without close_session (a crashed mount cleaned badly).
  raw("DELETE FROM sessions WHERE id = " + n(session));
  expect_problem("stale-orphan", "orphan inode " + n(f.ino), "no longer exists");
  expect_problem("stale-pending-slice", "/g", "no longer exists");
  repair_to_clean("stale-session", "session " + n(session), "1 orphan inode(s) purged, 1 pending slice(s)");
  BOOST_TEST(m->getattr(f.ino).err() == ENOENT);   // the orphan's data was released
  BOOST_TEST(raw_count("SELECT COUNT(*) FROM slices WHERE status = 0") == 0u);
  auto dead = m->dead_blocks(100);
  BOOST_REQUIRE(dead.ok());
  BOOST_TEST(!dead->empty());   // f's block is queued for deletion
}

BOOST_AUTO_TEST_CASE(orphan_record_of_a_linked_inode) {
  Attr g = mk(kRootIno, "g");
  raw("INSERT INTO orphans (ino, session, since) VALUES (" + n(g.ino) + ", " + n(session) + ", 0)");
  expect_problem("linked-orphan", "/g", "nlink 1");
  repair_to_clean("linked-orphan", "/g", "orphan record removed");
  // Closing the session must not purge it now.
  BOOST_REQUIRE(m->close_session(session).ok());
  BOOST_TEST(m->getattr(g.ino).ok());
}

// ---- blocks -----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(refcount_mismatch) {
  Attr f = mk(kRootIno, "f");
  Slice s = write(f.ino, 0, 0, 3 * kBlock);
  Attr g = mk(kRootIno, "g");
  write(g.ino, 0, 0, kChunk - 1000);
  append(g.ino, 3000);   // shared blocks: refs 2
  raw("UPDATE blocks SET refs = 2 WHERE slice_id = " + n(s.id) + " AND idx = 0");   // too high
  raw("UPDATE blocks SET refs = 0 WHERE slice_id = " + n(s.id) + " AND idx = 1");   // too low: would be deleted
  raw("UPDATE blocks SET refs = 1 WHERE refs = 2 AND slice_id <> " + n(s.id));       // the shared one, too low
  expect_problem("refcount-mismatch", "block", "refs 2 but 1 references (file /f)");
  expect_problem("refcount-mismatch", "block", "refs 0 but 1 references (file /f)");
  expect_problem("refcount-mismatch", "block", "refs 1 but 2 references (file /g)");
  auto done = repair_to_clean("refcount-mismatch", "block", "2 -> 1");
  BOOST_TEST(did(done, "refcount-mismatch", "block", "0 -> 1"));
  BOOST_TEST(did(done, "refcount-mismatch", "block", "1 -> 2"));
  BOOST_TEST(m->dead_blocks(100)->empty());   // nothing referenced was queued for deletion
  BOOST_TEST(slice_count(f.ino, 0) == 1u);
}

BOOST_AUTO_TEST_CASE(unreferenced_block_of_a_vanished_slice_is_queued) {
  Attr f = mk(kRootIno, "f");
  Slice s = write(f.ino, 0, 0, 2 * kBlock);
  Slice keep = write(f.ino, 0, 0, 10);
  // The slice row and its block list vanish; its block rows stay behind.
  raw("DELETE FROM slice_blocks WHERE slice_id = " + n(s.id));
  raw("DELETE FROM slices WHERE id = " + n(s.id));
  expect_problem("unreferenced-block", "block", "slice " + n(s.id) + " is gone");
  expect_problem("refcount-mismatch", "block", "refs 1 but 0 references");
  expect_problem("chunk-count-mismatch", "/f chunk 0", "1 committed slices, chunks row says 2");
  auto done = repair_to_clean("unreferenced-block", "block", "queued for deletion");
  BOOST_TEST(did(done, "chunk-count-mismatch", "/f chunk 0", "2 -> 1"));
  auto dead = m->dead_blocks(100);
  BOOST_REQUIRE(dead.ok());
  BOOST_REQUIRE_EQUAL(dead->size(), 2u);
  for (const DeadBlock& d : *dead) BOOST_TEST(d.slice_id == s.id);
  BOOST_TEST(raw_count("SELECT COUNT(*) FROM blocks WHERE slice_id = " + n(keep.id)) == 1u);
}

BOOST_AUTO_TEST_CASE(slice_that_lost_its_block_list_is_a_broken_file_and_kept) {
  Attr f = mk(kRootIno, "f");
  Slice s = write(f.ino, 0, 0, 2 * kBlock);
  raw("DELETE FROM slice_blocks WHERE slice_id = " + n(s.id));
  expect_problem("broken-slice", "/f", "slice " + n(s.id) + " lists 0 blocks, its data needs 2");
  expect_problem("unreferenced-block", "block", "slice " + n(s.id) + " still exists (file /f)");
  repair();
  // The objects must survive for a human: nothing queued, rows kept, still reported.
  BOOST_TEST(m->dead_blocks(100)->empty());
  BOOST_TEST(raw_count("SELECT COUNT(*) FROM blocks WHERE slice_id = " + n(s.id)) == 2u);
  expect_problem("broken-slice", "/f");
  expect_problem("unreferenced-block", "block", "still exists");
}

BOOST_AUTO_TEST_CASE(damaged_slice_rows) {
  Attr f = mk(kRootIno, "f");
  Slice s = write(f.ino, 0, 0, 100);
  raw("DELETE FROM blocks");
  expect_problem("missing-block-row", "/f", "slice " + n(s.id));
  BOOST_TEST(m->chunk_slices(f.ino, 0).err() == EIO);   // readers are told, not fed garbage
  raw("DELETE FROM chunks");
  expect_problem("chunk-count-mismatch", "/f chunk 0");
  repair();
  expect_problem("missing-block-row", "/f");             // a broken file: not "repaired"
  BOOST_TEST(!has_problem("chunk-count-mismatch", "/f"));
  raw("DELETE FROM inodes WHERE ino = " + n(f.ino));
  expect_problem("dangling-slice", "slice " + n(s.id));
  expect_problem("dangling-entry", "/f");
}

BOOST_AUTO_TEST_CASE(size_mismatch_is_reported_not_repaired) {
  Attr f = mk(kRootIno, "f");
  write(f.ino, 0, 0, 100);
  expect_consistent();
  raw("UPDATE inodes SET size = 10 WHERE ino = " + n(f.ino));
  expect_problem("size-mismatch", "/f", "ends at 100 beyond size 10");
  expect_problem("counter-mismatch", "used_bytes");
  auto done = repair();
  BOOST_TEST(did(done, "counter-mismatch", "counters.used_bytes", "100 -> 10"));
  expect_problem("size-mismatch", "/f");
  BOOST_TEST(attr(f.ino).size == 10u);
}

// Slices are ordered by commit (ord), not by id: ids come in batches per
// connection, so a truncate's zero slice can have a smaller id than the data
// slice it shadows. That is not data beyond EOF (fsck once said it was).
BOOST_AUTO_TEST_CASE(zero_slice_with_a_smaller_id_still_shadows_the_tail) {
  auto m2 = open_or_fail(url, false);
  Attr f = mk(kRootIno, "f");
  auto early = m2->begin_slice(f.ino, 0, session, 10);   // m2 takes its batch of ids first
  BOOST_REQUIRE_MESSAGE(early.ok(), early.msg());
  Slice s = write(f.ino, 0, 0, 1000);                   // from m's later batch
  BOOST_REQUIRE(m2->truncate(f.ino, 500, kT0).ok());    // zero slice [500, 1000) from m2's batch
  auto sl = m->chunk_slices(f.ino, 0);
  BOOST_REQUIRE(sl.ok());
  BOOST_REQUIRE_EQUAL(sl->size(), 2u);
  BOOST_REQUIRE(sl->back().zero);
  BOOST_TEST(sl->back().id < s.id, "the zero slice should have the smaller id here");
  BOOST_REQUIRE(m2->abort_slice(*early).ok());
  expect_consistent();
}

// ---- derived counts ------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(statfs_counters) {
  Attr f = mk(kRootIno, "f");
  write(f.ino, 0, 0, 4096);
  // PostgreSQL spreads a counter over shard rows name#k: damage the sum.
  raw("UPDATE counters SET value = 0 WHERE substr(name, 1, 11) = 'used_bytes#'");
  raw("UPDATE counters SET value = 12345 WHERE name = 'used_bytes'");
  raw("INSERT INTO counters (name, value) VALUES ('inodes#4242', 7)");   // a stray shard row
  expect_problem("counter-mismatch", "counters.used_bytes", "says 12345, files hold 4096");
  expect_problem("counter-mismatch", "counters.inodes");
  auto done = repair_to_clean("counter-mismatch", "counters.used_bytes", "12345 -> 4096");
  BOOST_TEST(did(done, "counter-mismatch", "counters.inodes", "-> 2"));
  auto st = m->statfs();
  BOOST_REQUIRE(st.ok());
  BOOST_TEST(st->used_bytes == 4096u);
  BOOST_TEST(st->inodes == 2u);
}

BOOST_AUTO_TEST_CASE(chunk_counts) {
  Attr f = mk(kRootIno, "f");
  write(f.ino, 0, 0, 100);
  write(f.ino, 0, 50, 100);
  raw("UPDATE chunks SET slices = 9");
  raw("INSERT INTO chunks (ino, idx, slices) VALUES (" + n(f.ino) + ", 5, 1)");   // a chunk without slices
  expect_problem("chunk-count-mismatch", "/f chunk 0", "2 committed slices, chunks row says 9");
  expect_problem("chunk-count-mismatch", "/f chunk 5", "there are none");
  auto done = repair_to_clean("chunk-count-mismatch", "/f chunk 0", "9 -> 2");
  BOOST_TEST(did(done, "chunk-count-mismatch", "/f chunk 5", "removed"));
}

BOOST_AUTO_TEST_SUITE_END()
