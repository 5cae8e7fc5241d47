// The command-line contract of s3layerfs-daemon (docs/configuration.md), run
// as a real process: exit codes, exactly one "s3layerfs-daemon: " error line,
// nothing created or lost on bad input, the detached mount, and SIGTERM /
// SIGINT unmounting only after every dirty byte is committed.
#define BOOST_TEST_MODULE cli
#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "meta/sql_conn.hpp"
#include "tests/support/fs_util.hpp"
#include "tests/support/mount_fixture.hpp"
#include "tests/support/mounts.hpp"

using namespace s3l::test;

namespace {

constexpr const char* kPrefix = "s3layerfs-daemon: ";

// A temp dir for cases that need no mount.
struct Scratch {
  std::string dir;
  Scratch() {
    std::string t = "/tmp/s3l-cli-test-XXXXXX";
    BOOST_REQUIRE(mkdtemp(t.data()));
    dir = t;
    register_temp_dir(dir);
  }
  ~Scratch() {
    remove_tree(dir);
    unregister_temp_dir(dir);
  }
  std::string url(const std::string& name) const { return "sqlite3://" + dir + "/" + name; }
};

RunResult cli(const std::vector<std::string>& args) {
  std::vector<std::string> argv{MountFixture::daemon_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, milliseconds(60000));
}

// The failure contract: the expected exit code and ONE line on stderr that
// starts with the program name.
void expect_failure(const RunResult& r, int code, const std::string& mention, const std::string& what) {
  BOOST_CHECK_MESSAGE(r.code() == code, what << ": exit code " << r.code() << ", expected " << code << "\n"
                                             << r.describe());
  std::string err = r.err;
  if (!err.empty() && err.back() == '\n') err.pop_back();
  BOOST_CHECK_MESSAGE(!err.empty() && err.find('\n') == std::string::npos && err.rfind(kPrefix, 0) == 0,
                      what << ": stderr should be exactly one line starting with '" << kPrefix << "', got:\n"
                           << r.err);
  if (!mention.empty()) {
    BOOST_CHECK_MESSAGE(r.err.find(mention) != std::string::npos,
                        what << ": the error should mention '" << mention << "':\n" << r.err);
  }
}

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d)) {
      std::string n = e->d_name;
      if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
  }
  return out;
}

