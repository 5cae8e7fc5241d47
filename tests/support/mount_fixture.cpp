#include "tests/support/mount_fixture.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/support/fs_util.hpp"
#include "tests/support/mounts.hpp"
#include "tests/support/s3_server.hpp"

namespace s3l::test {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::vector<std::string> split_spaces(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

std::string tail_of(const std::string& s, size_t max = 4000) {
  return s.size() <= max ? s : "..." + s.substr(s.size() - max);
}

void list_files(const std::string& dir, const std::string& rel, std::vector<std::string>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string full = dir + "/" + name, r = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (::lstat(full.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      list_files(full, r, out);
    } else if (S_ISREG(st.st_mode)) {
      out.push_back(r);
    }
  }
  ::closedir(d);
}

// Temp dirs are named s3l-test-<pid>-XXXXXX. A test program killed by a
// signal cannot remove its own (its daemon still unmounts: PR_SET_PDEATHSIG),
// so the next fixture removes those whose program is gone and that hold no
// mount. Dirs kept on purpose (S3L_TEST_KEEP=1) carry a KEEP file.
void remove_stale_temp_dirs(const std::string& base) {
  DIR* d = ::opendir(base.c_str());
  if (!d) return;
  std::vector<std::string> stale;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    const std::string prefix = "s3l-test-";
    if (name.rfind(prefix, 0) != 0) continue;
    const std::string rest = name.substr(prefix.size());
    const auto dash = rest.find('-');
    if (dash == 0 || dash == std::string::npos || rest.find_first_not_of("0123456789") != dash) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(rest.substr(0, dash)));
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;  // its program still runs
    const std::string dir = base + "/" + name;
    struct stat st;
    if (::stat((dir + "/KEEP").c_str(), &st) == 0) continue;
    if (find_mount(dir + "/mnt")) continue;
    stale.push_back(dir);
  }
  ::closedir(d);
  for (const auto& dir : stale) remove_tree(dir);
}

// The daemon logs at warn level by default: anything it wrote besides the
// fixture's markers and its "mounted on" line is worth seeing in a test log,
// which outlives the temp dir.
std::string notable_lines(const std::string& log, size_t max_lines = 40) {
  std::istringstream in(log);
  std::vector<std::string> keep;
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("=== s3l-test:", 0) == 0 || line.find(" mounted on ") != std::string::npos) continue;
    keep.push_back(line);
  }
  std::string out;
  if (keep.size() > max_lines) out = "... (" + std::to_string(keep.size() - max_lines) + " earlier lines)\n";
  for (size_t i = keep.size() > max_lines ? keep.size() - max_lines : 0; i < keep.size(); ++i) out += keep[i] + "\n";
  return out;
}

}  // namespace

std::string MountFixture::daemon_path() {
  std::string p = env("S3L_TEST_DAEMON");
  return p.empty() ? S3L_DAEMON_PATH : p;
}

MountFixture::MountFixture(FixtureOptions opts) : opts_(std::move(opts)) {
  std::string base = env("S3L_TEST_TMPDIR");
  if (base.empty()) base = env("TMPDIR");
  if (base.empty()) base = "/tmp";
  remove_stale_temp_dirs(base);
  std::string tmpl = base + "/s3l-test-" + std::to_string(::getpid()) + "-XXXXXX";
  if (!mkdtemp(tmpl.data())) {
    throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
  }
  root_ = canonical_mount_path(tmpl);
  register_temp_dir(root_);
  // 0755: the permission tests run as another user, who must reach the mount.
  ::chmod(root_.c_str(), 0755);
  mnt_ = root_ + "/mnt";
  ::mkdir(mnt_.c_str(), 0755);
  daemon_log_path_ = root_ + "/daemon.log";

  const MountFixture* other = opts_.same_volume_as;
  meta_url_ = other ? other->meta_url() : env("S3L_TEST_META_URL");
  custom_meta_ = !meta_url_.empty();
  if (!custom_meta_) meta_url_ = "sqlite3://" + root_ + "/meta.db";
  storage_ = other ? other->storage_url() : opts_.storage.empty() ? env("S3L_TEST_STORAGE") : opts_.storage;
  custom_storage_ = other || (opts_.storage.empty() && !storage_.empty() && !is_s3_auto(storage_));
  for (auto& a : split_spaces(env("S3L_TEST_MOUNT_ARGS"))) opts_.mount_args.push_back(a);

  try {
    if (storage_.empty()) storage_ = "file://" + root_ + "/objects";
    else if (is_s3_auto(storage_)) storage_ = auto_s3_bucket_url();
    if (!other) format();  // a second client mounts the volume as it is
    mount();
  } catch (...) {
    teardown();
    throw;
  }
}

