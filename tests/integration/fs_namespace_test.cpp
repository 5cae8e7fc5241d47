// The namespace through a real mount, with plain syscalls: rename and unlink
// semantics, hard links, symlinks, errno values, permission checks for a
// non-root user, nanosecond times, a 10,000-entry directory, and all of it
// identical after unmount and remount, with fsck clean.
#define BOOST_TEST_MODULE fs_namespace
#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/fs_util.hpp"
#include "tests/support/mount_fixture.hpp"
#include "tests/support/tree_snapshot.hpp"

using namespace s3l::test;

namespace {

// Each test case works in its own directory of the shared mount.
std::string fresh_dir(const std::string& name) {
  std::string d = shared_mount().path(name);
  BOOST_REQUIRE_MESSAGE(::mkdir(d.c_str(), 0755) == 0, "mkdir " << d << ": " << errno_name(errno));
  return d;
}

// Runs a syscall wrapper expected to fail and returns errno (0 if it succeeded).
int err_of(int rc) { return rc == -1 ? errno : 0; }

#define CHECK_ERRNO(call, expected)                                                                  \
  do {                                                                                               \
    int e_ = err_of(call);                                                                           \
    BOOST_CHECK_MESSAGE(e_ == (expected), #call << ": got " << errno_name(e_) << ", expected "       \
                                                << errno_name(expected));                            \
  } while (0)

#define CHECK_OK(call)                                                                               \
  do {                                                                                               \
    int e_ = err_of(call);                                                                           \
    BOOST_CHECK_MESSAGE(e_ == 0, #call << " failed: " << errno_name(e_));                           \
  } while (0)

int open_close(const std::string& path, int flags, mode_t mode = 0644) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd >= 0) ::close(fd);
  return fd < 0 ? -1 : 0;
}

int renameat2(const std::string& a, const std::string& b, unsigned flags) {
  return static_cast<int>(::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), flags));
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

int64_t ns_of(const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; }

}  // namespace

// The daemon answers a directory's GETATTR from its own changes (the
// kernel asks after every create or unlink in it): each change must show
// at once in the directory's link count and times, exactly as the
// database holds them (a fresh read after the cache timeout agrees).
BOOST_AUTO_TEST_CASE(directory_attributes_follow_every_change_through_this_mount) {
  const std::string d = fresh_dir("dirattrs");
  struct stat prev = stat_path(d);
  auto changed = [&](const char* what, nlink_t nlink) {
    struct stat now = stat_path(d);
    BOOST_CHECK_MESSAGE(now.st_nlink == nlink, what << ": nlink " << now.st_nlink << ", expected " << nlink);
    BOOST_CHECK_MESSAGE(ns_of(now.st_mtim) > ns_of(prev.st_mtim), what << ": mtime did not advance");
    BOOST_CHECK_MESSAGE(ns_of(now.st_ctim) == ns_of(now.st_mtim), what << ": ctime != mtime");
    prev = now;
  };
  write_file(d + "/f", "x");
  changed("create", 2);
  BOOST_REQUIRE_EQUAL(::mkdir((d + "/sub").c_str(), 0755), 0);
  changed("mkdir", 3);
  CHECK_OK(::link((d + "/f").c_str(), (d + "/g").c_str()));
  changed("link", 3);
  CHECK_OK(::unlink((d + "/g").c_str()));
  changed("unlink", 3);
  CHECK_OK(::symlink("f", (d + "/s").c_str()));
  changed("symlink", 3);
  CHECK_OK(::rename((d + "/s").c_str(), (d + "/s2").c_str()));
  changed("rename", 3);
  CHECK_OK(::rmdir((d + "/sub").c_str()));
  changed("rmdir", 2);
  CHECK_ERRNO(::mkdir((d + "/f").c_str(), 0755), EEXIST);
  CHECK_OK(::chmod(d.c_str(), 0700));
  BOOST_CHECK_EQUAL(stat_path(d).st_mode & 07777, 0700u);
  // After the timeout (1 s) the database's own answer: the same.
  const struct stat cached = stat_path(d);
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  const struct stat fresh = stat_path(d);
  BOOST_CHECK_EQUAL(fresh.st_nlink, cached.st_nlink);
  BOOST_CHECK_EQUAL(ns_of(fresh.st_mtim), ns_of(cached.st_mtim));
  BOOST_CHECK_EQUAL(ns_of(fresh.st_ctim), ns_of(cached.st_ctim));
  BOOST_CHECK_EQUAL(fresh.st_mode, cached.st_mode);
}