// Pids of processes whose command line mentions `needle`.
std::vector<pid_t> processes_mentioning(const std::string& needle) {
  std::vector<pid_t> out;
  for (const auto& name : entries("/proc")) {
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string cmd = slurp("/proc/" + name + "/cmdline");
    if (cmd.find(needle) != std::string::npos) out.push_back(std::stoi(name));
  }
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(help_and_version) {
  RunResult r = cli({"--help"});
  BOOST_CHECK_MESSAGE(r.code() == 0 && r.out.find("mount") != std::string::npos, r.describe());
  r = cli({"--version"});
  BOOST_CHECK_MESSAGE(r.code() == 0 && r.out.find("s3layerfs-daemon") != std::string::npos, r.describe());
  for (const char* sub : {"format", "mount", "fsck"}) {
    r = cli({sub, "--help"});
    BOOST_CHECK_MESSAGE(r.code() == 0 && r.out.find("--") != std::string::npos, sub << " --help: " << r.describe());
  }
  r = cli({"mount", "--help"});
  for (const char* opt : {"--foreground", "--cache-dir", "--buffer-size", "--allow-other"}) {
    BOOST_CHECK_MESSAGE(r.out.find(opt) != std::string::npos, "mount --help does not mention " << opt);
  }
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_2) {
  Scratch s;
  expect_failure(cli({"frobnicate"}), 2, "frobnicate", "unknown command");
  expect_failure(cli({"mount", s.url("m.db"), s.dir, "--bogus"}), 2, "--bogus", "unknown option");
  expect_failure(cli({"format", s.url("m.db")}), 2, "", "format without NAME");
  expect_failure(cli({"format", s.url("m.db"), "v"}), 2, "storage", "format without --storage");
  expect_failure(cli({"format", s.url("m.db"), "v", "--storage", "file://" + s.dir + "/o", "--block-size", "3M"}), 2,
                 "block-size", "block size not a power of two");
  expect_failure(cli({"mount", s.url("m.db"), s.dir, "--buffer-size", "lots"}), 2, "buffer-size", "bad size");
  expect_failure(cli({"mount", s.url("m.db"), s.dir, "--cache-dir"}), 2, "cache-dir", "option without value");
  // Unsupported scheme: a bad value (2) or a database that cannot be opened (3).
  RunResult r = cli({"format", "mysql://x/y", "v", "--storage", "file://" + s.dir + "/o"});
  expect_failure(r, r.code() == 3 ? 3 : 2, "mysql", "unsupported META-URL scheme");
  expect_failure(cli({"status", s.url("m.db")}), 3, "m.db", "status of a database that does not exist");
  BOOST_CHECK_MESSAGE(entries(s.dir).empty(), "usage errors created files: " << entries(s.dir).size());
}

BOOST_AUTO_TEST_CASE(bad_config_file_names_file_line_and_key) {
  Scratch s;
  const std::string cfg = s.dir + "/s3l.conf";
  std::ofstream(cfg) << "[common]\nlog-level = info\n[mount]\nbufer-size = 64M\n";
  RunResult r = cli({"--config", cfg, "mount", s.url("m.db"), s.dir});
  expect_failure(r, 2, "bufer-size", "unknown key in config file");
  BOOST_CHECK_MESSAGE(r.err.find(cfg + ":4") != std::string::npos, "error should name " << cfg << ":4: " << r.err);
  std::ofstream(cfg) << "[mount]\nallow-other = perhaps\n";
  expect_failure(cli({"--config", cfg, "mount", s.url("m.db"), s.dir}), 2, "allow-other", "bad bool in config file");
  expect_failure(cli({"--config", s.dir + "/missing.conf", "fsck", s.url("m.db")}), 2, "missing.conf",
                 "missing config file");
}

BOOST_AUTO_TEST_CASE(format_refuses_a_formatted_volume_and_leaves_nothing_on_failure) {
  Scratch s;
  const std::string objects = "file://" + s.dir + "/objects";
  RunResult r = cli({"format", s.url("meta.db"), "vol", "--storage", objects});
  BOOST_REQUIRE_MESSAGE(r.code() == 0, r.describe());
  const std::string db_before = slurp(s.dir + "/meta.db");
  r = cli({"format", s.url("meta.db"), "other", "--storage", objects});
  BOOST_CHECK_MESSAGE(r.code() != 0, "formatting twice without --force succeeded");
  expect_failure(r, 3, "--force", "format of an already formatted volume");
  RunResult f = cli({"fsck", s.url("meta.db")});
  BOOST_CHECK_MESSAGE(f.code() == 0, "the refused format damaged the volume: " << f.describe());
  r = cli({"format", s.url("meta.db"), "again", "--storage", objects, "--force"});
  BOOST_CHECK_MESSAGE(r.code() == 0, "format --force: " << r.describe());

  // An object store that cannot be written: no database may be left behind.
  std::ofstream(s.dir + "/a-file") << "x";
  r = cli({"format", s.url("new.db"), "vol", "--storage", "file://" + s.dir + "/a-file/objects"});
  expect_failure(r, 3, "a-file", "format with an unusable object directory");
  BOOST_CHECK_MESSAGE(!exists(s.dir + "/new.db"), "a failed format left new.db behind");
  r = cli({"format", s.url("new.db"), "vol", "--storage", "file://relative/dir"});
  BOOST_CHECK_MESSAGE(r.code() == 2 || r.code() == 3, "relative file:// storage: " << r.describe());
  BOOST_CHECK_MESSAGE(!exists(s.dir + "/new.db"), "a failed format left new.db behind");
}

BOOST_AUTO_TEST_CASE(mount_errors_exit_3_and_create_nothing) {
  Scratch s;
  ::mkdir((s.dir + "/mnt").c_str(), 0755);
  // No database at all: it must not be created by mount.
  RunResult r = cli({"mount", s.url("none.db"), s.dir + "/mnt", "--foreground"});
  expect_failure(r, 3, "none.db", "mount of a missing database");
  BOOST_CHECK_MESSAGE(!exists(s.dir + "/none.db"), "mount created the missing database");
  // A file that is not a database: refused, and left byte-for-byte alone.
  std::ofstream(s.dir + "/junk.db") << "this is not an SQLite database, and must survive\n";
  r = cli({"mount", s.url("junk.db"), s.dir + "/mnt", "--foreground"});
  expect_failure(r, 3, "junk.db", "mount of a non-database file");
  BOOST_CHECK_EQUAL(slurp(s.dir + "/junk.db"), "this is not an SQLite database, and must survive\n");
  r = cli({"fsck", s.url("junk.db")});
  expect_failure(r, 3, "junk.db", "fsck of a non-database file");
  // A formatted volume, but a missing mountpoint.
  BOOST_REQUIRE_EQUAL(cli({"format", s.url("meta.db"), "v", "--storage", "file://" + s.dir + "/objects"}).code(), 0);
  r = cli({"mount", s.url("meta.db"), s.dir + "/no-such-dir", "--foreground"});
  expect_failure(r, 3, "no-such-dir", "mount on a missing mountpoint");
  BOOST_CHECK(!exists(s.dir + "/no-such-dir"));
  BOOST_CHECK(!find_mount(s.dir + "/mnt"));
}

BOOST_AUTO_TEST_CASE(mount_on_an_already_mounted_mountpoint_fails) {
  MountFixture m;
  write_file(m.path("still-here"), "data");
  RunResult r = m.run_cli({"mount", m.meta_url(), m.mountpoint(), "--foreground"}, milliseconds(30000));
  expect_failure(r, 3, "already mounted", "second mount on the same mountpoint");
  BOOST_CHECK_EQUAL(read_file(m.path("still-here")), "data");
  m.unmount();
}

BOOST_AUTO_TEST_CASE(detached_mount_returns_once_mounted_and_ends_on_unmount) {
  MountFixture m;
  write_file(m.path("f"), "persisted");
  m.unmount();
  register_mount(m.mountpoint());  // cleaned up if anything below fails
  RunResult r = m.run_cli({"mount", m.meta_url(), m.mountpoint(), "--cache-dir", m.root() + "/cache"},
                          milliseconds(30000));
  BOOST_REQUIRE_MESSAGE(r.code() == 0, "detached mount: " << r.describe());
  // The parent exits only once the filesystem is mounted: no waiting here.
  BOOST_REQUIRE_MESSAGE(find_mount(m.mountpoint()), "mount returned 0 but nothing is mounted yet");
  BOOST_CHECK_EQUAL(read_file(m.path("f")), "persisted");
  std::vector<pid_t> daemons = processes_mentioning(m.mountpoint());
  BOOST_CHECK_MESSAGE(daemons.size() == 1, daemons.size() << " processes serve the mount");
  RunResult u = run({"fusermount3", "-u", m.mountpoint()});
  BOOST_REQUIRE_MESSAGE(u.code() == 0, u.describe());
  bool gone = false;
  for (int i = 0; i < 600 && !gone; ++i) {
    gone = processes_mentioning(m.mountpoint()).empty();
    if (!gone) std::this_thread::sleep_for(milliseconds(50));
  }
  BOOST_CHECK_MESSAGE(gone, "the detached daemon is still running 30 s after fusermount3 -u");
  for (pid_t p : processes_mentioning(m.mountpoint())) ::kill(p, SIGKILL);
  unregister_mount(m.mountpoint());
  RunResult f = m.fsck();
  BOOST_CHECK_MESSAGE(f.code() == 0, f.describe());
}

namespace {

// Writes `size` bytes without fsync or close, stops the daemon with `sig`,
// and checks that it exits 0 and that every byte is there after a remount.
void dirty_data_survives(int sig) {
  MountFixture m;
  const uint64_t size = 24 * 1024 * 1024 + 5;
  const std::string path = m.path("dirty.bin");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  BOOST_REQUIRE(fd >= 0);
  std::string chunk;
  for (uint64_t off = 0; off < size; off += chunk.size()) {
    chunk = pattern(77, off, static_cast<size_t>(std::min<uint64_t>(1 << 20, size - off)));
    pwrite_all(fd, chunk.data(), chunk.size(), off, path);
  }
  BOOST_REQUIRE_EQUAL(::kill(m.daemon_pid(), sig), 0);
  // The daemon must commit and exit; the fixture's unmount() checks exit code 0.
  for (int i = 0; i < 1200 && m.mounted(); ++i) std::this_thread::sleep_for(milliseconds(50));
  BOOST_CHECK_MESSAGE(!m.mounted(), "still mounted 60 s after signal " << sig);
  ::close(fd);  // ENOTCONN or EIO is fine now: the daemon is gone
  m.unmount();
  RunResult f = m.fsck();
  BOOST_CHECK_MESSAGE(f.code() == 0, f.describe());
  m.mount();
  BOOST_CHECK_EQUAL(check_pattern_file(path, 77, size), "");
}

}  // namespace

BOOST_AUTO_TEST_CASE(sigterm_commits_dirty_data_before_exit) { dirty_data_survives(SIGTERM); }
BOOST_AUTO_TEST_CASE(sigint_commits_dirty_data_before_exit) { dirty_data_survives(SIGINT); }

namespace {

// Connections the daemon holds to its metadata database. SQLite: descriptors
// of the daemon open on the database file. PostgreSQL: sessions named
// s3layerfs other than this probe's own (only one daemon runs at a time here).
int daemon_meta_connections(const MountFixture& m) {
  const std::string url = m.meta_url();
  if (url.rfind("sqlite3://", 0) == 0) {
    std::string db = url.substr(std::string("sqlite3://").size());
    db = db.substr(0, db.find('?'));
    const std::string fds = "/proc/" + std::to_string(m.daemon_pid()) + "/fd";
    int n = 0;
    for (const auto& fd : entries(fds)) {
      char target[4096];
      ssize_t len = ::readlink((fds + "/" + fd).c_str(), target, sizeof target - 1);
      if (len > 0 && std::string(target, static_cast<size_t>(len)) == db) ++n;
    }
    return n;
  }
  auto c = s3l::meta::open_sql_conn(url, false);
  if (!c.ok()) throw std::runtime_error("counting connections: " + c.msg());
  s3l::meta::Query q(**c,
                     "SELECT count(*) FROM pg_stat_activity WHERE application_name = 's3layerfs' "
                     "AND pid <> pg_backend_pid()");
  return q.next() ? static_cast<int>(q.i64(0)) : -1;
}

// Eight threads at once: create, write, read back, rename, stat, unlink.
void busy_clients(MountFixture& m, int threads, int files) {
  std::vector<std::thread> ts;
  std::vector<std::string> errors(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t)
    ts.emplace_back([&, t] {
      try {
        const std::string dir = m.path("t" + std::to_string(t));
        if (::mkdir(dir.c_str(), 0755) != 0) throw std::runtime_error("mkdir " + dir + ": " + errno_name(errno));
        for (int i = 0; i < files; ++i) {
          const std::string f = dir + "/f" + std::to_string(i);
          const std::string data = pattern(static_cast<uint64_t>(t * 1000 + i), 0, 1000 + 97 * i);
          write_file(f, data);
          if (read_file(f) != data) throw std::runtime_error(f + ": content differs after close");
          const std::string g = dir + "/g" + std::to_string(i);
          if (::rename(f.c_str(), g.c_str()) != 0) throw std::runtime_error("rename " + f + ": " + errno_name(errno));
          if (static_cast<size_t>(stat_path(g).st_size) != data.size()) throw std::runtime_error(g + ": wrong size");
          if (i % 2 == 1 && ::unlink(g.c_str()) != 0) throw std::runtime_error("unlink " + g + ": " + errno_name(errno));
        }
        if (entries(dir).size() != static_cast<size_t>(files / 2 + files % 2))
          throw std::runtime_error(dir + ": " + std::to_string(entries(dir).size()) + " entries");
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(t)] = e.what();
      }
    });
  for (auto& th : ts) th.join();
  for (const auto& e : errors) BOOST_CHECK_MESSAGE(e.empty(), e);
}

}  // namespace