MountFixture::~MountFixture() { teardown(); }

std::string MountFixture::objects_dir() const {
  const std::string prefix = "file://";
  return storage_.rfind(prefix, 0) == 0 ? storage_.substr(prefix.size()) : "";
}

std::vector<std::string> MountFixture::object_files() const {
  std::vector<std::string> out;
  const std::string dir = objects_dir();
  if (dir.empty()) throw std::runtime_error("object_files(): storage " + storage_ + " is not a local directory");
  list_files(dir, "", out);
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<store::ObjectStore> MountFixture::open_store() const {
  auto st = store::open_store(storage_, false);
  if (!st.ok()) throw std::runtime_error("opening the store " + storage_ + ": " + st.msg());
  return std::move(st.value);
}

std::vector<std::string> MountFixture::object_keys() const {
  auto listed = open_store()->list("");
  if (!listed.ok()) throw std::runtime_error("listing the store " + storage_ + ": " + listed.msg());
  std::vector<std::string> out;
  for (const auto& o : *listed) out.push_back(o.key);
  return out;
}

RunResult MountFixture::run_cli(const std::vector<std::string>& args, milliseconds timeout) const {
  std::vector<std::string> argv{daemon_path()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, timeout);
}

RunResult MountFixture::fsck(const std::vector<std::string>& extra) const {
  std::vector<std::string> args{"fsck", meta_url_};
  args.insert(args.end(), extra.begin(), extra.end());
  return run_cli(args);
}

void MountFixture::format() {
  std::vector<std::string> args{"format", meta_url_, "s3ltest", "--storage", storage_};
  if (custom_meta_ || custom_storage_) args.push_back("--force");   // shared with earlier fixtures
  args.insert(args.end(), opts_.format_args.begin(), opts_.format_args.end());
  RunResult r = run_cli(args, milliseconds(60000));
  if (r.code() != 0) {
    throw std::runtime_error("format failed: " + join_args(args) + "\n" + r.describe());
  }
}

bool MountFixture::mounted() const {
  auto m = find_mount(mnt_);
  return m && m->is_fuse();
}

std::string MountFixture::daemon_log() const { return slurp(daemon_log_path_); }

void MountFixture::mount() {
  if (daemon_ && daemon_->running()) throw std::runtime_error("mount(): the daemon is already running");
  if (mounted()) throw std::runtime_error("mount(): " + mnt_ + " is already mounted");
  std::vector<std::string> argv{daemon_path(), "mount", meta_url_, mnt_, "--foreground",
                                "--cache-dir", root_ + "/cache"};
  std::string level = env("S3L_TEST_LOG_LEVEL");
  if (!level.empty()) argv.insert(argv.end(), {"--log-level", level});
  argv.insert(argv.end(), opts_.mount_args.begin(), opts_.mount_args.end());

  ++mounts_;
  {
    std::ofstream log(daemon_log_path_, std::ios::app);
    log << "=== s3l-test: mount #" << mounts_ << ": " << join_args(argv) << "\n";
  }
  const size_t log_start = daemon_log().size();
  daemon_ = std::make_unique<Child>(argv, daemon_log_path_, daemon_log_path_);
  register_mount(mnt_);

  const auto deadline = std::chrono::steady_clock::now() + opts_.mount_timeout;
  for (;;) {
    if (mounted()) return;
    if (auto st = daemon_->poll()) {
      throw std::runtime_error("mount: the daemon exited before the mount appeared (" + st->describe() +
                               ")\ncommand: " + join_args(argv) + "\nits output:\n" +
                               tail_of(daemon_log().substr(log_start)));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      daemon_->stop(milliseconds(5000));
      throw std::runtime_error("mount: " + mnt_ + " did not appear in /proc/self/mountinfo within " +
                               std::to_string(opts_.mount_timeout.count()) + " ms\ncommand: " +
                               join_args(argv) + "\nits output:\n" + tail_of(daemon_log().substr(log_start)));
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
}

void MountFixture::unmount() {
  if (!daemon_) throw std::runtime_error("unmount(): nothing was mounted");
  const size_t log_start = daemon_log().size();
  if (mounted()) {
    RunResult r = run({"fusermount3", "-u", mnt_}, milliseconds(30000));
    if (r.code() != 0) {
      throw std::runtime_error("unmount: fusermount3 -u " + mnt_ + " failed: " + r.describe() +
                               (r.err.find("busy") != std::string::npos
                                    ? "\n(busy: is a file or directory on the mount still open?)"
                                    : ""));
    }
  }
  auto st = daemon_->wait_for(opts_.unmount_timeout);
  if (!st) {
    throw std::runtime_error("unmount: the daemon (pid " + std::to_string(daemon_->pid()) +
                             ") did not exit within " + std::to_string(opts_.unmount_timeout.count()) +
                             " ms after fusermount3 -u\nits output:\n" + tail_of(daemon_log().substr(log_start)));
  }
  unregister_mount(mnt_);
  if (!st->exited || st->code != 0) {
    throw std::runtime_error("unmount: the daemon ended with " + st->describe() +
                             " after fusermount3 -u (expected exit code 0)\nits output:\n" +
                             tail_of(daemon_log()));
  }
  if (mounted()) throw std::runtime_error("unmount: " + mnt_ + " is still mounted after the daemon exited");
}

void MountFixture::teardown() noexcept {
  try {
    if (std::string notable = notable_lines(daemon_log()); !notable.empty()) {
      std::cerr << "s3l-test: the daemon of " << root_ << " logged:\n" << notable;
    }
    std::string log;
    if (mounted()) {
      RunResult r = run({"fusermount3", "-u", mnt_}, milliseconds(10000));
      if (r.code() != 0) log += "fusermount3 -u: " + r.describe() + "\n";
    }
    if (daemon_ && !daemon_->wait_for(mounted() ? milliseconds(0) : milliseconds(60000))) {
      // Still running: either the unmount failed (busy, hung) or it hangs on
      // the way out. TERM makes libfuse unmount; KILL if that does not help.
      if (!daemon_->stop(milliseconds(10000), milliseconds(3000))) {
        if (auto m = find_mount(mnt_)) {
          std::string why;
          if (!abort_fuse_connection(*m, &why)) log += "abort: " + why + "\n";
        }
        daemon_->signal_group(SIGKILL);
        if (!daemon_->wait_for(milliseconds(10000))) {
          log += "the daemon (pid " + std::to_string(daemon_->pid()) + ") survives SIGKILL\n";
        }
      }
    }
    if (!force_unmount(mnt_, &log)) log += mnt_ + " is still mounted\n";
    unregister_mount(mnt_);
    daemon_.reset();
    if (!log.empty()) std::cerr << "s3l-test teardown of " << root_ << ":\n" << log;
    if (root_.empty()) return;
    if (mounted()) {
      std::cerr << "s3l-test teardown: NOT removing " << root_ << " (still mounted)\n";
    } else if (env("S3L_TEST_KEEP") == "1") {
      std::cerr << "s3l-test: keeping " << root_ << " (S3L_TEST_KEEP=1)\n";
      std::ofstream(root_ + "/KEEP") << "kept because S3L_TEST_KEEP=1\n";
      unregister_temp_dir(root_);
    } else {
      remove_tree(root_);
      unregister_temp_dir(root_);
    }
  } catch (const std::exception& e) {
    std::cerr << "s3l-test teardown of " << root_ << " failed: " << e.what() << "\n";
  }
}

MountFixture& shared_mount() {
  static std::unique_ptr<MountFixture> fixture;
  static std::string error;
  if (fixture) return *fixture;
  if (!error.empty()) throw std::runtime_error("(shared mount unavailable) " + error);
  try {
    fixture = std::make_unique<MountFixture>();
  } catch (const std::exception& e) {
    error = e.what();
    throw;
  }
  add_cleanup_hook([] { fixture.reset(); });
  return *fixture;
}

}  // namespace s3l::test