BOOST_AUTO_TEST_CASE(rename_semantics) {
  const std::string d = fresh_dir("rename");
  // Over an existing file: the target name now has the source inode.
  write_file(d + "/a", "AAAA");
  write_file(d + "/b", "BBBBBBBB");
  const ino_t ino_a = stat_path(d + "/a").st_ino;
  CHECK_OK(::rename((d + "/a").c_str(), (d + "/b").c_str()));
  CHECK_ERRNO(::access((d + "/a").c_str(), F_OK), ENOENT);
  BOOST_CHECK_EQUAL(read_file(d + "/b"), "AAAA");
  BOOST_CHECK_EQUAL(stat_path(d + "/b").st_ino, ino_a);
  BOOST_CHECK_EQUAL(stat_path(d + "/b").st_nlink, 1u);

  // Across directories, for a file and for a directory with content.
  BOOST_REQUIRE_EQUAL(::mkdir((d + "/d1").c_str(), 0755), 0);
  BOOST_REQUIRE_EQUAL(::mkdir((d + "/d2").c_str(), 0755), 0);
  write_file(d + "/d1/x", "xx");
  CHECK_OK(::rename((d + "/d1/x").c_str(), (d + "/d2/y").c_str()));
  BOOST_CHECK_EQUAL(read_file(d + "/d2/y"), "xx");
  CHECK_ERRNO(::access((d + "/d1/x").c_str(), F_OK), ENOENT);
  BOOST_REQUIRE_EQUAL(::mkdir((d + "/d1/sub").c_str(), 0755), 0);
  write_file(d + "/d1/sub/f", "in sub");
  BOOST_CHECK_EQUAL(stat_path(d + "/d1").st_nlink, 3u);
  CHECK_OK(::rename((d + "/d1/sub").c_str(), (d + "/d2/sub2").c_str()));
  BOOST_CHECK_EQUAL(read_file(d + "/d2/sub2/f"), "in sub");
  BOOST_CHECK(list_dir(d + "/d1").empty());
  BOOST_CHECK_EQUAL(stat_path(d + "/d1").st_nlink, 2u);
  BOOST_CHECK_EQUAL(stat_path(d + "/d2").st_nlink, 3u);

  // RENAME_NOREPLACE: refused over an existing name, nothing changes; allowed otherwise.
  write_file(d + "/n1", "one");
  write_file(d + "/n2", "two");
  CHECK_ERRNO(renameat2(d + "/n1", d + "/n2", RENAME_NOREPLACE), EEXIST);
  BOOST_CHECK_EQUAL(read_file(d + "/n1"), "one");
  BOOST_CHECK_EQUAL(read_file(d + "/n2"), "two");
  CHECK_OK(renameat2(d + "/n1", d + "/n3", RENAME_NOREPLACE));
  BOOST_CHECK_EQUAL(read_file(d + "/n3"), "one");
  CHECK_ERRNO(::access((d + "/n1").c_str(), F_OK), ENOENT);

  // Directories: over an empty one is allowed, over a non-empty one is not;
  // file over directory and directory over file are type errors.
  BOOST_REQUIRE_EQUAL(::mkdir((d + "/e1").c_str(), 0755), 0);
  BOOST_REQUIRE_EQUAL(::mkdir((d + "/e2").c_str(), 0755), 0);
  write_file(d + "/e1/keep", "k");
  CHECK_OK(::rename((d + "/e1").c_str(), (d + "/e2").c_str()));
  BOOST_CHECK_EQUAL(read_file(d + "/e2/keep"), "k");
  BOOST_REQUIRE_EQUAL(::mkdir((d + "/e3").c_str(), 0755), 0);
  int e = err_of(::rename((d + "/e3").c_str(), (d + "/e2").c_str()));
  BOOST_CHECK_MESSAGE(e == ENOTEMPTY || e == EEXIST, "rename dir over non-empty dir: got " << errno_name(e));
  BOOST_CHECK_EQUAL(read_file(d + "/e2/keep"), "k");
  CHECK_ERRNO(::rename((d + "/n2").c_str(), (d + "/e3").c_str()), EISDIR);
  CHECK_ERRNO(::rename((d + "/e3").c_str(), (d + "/n2").c_str()), ENOTDIR);
  CHECK_ERRNO(::rename((d + "/missing").c_str(), (d + "/n2").c_str()), ENOENT);

  // Over a target that has another hard link: that link survives.
  write_file(d + "/h1", "h1");
  BOOST_REQUIRE_EQUAL(::link((d + "/h1").c_str(), (d + "/h2").c_str()), 0);
  write_file(d + "/src", "src");
  CHECK_OK(::rename((d + "/src").c_str(), (d + "/h1").c_str()));
  BOOST_CHECK_EQUAL(read_file(d + "/h1"), "src");
  BOOST_CHECK_EQUAL(read_file(d + "/h2"), "h1");
  BOOST_CHECK_EQUAL(stat_path(d + "/h2").st_nlink, 1u);

  // A file kept open across being replaced still reads its own content.
  write_file(d + "/victim", "old content");
  int fd = ::open((d + "/victim").c_str(), O_RDONLY | O_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  write_file(d + "/replacement", "new");
  CHECK_OK(::rename((d + "/replacement").c_str(), (d + "/victim").c_str()));
  BOOST_CHECK_EQUAL(pread_exact(fd, 11, 0, "replaced victim"), "old content");
  ::close(fd);
  BOOST_CHECK_EQUAL(read_file(d + "/victim"), "new");
  BOOST_CHECK((list_dir(d) == std::set<std::string>{"b", "d1", "d2", "n2", "n3", "e2", "e3", "h1", "h2", "victim"}));
}

BOOST_AUTO_TEST_CASE(unlink_while_open_keeps_data_until_close) {
  const std::string d = fresh_dir("unlink");
  const std::string f = d + "/f";
  const std::string content = pattern(42, 0, 300 * 1024);
  write_file(f, content);
  int fd = ::open(f.c_str(), O_RDWR | O_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  CHECK_OK(::unlink(f.c_str()));
  CHECK_ERRNO(::access(f.c_str(), F_OK), ENOENT);
  BOOST_CHECK(list_dir(d).empty());
  struct stat st;
  BOOST_REQUIRE_EQUAL(::fstat(fd, &st), 0);
  BOOST_CHECK_EQUAL(st.st_nlink, 0u);
  BOOST_CHECK(pread_exact(fd, content.size(), 0, "unlinked file") == content);
  // Still writable, including extension, and the writes are readable.
  const std::string tail = "written after unlink";
  pwrite_all(fd, tail.data(), tail.size(), 5 * 1024 * 1024, "unlinked file");
  BOOST_CHECK_EQUAL(::fsync(fd), 0);
  BOOST_CHECK_EQUAL(pread_exact(fd, tail.size(), 5 * 1024 * 1024, "unlinked file"), tail);
  BOOST_CHECK(pread_exact(fd, content.size(), 0, "unlinked file") == content);
  BOOST_REQUIRE_EQUAL(::fstat(fd, &st), 0);
  BOOST_CHECK_EQUAL(st.st_size, 5 * 1024 * 1024 + static_cast<off_t>(tail.size()));
  BOOST_CHECK_EQUAL(::close(fd), 0);
  // The name can be reused for a new, unrelated file.
  write_file(f, "fresh");
  BOOST_CHECK_EQUAL(read_file(f), "fresh");
}

// Closed, unlinked files are freed while the volume stays mounted (the
// purger batches them), not only when the session ends: what statfs counts
// goes back down.
BOOST_AUTO_TEST_CASE(unlinked_files_are_freed_while_mounted) {
  const std::string d = fresh_dir("freed");
  auto used = [&](uint64_t* inodes) {
    struct statvfs sv;
    BOOST_REQUIRE_EQUAL(::statvfs(d.c_str(), &sv), 0);
    *inodes = sv.f_files - sv.f_ffree;
    return (sv.f_blocks - sv.f_bfree) * sv.f_frsize;
  };
  uint64_t inodes0 = 0, inodes1 = 0;
  // Earlier cases' files may still be being freed: start from a steady count.
  uint64_t bytes0 = used(&inodes0);
  for (int steady = 0, i = 0; steady < 5 && i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    uint64_t n = 0, b = used(&n);
    steady = b == bytes0 && n == inodes0 ? steady + 1 : 0;
    bytes0 = b;
    inodes0 = n;
  }
  const int files = 40;
  for (int i = 0; i < files; ++i) write_file(d + "/f" + std::to_string(i), pattern(i, 0, 100 * 1024));
  const uint64_t bytes1 = used(&inodes1);
  BOOST_REQUIRE_GE(bytes1, bytes0 + files * 100 * 1024 - 4096);
  BOOST_REQUIRE_GE(inodes1, inodes0 + files);
  for (int i = 0; i < files; ++i) CHECK_OK(::unlink((d + "/f" + std::to_string(i)).c_str()));
  uint64_t inodes = 0, bytes = used(&inodes);
  for (int i = 0; i < 300 && (bytes > bytes0 || inodes > inodes0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    bytes = used(&inodes);
  }
  BOOST_CHECK_MESSAGE(bytes <= bytes0, "used bytes " << bytes << " 15 s after the unlinks, " << bytes0 << " before");
  BOOST_CHECK_MESSAGE(inodes <= inodes0, "inodes " << inodes << " 15 s after the unlinks, " << inodes0 << " before");
}

BOOST_AUTO_TEST_CASE(hard_links) {
  const std::string d = fresh_dir("links");
  write_file(d + "/a", "shared content");
  BOOST_REQUIRE_EQUAL(::mkdir((d + "/sub").c_str(), 0755), 0);
  CHECK_OK(::link((d + "/a").c_str(), (d + "/b").c_str()));
  CHECK_OK(::link((d + "/a").c_str(), (d + "/sub/c").c_str()));
  struct stat sa = stat_path(d + "/a"), sb = stat_path(d + "/b"), sc = stat_path(d + "/sub/c");
  BOOST_CHECK_EQUAL(sa.st_ino, sb.st_ino);
  BOOST_CHECK_EQUAL(sa.st_ino, sc.st_ino);
  BOOST_CHECK_EQUAL(sa.st_nlink, 3u);
  BOOST_CHECK_EQUAL(sc.st_nlink, 3u);
  BOOST_CHECK_EQUAL(read_file(d + "/sub/c"), "shared content");
  // A write through one name is seen through the others.
  int fd = ::open((d + "/b").c_str(), O_WRONLY | O_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  pwrite_all(fd, "SHARED", 6, 0, d + "/b");
  BOOST_REQUIRE_EQUAL(::close(fd), 0);
  BOOST_CHECK_EQUAL(read_file(d + "/a"), "SHARED content");
  BOOST_CHECK_EQUAL(read_file(d + "/sub/c"), "SHARED content");
  CHECK_OK(::unlink((d + "/a").c_str()));
  BOOST_CHECK_EQUAL(stat_path(d + "/b").st_nlink, 2u);
  BOOST_CHECK_EQUAL(read_file(d + "/b"), "SHARED content");
  CHECK_ERRNO(::link((d + "/b").c_str(), (d + "/sub/c").c_str()), EEXIST);
  CHECK_ERRNO(::link((d + "/sub").c_str(), (d + "/sublink").c_str()), EPERM);
  CHECK_ERRNO(::link((d + "/missing").c_str(), (d + "/x").c_str()), ENOENT);
}

BOOST_AUTO_TEST_CASE(symlinks) {
  const std::string d = fresh_dir("symlinks");
  write_file(d + "/target-file", "through the link");
  CHECK_OK(::symlink("target-file", (d + "/l").c_str()));
  char buf[4096];
  ssize_t n = ::readlink((d + "/l").c_str(), buf, sizeof buf);
  BOOST_REQUIRE_MESSAGE(n >= 0, "readlink: " << errno_name(errno));
  BOOST_CHECK_EQUAL(std::string(buf, static_cast<size_t>(n)), "target-file");
  struct stat ls = lstat_path(d + "/l");
  BOOST_CHECK(S_ISLNK(ls.st_mode));
  BOOST_CHECK_EQUAL(ls.st_size, 11);
  struct stat ts = stat_path(d + "/l");
  BOOST_CHECK(S_ISREG(ts.st_mode));
  BOOST_CHECK_EQUAL(ts.st_ino, stat_path(d + "/target-file").st_ino);
  BOOST_CHECK_EQUAL(read_file(d + "/l"), "through the link");

  // Dangling, absolute and long targets are stored verbatim.
  CHECK_OK(::symlink("/nonexistent/dir/x", (d + "/dangling").c_str()));
  BOOST_CHECK(S_ISLNK(lstat_path(d + "/dangling").st_mode));
  struct stat st;
  CHECK_ERRNO(::stat((d + "/dangling").c_str(), &st), ENOENT);
  std::string long_target;
  for (int i = 0; i < 100; ++i) long_target += "component" + std::to_string(i % 10) + "/";
  long_target += "end";
  CHECK_OK(::symlink(long_target.c_str(), (d + "/long").c_str()));
  n = ::readlink((d + "/long").c_str(), buf, sizeof buf);
  BOOST_CHECK_EQUAL(std::string(buf, n < 0 ? 0 : static_cast<size_t>(n)), long_target);

  // A link to a directory is followed in paths.
  BOOST_REQUIRE_EQUAL(::mkdir((d + "/realdir").c_str(), 0755), 0);
  CHECK_OK(::symlink("realdir", (d + "/dirlink").c_str()));
  write_file(d + "/dirlink/inside", "via dir link");
  BOOST_CHECK_EQUAL(read_file(d + "/realdir/inside"), "via dir link");
  CHECK_ERRNO(::symlink("x", (d + "/l").c_str()), EEXIST);
  CHECK_ERRNO(::readlink((d + "/target-file").c_str(), buf, sizeof buf), EINVAL);
}

BOOST_AUTO_TEST_CASE(errno_values) {
  const std::string d = fresh_dir("errno");
  const std::string file = d + "/file", dir = d + "/dir";
  write_file(file, "x");
  BOOST_REQUIRE_EQUAL(::mkdir(dir.c_str(), 0755), 0);
  write_file(dir + "/child", "c");
  struct stat st;

  CHECK_ERRNO(open_close(d + "/missing", O_RDONLY), ENOENT);
  CHECK_ERRNO(::stat((d + "/missing/x").c_str(), &st), ENOENT);
  CHECK_ERRNO(::unlink((d + "/missing").c_str()), ENOENT);
  CHECK_ERRNO(::rmdir((d + "/missing").c_str()), ENOENT);
  CHECK_ERRNO(::mkdir((d + "/missing/sub").c_str(), 0755), ENOENT);
  CHECK_ERRNO(::truncate((d + "/missing").c_str(), 0), ENOENT);

  CHECK_ERRNO(::mkdir(dir.c_str(), 0755), EEXIST);
  CHECK_ERRNO(::mkdir(file.c_str(), 0755), EEXIST);
  CHECK_ERRNO(open_close(file, O_WRONLY | O_CREAT | O_EXCL), EEXIST);
  CHECK_ERRNO(open_close(dir, O_WRONLY | O_CREAT | O_EXCL), EEXIST);
  CHECK_ERRNO(::mknod((d + "/file").c_str(), S_IFIFO | 0644, 0), EEXIST);

  CHECK_ERRNO(::rmdir(dir.c_str()), ENOTEMPTY);

  CHECK_ERRNO(::stat((file + "/x").c_str(), &st), ENOTDIR);
  CHECK_ERRNO(open_close(file + "/x", O_WRONLY | O_CREAT), ENOTDIR);
  CHECK_ERRNO(::mkdir((file + "/sub").c_str(), 0755), ENOTDIR);
  CHECK_ERRNO(::rmdir(file.c_str()), ENOTDIR);
  CHECK_ERRNO(open_close(file, O_RDONLY | O_DIRECTORY), ENOTDIR);

  CHECK_ERRNO(open_close(dir, O_WRONLY), EISDIR);
  CHECK_ERRNO(open_close(dir, O_RDWR), EISDIR);
  CHECK_ERRNO(::unlink(dir.c_str()), EISDIR);
  CHECK_ERRNO(::truncate(dir.c_str(), 0), EISDIR);

  // Names: 255 bytes is the limit, 256 is refused everywhere.
  const std::string n255(255, 'n'), n256(256, 'n');
  CHECK_ERRNO(open_close(d + "/" + n256, O_WRONLY | O_CREAT), ENAMETOOLONG);
  CHECK_ERRNO(::mkdir((d + "/" + n256).c_str(), 0755), ENAMETOOLONG);
  CHECK_ERRNO(::stat((d + "/" + n256).c_str(), &st), ENAMETOOLONG);
  CHECK_ERRNO(::symlink("t", (d + "/" + n256).c_str()), ENAMETOOLONG);
  CHECK_ERRNO(::link(file.c_str(), (d + "/" + n256).c_str()), ENAMETOOLONG);
  CHECK_ERRNO(::rename(file.c_str(), (d + "/" + n256).c_str()), ENAMETOOLONG);
  CHECK_OK(open_close(d + "/" + n255, O_WRONLY | O_CREAT));
  CHECK_OK(::stat((d + "/" + n255).c_str(), &st));
  BOOST_CHECK(list_dir(d).count(n255) == 1);
  BOOST_CHECK(read_file(file) == "x");  // the failed rename left it alone
}

namespace {

// Runs as uid/gid 65534 in a forked child; appends one line per wrong result.
struct PermPaths {
  std::string rootdir, rootfile, privfile, opendir;
};

void as_nobody(std::string& report, void* arg) {
  const PermPaths& p = *static_cast<PermPaths*>(arg);
  auto expect = [&](const char* what, int rc, int want) {
    int e = rc == -1 ? errno : 0;
    if (e != want) report += std::string(what) + ": got " + errno_name(e) + ", expected " + errno_name(want) + "\n";
  };
  expect("open root-owned 0644 file O_WRONLY", open_close(p.rootfile, O_WRONLY), EACCES);
  expect("open root-owned 0644 file O_RDWR", open_close(p.rootfile, O_RDWR), EACCES);
  expect("truncate root-owned 0644 file", ::truncate(p.rootfile.c_str(), 0), EACCES);
  expect("create in root-owned 0755 dir", open_close(p.rootdir + "/new", O_WRONLY | O_CREAT), EACCES);
  expect("mkdir in root-owned 0755 dir", ::mkdir((p.rootdir + "/newdir").c_str(), 0755), EACCES);
  expect("unlink in root-owned 0755 dir", ::unlink(p.rootfile.c_str()), EACCES);
  expect("rename out of root-owned 0755 dir",
         ::rename(p.rootfile.c_str(), (p.opendir + "/stolen").c_str()), EACCES);
  expect("chmod of a root-owned file", ::chmod(p.rootfile.c_str(), 0666), EPERM);
  expect("read root-owned 0600 file", open_close(p.privfile, O_RDONLY), EACCES);
  // Positive controls: access is granted where the mode allows it, so the
  // refusals above come from permission checks, not from a closed mount.
  expect("read root-owned 0644 file", open_close(p.rootfile, O_RDONLY), 0);
  expect("list root-owned 0755 dir", open_close(p.rootdir, O_RDONLY | O_DIRECTORY), 0);
  expect("create in 0777 dir", open_close(p.opendir + "/mine", O_WRONLY | O_CREAT, 0640), 0);
  expect("write own file", open_close(p.opendir + "/mine", O_WRONLY), 0);
  expect("chmod own file", ::chmod((p.opendir + "/mine").c_str(), 0600), 0);
  struct stat st;
  if (::stat((p.opendir + "/mine").c_str(), &st) != 0) {
    report += "stat own file: " + errno_name(errno) + "\n";
  } else if (st.st_uid != 65534 || st.st_gid != 65534 || (st.st_mode & 07777) != 0600) {
    report += "own file: uid " + std::to_string(st.st_uid) + " gid " + std::to_string(st.st_gid) + " mode " +
              std::to_string(st.st_mode & 07777) + ", expected 65534/65534/0600 (384)\n";
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(permissions_for_a_non_root_user) {
  const std::string d = fresh_dir("perm");
  PermPaths p{d + "/rootdir", d + "/rootdir/rootfile", d + "/rootdir/private", d + "/open"};
  BOOST_REQUIRE_EQUAL(::mkdir(p.rootdir.c_str(), 0755), 0);
  write_file(p.rootfile, "root data", 0644);
  write_file(p.privfile, "private", 0600);
  BOOST_REQUIRE_EQUAL(::mkdir(p.opendir.c_str(), 0777), 0);
  BOOST_REQUIRE_EQUAL(::chmod(p.opendir.c_str(), 0777), 0);  // whatever the umask
  BOOST_REQUIRE_EQUAL(::chmod(p.rootfile.c_str(), 0644), 0);
  BOOST_REQUIRE_EQUAL(::chmod(p.privfile.c_str(), 0600), 0);

  std::string report = run_as_user(65534, 65534, as_nobody, &p);
  BOOST_CHECK_MESSAGE(report.empty(), "as uid 65534:\n" << report);

  BOOST_CHECK_EQUAL(read_file(p.rootfile), "root data");
  BOOST_CHECK((list_dir(p.rootdir) == std::set<std::string>{"rootfile", "private"}));
  BOOST_CHECK_EQUAL(stat_path(p.rootfile).st_mode & 07777, 0644u);
  // root may give files away.
  CHECK_OK(::chown((p.opendir + "/mine").c_str(), 1234, 5678));
  struct stat st = stat_path(p.opendir + "/mine");
  BOOST_CHECK_EQUAL(st.st_uid, 1234u);
  BOOST_CHECK_EQUAL(st.st_gid, 5678u);
}

BOOST_AUTO_TEST_CASE(nanosecond_times) {
  const std::string d = fresh_dir("times");
  const std::string f = d + "/f";
  write_file(f, "t");
  const timespec set[2] = {{1234567890, 123456789}, {1500000000, 987654321}};
  BOOST_REQUIRE_EQUAL(::utimensat(AT_FDCWD, f.c_str(), set, 0), 0);
  struct stat st = stat_path(f);
  BOOST_CHECK_EQUAL(ns_of(st.st_atim), 1234567890123456789LL);
  BOOST_CHECK_EQUAL(ns_of(st.st_mtim), 1500000000987654321LL);

  // UTIME_OMIT leaves a time alone.
  const timespec only_mtime[2] = {{0, UTIME_OMIT}, {1600000000, 1}};
  BOOST_REQUIRE_EQUAL(::utimensat(AT_FDCWD, f.c_str(), only_mtime, 0), 0);
  st = stat_path(f);
  BOOST_CHECK_EQUAL(ns_of(st.st_atim), 1234567890123456789LL);
  BOOST_CHECK_EQUAL(ns_of(st.st_mtim), 1600000000000000001LL);

  // Directories keep nanoseconds too.
  const timespec dset[2] = {{1111111111, 111111111}, {1222222222, 222222222}};
  BOOST_REQUIRE_EQUAL(::utimensat(AT_FDCWD, d.c_str(), dset, 0), 0);
  BOOST_CHECK_EQUAL(ns_of(stat_path(d).st_mtim), 1222222222222222222LL);

  // A write moves mtime to now; chmod moves ctime.
  write_file(d + "/w", "w");
  const timespec old[2] = {{1000000000, 5}, {1000000000, 5}};
  BOOST_REQUIRE_EQUAL(::utimensat(AT_FDCWD, (d + "/w").c_str(), old, 0), 0);
  const int64_t before_write = static_cast<int64_t>(std::time(nullptr)) * 1000000000 - 5000000000LL;
  int fd = ::open((d + "/w").c_str(), O_WRONLY | O_CLOEXEC);
  BOOST_REQUIRE(fd >= 0);
  pwrite_all(fd, "more", 4, 1, d + "/w");
  BOOST_REQUIRE_EQUAL(::close(fd), 0);
  st = stat_path(d + "/w");
  BOOST_CHECK_MESSAGE(ns_of(st.st_mtim) > before_write, "mtime after a write: " << ns_of(st.st_mtim));
  const int64_t ctime_before = ns_of(st.st_ctim);
  ::usleep(20000);
  BOOST_REQUIRE_EQUAL(::chmod((d + "/w").c_str(), 0600), 0);
  BOOST_CHECK_GT(ns_of(stat_path(d + "/w").st_ctim), ctime_before);
  // The values set above are checked again after the remount (tree snapshot).
}

BOOST_AUTO_TEST_CASE(directory_with_10000_entries) {
  const std::string d = fresh_dir("big");
  const int kCount = 10000;
  std::set<std::string> expected;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kCount; ++i) {
    // Varying name lengths make readdir buffers end at varying places.
    std::string name = "entry-" + std::to_string(i) + "-" + std::string(static_cast<size_t>(i % 37), 'x');
    int fd = ::open((d + "/" + name).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    BOOST_REQUIRE_MESSAGE(fd >= 0, "create #" << i << " " << name << ": " << errno_name(errno));
    ::close(fd);
    expected.insert(name);
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  BOOST_TEST_MESSAGE("created " << kCount << " files in " << secs << " s (" << kCount / secs << " creates/s)");

  std::vector<std::string> dupes;
  std::set<std::string> got = list_dir(d, &dupes);
  BOOST_CHECK_MESSAGE(dupes.empty(), dupes.size() << " names listed more than once, e.g. " << (dupes.empty() ? "" : dupes[0]));
  BOOST_CHECK_EQUAL(got.size(), expected.size());
  BOOST_CHECK(got == expected);
  // d_ino from readdir matches stat for a sample.
  DIR* dir = ::opendir(d.c_str());
  BOOST_REQUIRE(dir);
  int checked = 0;
  while (struct dirent* e = ::readdir(dir)) {
    std::string n = e->d_name;
    if (n == "." || n == ".." || (checked++ % 500) != 0) continue;
    BOOST_CHECK_EQUAL(e->d_ino, stat_path(d + "/" + n).st_ino);
  }
  ::closedir(dir);

  // Remove every third entry; the listing follows exactly.
  int i = 0;
  for (auto it = expected.begin(); it != expected.end(); ++i) {
    if (i % 3 == 0) {
      BOOST_REQUIRE_MESSAGE(::unlink((d + "/" + *it).c_str()) == 0, "unlink " << *it << ": " << errno_name(errno));
      it = expected.erase(it);
    } else {
      ++it;
    }
  }
  dupes.clear();
  got = list_dir(d, &dupes);
  BOOST_CHECK(dupes.empty());
  BOOST_CHECK_EQUAL(got.size(), expected.size());
  BOOST_CHECK(got == expected);
}

BOOST_AUTO_TEST_CASE(remount_keeps_the_namespace_and_fsck_is_clean) {
  MountFixture& m = shared_mount();
  TreeSnapshot before = snapshot_tree(m.mountpoint());
  BOOST_TEST_MESSAGE("snapshot of " << before.size() << " paths before unmount");
  m.unmount();
  RunResult fsck = m.fsck();
  BOOST_CHECK_MESSAGE(fsck.code() == 0, "fsck after unmount: " << fsck.describe());
  m.mount();
  TreeSnapshot after = snapshot_tree(m.mountpoint());
  std::string diff = diff_snapshots(before, after);
  BOOST_CHECK_MESSAGE(diff.empty(), "differences after remount:\n" << diff);
}