// --meta-conns reaches the daemon: it holds that many metadata connections
// (plus the session's and the compactor's), and a busy workload works with
// the fewest and with many.
BOOST_AUTO_TEST_CASE(meta_conns_2_and_8) {
  for (int n : {2, 8}) {
    BOOST_TEST_MESSAGE("--meta-conns " << n);
    FixtureOptions o;
    o.mount_args.push_back("--meta-conns");
    o.mount_args.push_back(std::to_string(n));
    MountFixture m(o);
    // The kernel shows the mount before the daemon opens its connections: once
    // a request was answered, they are all open.
    // Beyond the service: the connection that registered the session, and the
    // compactor's own once its first pass ran.
    write_file(m.path("probe"), "x");
    const int conns = daemon_meta_connections(m);
    BOOST_CHECK_MESSAGE(conns == n + 1 || conns == n + 2,
                        "--meta-conns " << n << ": the daemon holds " << conns << " metadata connections");
    busy_clients(m, 8, 30);
    m.unmount();
    RunResult f = m.fsck();
    BOOST_CHECK_MESSAGE(f.code() == 0, f.describe());
    m.mount();
    BOOST_CHECK_EQUAL(read_file(m.path("t3/g4")), pattern(3 * 1000 + 4, 0, 1000 + 97 * 4));
    BOOST_CHECK(!exists(m.path("t3/g5")));
    m.unmount();
  }
  Scratch s;
  expect_failure(cli({"mount", s.url("m.db"), s.dir, "--meta-conns", "1"}), 2, "--meta-conns: must be in [2, 64], got 1",
                 "--meta-conns below the minimum");
  expect_failure(cli({"mount", s.url("m.db"), s.dir, "--meta-conns", "65"}), 2, "got 65", "--meta-conns above the maximum");
}
