// Namespace operations of the metadata engine: POSIX semantics and errno values.
#define BOOST_TEST_MODULE meta_namespace
#include "meta_fixture.hpp"

#include <algorithm>

using namespace s3l;
using namespace s3l::meta;
using namespace s3l::meta::test;

BOOST_FIXTURE_TEST_SUITE(ns, MetaFixture)

BOOST_AUTO_TEST_CASE(root_after_format) {
  Attr r = attr(kRootIno);
  BOOST_TEST(r.mode == (S_IFDIR | 0755u));
  BOOST_TEST(r.uid == kUid);
  BOOST_TEST(r.gid == kGid);
  BOOST_TEST(r.nlink == 2u);
  auto st = m->statfs();
  BOOST_REQUIRE(st.ok());
  BOOST_TEST(st->inodes == 1u);
  BOOST_TEST(st->used_bytes == 0u);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(create_lookup_getattr) {
  auto r = m->mknod(kRootIno, "f", S_IFREG | 0640, 7, 8, 0, "", kT0 + 5);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->ino >= 2u);
  BOOST_TEST(r->mode == (S_IFREG | 0640u));
  BOOST_TEST(r->uid == 7u);
  BOOST_TEST(r->gid == 8u);
  BOOST_TEST(r->nlink == 1u);
  BOOST_TEST(r->size == 0u);
  BOOST_TEST(r->mtime_ns == kT0 + 5);
  BOOST_TEST(r->ctime_ns == kT0 + 5);
  BOOST_TEST(r->atime_ns == kT0 + 5);
  auto l = m->lookup(kRootIno, "f");
  BOOST_REQUIRE(l.ok());
  BOOST_TEST(l->ino == r->ino);
  BOOST_TEST(attr(r->ino).mode == r->mode);
  Attr root = attr(kRootIno);
  BOOST_TEST(root.mtime_ns == kT0 + 5);
  BOOST_TEST(root.ctime_ns == kT0 + 5);
  BOOST_TEST(root.nlink == 2u);   // files do not count in a directory's nlink

  BOOST_TEST(m->lookup(kRootIno, "nope").err() == ENOENT);
  BOOST_TEST(m->getattr(999999).err() == ENOENT);
  BOOST_TEST(m->lookup(999999, "f").err() == ENOENT);
  BOOST_TEST(m->lookup(r->ino, "x").err() == ENOTDIR);
  BOOST_TEST(m->mknod(kRootIno, "f", S_IFREG | 0644, 0, 0, 0, "", kT0).err() == EEXIST);
  BOOST_TEST(m->mknod(r->ino, "x", S_IFREG | 0644, 0, 0, 0, "", kT0).err() == ENOTDIR);
  BOOST_TEST(m->mknod(999999, "x", S_IFREG | 0644, 0, 0, 0, "", kT0).err() == ENOENT);
  BOOST_TEST(m->mknod(kRootIno, ".", S_IFREG | 0644, 0, 0, 0, "", kT0).err() == EEXIST);
  auto st = m->statfs();
  BOOST_TEST(st->inodes == 2u);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(names_are_checked_everywhere) {
  Attr f = mk(kRootIno, "f");
  const std::string long_name(256, 'x'), max_name(255, 'y');
  for (const std::string& bad : {std::string(), std::string("a/b"), std::string("a\0b", 3)}) {
    BOOST_TEST(m->lookup(kRootIno, bad).err() == EINVAL);
    BOOST_TEST(m->mknod(kRootIno, bad, S_IFREG | 0644, 0, 0, 0, "", kT0).err() == EINVAL);
    BOOST_TEST(m->link(f.ino, kRootIno, bad, kT0).err() == EINVAL);
    BOOST_TEST(m->unlink(kRootIno, bad, session, kT0).err() == EINVAL);
    BOOST_TEST(m->rmdir(kRootIno, bad, kT0).err == EINVAL);
    BOOST_TEST(m->rename(kRootIno, bad, kRootIno, "g", 0, session, kT0).err() == EINVAL);
    BOOST_TEST(m->rename(kRootIno, "f", kRootIno, bad, 0, session, kT0).err() == EINVAL);
  }
  BOOST_TEST(m->lookup(kRootIno, long_name).err() == ENAMETOOLONG);
  BOOST_TEST(m->mknod(kRootIno, long_name, S_IFREG | 0644, 0, 0, 0, "", kT0).err() == ENAMETOOLONG);
  BOOST_TEST(m->link(f.ino, kRootIno, long_name, kT0).err() == ENAMETOOLONG);
  BOOST_TEST(m->unlink(kRootIno, long_name, session, kT0).err() == ENAMETOOLONG);
  BOOST_TEST(m->rmdir(kRootIno, long_name, kT0).err == ENAMETOOLONG);
  BOOST_TEST(m->rename(kRootIno, "f", kRootIno, long_name, 0, session, kT0).err() == ENAMETOOLONG);
  // 255 bytes is fine, and names are bytes: not UTF-8, any byte but '/' and NUL.
  mk(kRootIno, max_name);
  const std::string binary("\xff\xfe\x01 name", 8);
  mk(kRootIno, binary);
  BOOST_TEST(m->lookup(kRootIno, max_name).ok());
  BOOST_TEST(m->lookup(kRootIno, binary).ok());
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(mkdir_rmdir) {
  Attr d = mkdir(kRootIno, "d");
  BOOST_TEST(d.nlink == 2u);
  BOOST_TEST(d.size == 4096u);
  BOOST_TEST(attr(kRootIno).nlink == 3u);
  Attr sub = mkdir(d.ino, "sub");
  BOOST_TEST(attr(d.ino).nlink == 3u);
  Attr file = mk(sub.ino, "file");
  BOOST_TEST(m->rmdir(d.ino, "sub", kT0).err == ENOTEMPTY);
  BOOST_TEST(m->rmdir(sub.ino, "file", kT0).err == ENOTDIR);
  BOOST_TEST(m->rmdir(kRootIno, "missing", kT0).err == ENOENT);
  BOOST_TEST(m->rmdir(kRootIno, ".", kT0).err == EINVAL);
  BOOST_TEST(m->unlink(kRootIno, "d", session, kT0).err() == EISDIR);
  // the lookup of ".." climbs to the parent
  auto up = m->lookup(sub.ino, "..");
  BOOST_REQUIRE(up.ok());
  BOOST_TEST(up->ino == d.ino);
  BOOST_TEST(m->unlink(sub.ino, "file", session, kT0 + 1).ok());
  BOOST_TEST(m->purge(file.ino).ok());
  BOOST_TEST(m->getattr(file.ino).err() == ENOENT);
  BOOST_REQUIRE(m->rmdir(d.ino, "sub", kT0 + 9).ok());
  Attr dd = attr(d.ino);
  BOOST_TEST(dd.nlink == 2u);
  BOOST_TEST(dd.mtime_ns == kT0 + 9);
  BOOST_TEST(m->getattr(sub.ino).err() == ENOENT);   // a removed directory is gone at once
  BOOST_TEST(m->lookup(d.ino, "sub").err() == ENOENT);
  BOOST_REQUIRE(m->rmdir(kRootIno, "d", kT0).ok());
  BOOST_TEST(attr(kRootIno).nlink == 2u);
  BOOST_TEST(m->statfs()->inodes == 1u);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(setgid_directory_and_types) {
  Attr d = mkdir(kRootIno, "g");
  SetAttr sa;
  sa.mask = kSetMode | kSetGid;
  sa.mode = 02775;
  sa.gid = 555;
  BOOST_REQUIRE(m->setattr(d.ino, sa).ok());
  auto f = m->mknod(d.ino, "f", S_IFREG | 0644, kUid, kGid, 0, "", kT0);
  auto sub = m->mknod(d.ino, "sub", S_IFDIR | 0755, kUid, kGid, 0, "", kT0);
  BOOST_REQUIRE(f.ok() && sub.ok());
  BOOST_TEST(f->gid == 555u);
  BOOST_TEST((f->mode & S_ISGID) == 0u);
  BOOST_TEST(sub->gid == 555u);
  BOOST_TEST((sub->mode & S_ISGID) != 0u);

  auto fifo = m->mknod(kRootIno, "fifo", S_IFIFO | 0600, kUid, kGid, 0, "", kT0);
  auto chr = m->mknod(kRootIno, "chr", S_IFCHR | 0600, kUid, kGid, 0x0103, "", kT0);
  auto sock = m->mknod(kRootIno, "sock", S_IFSOCK | 0600, kUid, kGid, 0, "", kT0);
  auto plain = m->mknod(kRootIno, "plain", 0644, kUid, kGid, 0, "", kT0);   // type 0 = regular
  BOOST_REQUIRE(fifo.ok() && chr.ok() && sock.ok() && plain.ok());
  BOOST_TEST((attr(fifo->ino).mode & S_IFMT) == uint32_t(S_IFIFO));
  BOOST_TEST(attr(chr->ino).rdev == 0x0103u);
  BOOST_TEST((plain->mode & S_IFMT) == uint32_t(S_IFREG));
  BOOST_TEST(m->mknod(kRootIno, "bad", 0030000 | 0644, kUid, kGid, 0, "", kT0).err() == EINVAL);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(setattr_fields) {
  Attr f = mk(kRootIno, "f");
  SetAttr a;
  a.mask = kSetMode | kSetUid | kSetAtime | kSetMtime;
  a.mode = 04711 | S_IFDIR;   // type bits in the request are ignored
  a.uid = 77;
  a.atime_ns = 111;
  a.mtime_ns = 222;
  auto r = m->setattr(f.ino, a);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->mode == (S_IFREG | 04711u));
  BOOST_TEST(r->uid == 77u);
  BOOST_TEST(r->gid == kGid);
  BOOST_TEST(r->atime_ns == 111);
  BOOST_TEST(r->mtime_ns == 222);
  BOOST_TEST(r->ctime_ns > kT0);   // ctime = now (the wall clock is past kT0)
  Attr g = attr(f.ino);
  BOOST_TEST(g.mode == r->mode);
  BOOST_TEST(g.mtime_ns == 222);
  a = SetAttr{};
  a.mask = kSetMtimeNow | kSetAtimeNow | kSetCtime;
  a.ctime_ns = 333;
  r = m->setattr(f.ino, a);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->mtime_ns > kT0);
  BOOST_TEST(r->atime_ns > kT0);
  BOOST_TEST(r->ctime_ns == 333);
  BOOST_TEST(m->setattr(999999, a).err() == ENOENT);
}

BOOST_AUTO_TEST_CASE(symlinks) {
  auto s = m->mknod(kRootIno, "ln", S_IFLNK | 0777, kUid, kGid, 0, "../some/target", kT0);
  BOOST_REQUIRE_MESSAGE(s.ok(), s.msg());
  BOOST_TEST(s->size == 14u);
  auto t = m->readlink(s->ino);
  BOOST_REQUIRE(t.ok());
  BOOST_TEST(*t == "../some/target");
  Attr f = mk(kRootIno, "f");
  BOOST_TEST(m->readlink(f.ino).err() == EINVAL);
  BOOST_TEST(m->readlink(999999).err() == ENOENT);
  BOOST_TEST(m->mknod(kRootIno, "empty", S_IFLNK | 0777, 0, 0, 0, "", kT0).err() == ENOENT);
  BOOST_TEST(m->mknod(kRootIno, "long", S_IFLNK | 0777, 0, 0, 0, std::string(4096, 'a'), kT0).err() ==
             ENAMETOOLONG);
  // unlink + purge removes the target row too
  auto u = m->unlink(kRootIno, "ln", session, kT0);
  BOOST_REQUIRE(u.ok());
  BOOST_TEST(u->nlink == 0u);
  BOOST_REQUIRE(m->purge(s->ino).ok());
  BOOST_TEST(m->readlink(s->ino).err() == ENOENT);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(hard_links_unlink_orphans_purge) {
  Attr f = mk(kRootIno, "f");
  Attr d = mkdir(kRootIno, "d");
  auto l = m->link(f.ino, d.ino, "g", kT0 + 3);
  BOOST_REQUIRE_MESSAGE(l.ok(), l.msg());
  BOOST_TEST(l->nlink == 2u);
  BOOST_TEST(l->ctime_ns == kT0 + 3);
  BOOST_TEST(attr(f.ino).nlink == 2u);
  BOOST_TEST(attr(d.ino).mtime_ns == kT0 + 3);
  BOOST_TEST(m->lookup(d.ino, "g")->ino == f.ino);
  BOOST_TEST(m->link(d.ino, kRootIno, "dl", kT0).err() == EPERM);
  BOOST_TEST(m->link(f.ino, d.ino, "g", kT0).err() == EEXIST);
  BOOST_TEST(m->link(999999, d.ino, "x", kT0).err() == ENOENT);
  BOOST_TEST(m->link(f.ino, f.ino, "x", kT0).err() == ENOTDIR);

  auto u = m->unlink(kRootIno, "f", session, kT0 + 4);
  BOOST_REQUIRE(u.ok());
  BOOST_TEST(u->ino == f.ino);
  BOOST_TEST(u->nlink == 1u);
  BOOST_TEST(m->purge(f.ino).ok());   // still linked: a no-op
  BOOST_TEST(attr(f.ino).nlink == 1u);
  u = m->unlink(d.ino, "g", session, kT0 + 5);
  BOOST_REQUIRE(u.ok());
  BOOST_TEST(u->nlink == 0u);
  // an orphan: gone from the namespace, still readable until purged
  BOOST_TEST(m->lookup(d.ino, "g").err() == ENOENT);
  Attr o = attr(f.ino);
  BOOST_TEST(o.nlink == 0u);
  BOOST_TEST(o.ctime_ns == kT0 + 5);
  BOOST_TEST(m->link(f.ino, kRootIno, "again", kT0).err() == ENOENT);
  BOOST_TEST(m->statfs()->inodes == 3u);
  expect_consistent();   // an orphan of a live session is fine
  BOOST_REQUIRE(m->purge(f.ino).ok());
  BOOST_TEST(m->getattr(f.ino).err() == ENOENT);
  BOOST_TEST(m->purge(f.ino).ok());   // already gone: Ok
  BOOST_TEST(m->statfs()->inodes == 2u);
  BOOST_TEST(m->unlink(kRootIno, "f", session, kT0).err() == ENOENT);
  BOOST_TEST(m->unlink(999999, "f", session, kT0).err() == ENOENT);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(readdir_ordered_and_large) {
  BOOST_TEST(m->readdir(kRootIno)->empty());
  const std::vector<std::string> names = {"b", "a", "B", "\xc3\xa9", "a0", "_", "aa"};
  for (const auto& n : names) mk(kRootIno, n);
  auto r = m->readdir(kRootIno);
  BOOST_REQUIRE(r.ok());
  std::vector<std::string> got, want = names;
  for (const Entry& e : *r) got.push_back(e.name);
  std::sort(want.begin(), want.end());   // bytewise, like memcmp
  BOOST_TEST(got == want, boost::test_tools::per_element());
  BOOST_TEST((r->front().attr.mode & S_IFMT) == uint32_t(S_IFREG));
  BOOST_TEST(r->front().attr.ino == m->lookup(kRootIno, r->front().name)->ino);

  Attr big = mkdir(kRootIno, "big");
  for (int i = 0; i < 10000; ++i) mk(big.ino, "file-" + std::to_string(i));
  auto all = m->readdir(big.ino);
  BOOST_REQUIRE(all.ok());
  BOOST_TEST(all->size() == 10000u);
  BOOST_TEST(std::is_sorted(all->begin(), all->end(),
                            [](const Entry& a, const Entry& b) { return a.name < b.name; }));
  BOOST_TEST(m->readdir(m->lookup(kRootIno, "a")->ino).err() == ENOTDIR);
  BOOST_TEST(m->readdir(999999).err() == ENOENT);
  // entry_names: the same names, no attributes, in any order.
  auto nm = m->entry_names(big.ino);
  BOOST_REQUIRE(nm.ok());
  std::vector<std::string> sorted_names = *nm, from_readdir;
  std::sort(sorted_names.begin(), sorted_names.end());
  for (const Entry& e : *all) from_readdir.push_back(e.name);
  BOOST_TEST(sorted_names == from_readdir);
  auto root_names = m->entry_names(kRootIno);
  BOOST_REQUIRE(root_names.ok());
  std::sort(root_names->begin(), root_names->end());
  std::vector<std::string> root_want = names;
  root_want.push_back("big");
  std::sort(root_want.begin(), root_want.end());
  BOOST_TEST(*root_names == root_want, boost::test_tools::per_element());
  BOOST_TEST(m->entry_names(m->lookup(kRootIno, "a")->ino)->empty());
  BOOST_TEST(m->entry_names(999999)->empty());
  // entries_from: a run of entries in name order, from a name on.
  auto run = m->entries_from(big.ino, "file-5", 3);
  BOOST_REQUIRE(run.ok());
  BOOST_REQUIRE(run->size() == 3u);
  BOOST_TEST((*run)[0].name == "file-5");   // "file-5" < "file-50" < "file-500"
  BOOST_TEST((*run)[1].name == "file-50");
  BOOST_TEST((*run)[2].name == "file-500");
  BOOST_TEST((*run)[0].attr.ino == m->lookup(big.ino, "file-5")->ino);
  BOOST_TEST((*run)[0].attr.mode == m->lookup(big.ino, "file-5")->mode);
  auto between = m->entries_from(big.ino, "file-5\x01", 1);   // not a name: the next one
  BOOST_REQUIRE(between.ok());
  BOOST_REQUIRE(between->size() == 1u);
  BOOST_TEST((*between)[0].name == "file-50");
  auto tail = m->entries_from(big.ino, "file-9999", 10);
  BOOST_REQUIRE(tail.ok());
  BOOST_TEST(tail->size() == 1u);   // the last name; nothing after it
  BOOST_TEST(m->entries_from(big.ino, "zzz", 10)->empty());
  BOOST_TEST(m->entries_from(999999, "", 10)->empty());
  BOOST_TEST(m->statfs()->inodes == 10009u);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- rename ----------------------------------------------------------------

BOOST_FIXTURE_TEST_SUITE(renames, MetaFixture)

BOOST_AUTO_TEST_CASE(same_directory) {
  Attr f = mk(kRootIno, "a");
  auto r = m->rename(kRootIno, "a", kRootIno, "b", 0, session, kT0 + 1);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->moved_ino == f.ino);
  BOOST_TEST(r->replaced_ino == 0u);
  BOOST_TEST(m->lookup(kRootIno, "a").err() == ENOENT);
  BOOST_TEST(m->lookup(kRootIno, "b")->ino == f.ino);
  BOOST_TEST(attr(f.ino).ctime_ns == kT0 + 1);
  BOOST_TEST(attr(kRootIno).mtime_ns == kT0 + 1);
  BOOST_TEST(m->rename(kRootIno, "a", kRootIno, "c", 0, session, kT0).err() == ENOENT);
  BOOST_TEST(m->rename(kRootIno, "b", kRootIno, "c", kRenameNoReplace | kRenameExchange, session, kT0).err() ==
             EINVAL);
  BOOST_TEST(m->rename(kRootIno, "b", kRootIno, "c", 64, session, kT0).err() == EINVAL);
  BOOST_TEST(m->rename(kRootIno, "b", 999999, "c", 0, session, kT0).err() == ENOENT);
  BOOST_TEST(m->rename(kRootIno, "b", f.ino, "c", 0, session, kT0).err() == ENOTDIR);
  // onto itself: nothing happens
  BOOST_TEST(m->rename(kRootIno, "b", kRootIno, "b", 0, session, kT0).ok());
  BOOST_TEST(m->lookup(kRootIno, "b")->ino == f.ino);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(directory_across_parents) {
  Attr a = mkdir(kRootIno, "a");
  Attr b = mkdir(kRootIno, "b");
  Attr d = mkdir(a.ino, "d");
  mk(d.ino, "inside");
  BOOST_TEST(attr(a.ino).nlink == 3u);
  auto r = m->rename(a.ino, "d", b.ino, "d2", 0, session, kT0 + 7);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(attr(a.ino).nlink == 2u);
  BOOST_TEST(attr(b.ino).nlink == 3u);
  BOOST_TEST(attr(a.ino).mtime_ns == kT0 + 7);
  BOOST_TEST(attr(b.ino).ctime_ns == kT0 + 7);
  BOOST_TEST(attr(d.ino).ctime_ns == kT0 + 7);
  BOOST_TEST(m->lookup(d.ino, "..")->ino == b.ino);
  BOOST_TEST(m->lookup(d.ino, "inside").ok());
  BOOST_TEST(m->path_of(d.ino) == "/b/d2");
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(file_over_file) {
  Attr a = mk(kRootIno, "a");
  Attr b = mk(kRootIno, "b");
  auto r = m->rename(kRootIno, "a", kRootIno, "b", 0, session, kT0 + 2);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->moved_ino == a.ino);
  BOOST_TEST(r->replaced_ino == b.ino);
  BOOST_TEST(r->replaced_nlink == 0u);
  BOOST_TEST(m->lookup(kRootIno, "b")->ino == a.ino);
  BOOST_TEST(m->lookup(kRootIno, "a").err() == ENOENT);
  BOOST_TEST(attr(b.ino).nlink == 0u);   // orphan of this session until purged
  expect_consistent();
  BOOST_REQUIRE(m->close_session(session).ok());
  BOOST_TEST(m->getattr(b.ino).err() == ENOENT);

  // a replaced inode with another link survives
  Attr c = mk(kRootIno, "c");
  Attr e = mk(kRootIno, "e");
  BOOST_REQUIRE(m->link(e.ino, kRootIno, "e2", kT0).ok());
  r = m->rename(kRootIno, "c", kRootIno, "e", 0, session, kT0);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->replaced_ino == e.ino);
  BOOST_TEST(r->replaced_nlink == 1u);
  BOOST_TEST(attr(e.ino).nlink == 1u);
  BOOST_TEST(m->lookup(kRootIno, "e")->ino == c.ino);
}

BOOST_AUTO_TEST_CASE(directories_over_things) {
  Attr a = mkdir(kRootIno, "a");
  Attr empty = mkdir(kRootIno, "empty");
  Attr full = mkdir(kRootIno, "full");
  mk(full.ino, "x");
  mk(kRootIno, "f");
  BOOST_TEST(attr(kRootIno).nlink == 5u);
  BOOST_TEST(m->rename(kRootIno, "a", kRootIno, "full", 0, session, kT0).err() == ENOTEMPTY);
  BOOST_TEST(m->rename(kRootIno, "a", kRootIno, "f", 0, session, kT0).err() == ENOTDIR);
  BOOST_TEST(m->rename(kRootIno, "f", kRootIno, "a", 0, session, kT0).err() == EISDIR);
  auto r = m->rename(kRootIno, "a", kRootIno, "empty", 0, session, kT0);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->replaced_ino == empty.ino);
  BOOST_TEST(m->getattr(empty.ino).err() == ENOENT);
  BOOST_TEST(attr(kRootIno).nlink == 4u);
  BOOST_TEST(m->lookup(kRootIno, "empty")->ino == a.ino);
  // dir over an empty dir in another parent
  Attr b = mkdir(full.ino, "b");
  r = m->rename(kRootIno, "empty", full.ino, "b", 0, session, kT0);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(attr(kRootIno).nlink == 3u);   // root lost a, full swapped b for a
  BOOST_TEST(attr(full.ino).nlink == 3u);
  BOOST_TEST(m->getattr(b.ino).err() == ENOENT);
  BOOST_TEST(m->lookup(a.ino, "..")->ino == full.ino);
  BOOST_TEST(m->statfs()->inodes == 5u);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(hard_links_of_one_inode) {
  Attr f = mk(kRootIno, "f");
  BOOST_REQUIRE(m->link(f.ino, kRootIno, "g", kT0).ok());
  auto r = m->rename(kRootIno, "f", kRootIno, "g", 0, session, kT0);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->replaced_ino == 0u);
  BOOST_TEST(m->lookup(kRootIno, "f")->ino == f.ino);   // POSIX: nothing happens
  BOOST_TEST(m->lookup(kRootIno, "g")->ino == f.ino);
  BOOST_TEST(attr(f.ino).nlink == 2u);
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(into_own_subtree) {
  Attr a = mkdir(kRootIno, "a");
  Attr b = mkdir(a.ino, "b");
  Attr c = mkdir(b.ino, "c");
  BOOST_TEST(m->rename(kRootIno, "a", c.ino, "x", 0, session, kT0).err() == EINVAL);
  BOOST_TEST(m->rename(kRootIno, "a", a.ino, "x", 0, session, kT0).err() == EINVAL);
  BOOST_TEST(m->rename(a.ino, "b", c.ino, "x", 0, session, kT0).err() == EINVAL);
  BOOST_TEST(m->rename(a.ino, "b", kRootIno, "a", 0, session, kT0).err() == ENOTEMPTY);   // a holds b
  // moving up is fine
  BOOST_TEST(m->rename(b.ino, "c", kRootIno, "c", 0, session, kT0).ok());
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(noreplace) {
  mk(kRootIno, "a");
  mk(kRootIno, "b");
  BOOST_TEST(m->rename(kRootIno, "a", kRootIno, "b", kRenameNoReplace, session, kT0).err() == EEXIST);
  BOOST_TEST(m->lookup(kRootIno, "a").ok());
  BOOST_TEST(m->rename(kRootIno, "a", kRootIno, "c", kRenameNoReplace, session, kT0).ok());
  BOOST_TEST(m->lookup(kRootIno, "c").ok());
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(exchange) {
  Attr p = mkdir(kRootIno, "p");
  Attr q = mkdir(kRootIno, "q");
  Attr f = mk(p.ino, "f");
  Attr d = mkdir(q.ino, "d");
  BOOST_TEST(attr(p.ino).nlink == 2u);
  BOOST_TEST(attr(q.ino).nlink == 3u);
  auto r = m->rename(p.ino, "f", q.ino, "d", kRenameExchange, session, kT0 + 4);
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->replaced_ino == 0u);
  BOOST_TEST(m->lookup(p.ino, "f")->ino == d.ino);
  BOOST_TEST(m->lookup(q.ino, "d")->ino == f.ino);
  BOOST_TEST(attr(p.ino).nlink == 3u);
  BOOST_TEST(attr(q.ino).nlink == 2u);
  BOOST_TEST(m->lookup(d.ino, "..")->ino == p.ino);
  BOOST_TEST(attr(f.ino).ctime_ns == kT0 + 4);
  BOOST_TEST(attr(d.ino).ctime_ns == kT0 + 4);
  BOOST_TEST(attr(p.ino).mtime_ns == kT0 + 4);
  BOOST_TEST(attr(q.ino).mtime_ns == kT0 + 4);
  BOOST_TEST(m->rename(p.ino, "f", q.ino, "missing", kRenameExchange, session, kT0).err() == ENOENT);
  BOOST_TEST(m->rename(p.ino, "missing", q.ino, "d", kRenameExchange, session, kT0).err() == ENOENT);
  // exchanging a directory with something inside itself would make a loop
  Attr inner = mk(d.ino, "inner");
  (void)inner;
  BOOST_TEST(m->rename(p.ino, "f", d.ino, "inner", kRenameExchange, session, kT0).err() == EINVAL);
  BOOST_TEST(m->rename(d.ino, "inner", p.ino, "f", kRenameExchange, session, kT0).err() == EINVAL);
  expect_consistent();
}

BOOST_AUTO_TEST_SUITE_END()
