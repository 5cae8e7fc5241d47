#include "tests/support/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "tests/support/fs_util.hpp"
#include "tests/support/mounts.hpp"

namespace s3l::test {
namespace {

// Leaked on purpose: children and mounts must still be reachable from the
// atexit handler, after static destructors may have run.
struct Registry {
  std::mutex mu;
  std::vector<std::function<void()>> hooks;  // run first, in reverse order
  std::map<pid_t, std::string> children;   // pid (= pgid) -> command line
  std::set<std::string> mounts;
  std::set<std::string> temp_dirs;
};
Registry& registry() {
  static Registry* r = new Registry;
  return *r;
}

void at_exit_cleanup() { cleanup_everything(); }

void install_atexit_once() {
  static std::once_flag once;
  std::call_once(once, [] { std::atexit(at_exit_cleanup); });
}

ExitStatus decode(int st) {
  ExitStatus e;
  if (WIFEXITED(st)) {
    e.exited = true;
    e.code = WEXITSTATUS(st);
  } else if (WIFSIGNALED(st)) {
    e.signal = WTERMSIG(st);
  }
  return e;
}

// Non-blocking: reaps `pid` if it has ended. Before reaping, SIGKILLs what is
// left of its process group: the unreaped zombie still reserves the pgid, so
// this can never hit an unrelated process that reused the number.
std::optional<ExitStatus> try_reap(pid_t pid) {
  siginfo_t info;
  std::memset(&info, 0, sizeof info);
  int rc;
  while ((rc = waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT)) != 0 &&
         errno == EINTR) {
  }
  if (rc != 0) return ExitStatus{};  // ECHILD: already reaped elsewhere (cleanup_everything)
  if (info.si_pid == 0) return std::nullopt;
  kill(-pid, SIGKILL);
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return decode(st);
}

std::optional<ExitStatus> reap_within(pid_t pid, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto nap = milliseconds(1);
  for (;;) {
    if (auto st = try_reap(pid)) return st;
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(nap);
    if (nap < milliseconds(25)) nap *= 2;
  }
}

void unregister_child(pid_t pid) {
  std::lock_guard<std::mutex> lk(registry().mu);
  registry().children.erase(pid);
}

int open_output(const std::string& path) {
  const char* p = path.empty() ? "/dev/null" : path.c_str();
  int fd = ::open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + std::string(p) + ": " + std::strerror(errno));
  return fd;
}

// Global fixture: whatever a test left running or mounted is removed when the
// test module ends, even if test cases failed or threw.
struct ProcessCleanupFixture {
  ProcessCleanupFixture() { install_atexit_once(); }
  ~ProcessCleanupFixture() { cleanup_everything(); }
};

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(ProcessCleanupFixture);

std::string ExitStatus::describe() const {
  if (exited) return "exit code " + std::to_string(code);
  if (signal) return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  return "unknown status (reaped elsewhere)";
}

std::string join_args(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a.find(' ') == std::string::npos && !a.empty() ? a : "'" + a + "'";
  }
  return s;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Child::Child(const std::vector<std::string>& argv, const std::string& stdout_path,
             const std::string& stderr_path)
    : cmdline_(join_args(argv)) {
  if (argv.empty()) throw std::runtime_error("Child: empty argv");
  install_atexit_once();
  // Everything that allocates happens before fork().
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int out_fd = open_output(stdout_path);
  int err_fd = stderr_path == stdout_path ? ::dup(out_fd) : open_output(stderr_path);
  int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int report[2];
  if (err_fd < 0 || null_fd < 0 || pipe2(report, O_CLOEXEC) != 0) {
    throw std::runtime_error("Child: cannot prepare file descriptors: " + std::string(std::strerror(errno)));
  }
  const pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);          // the parent died before prctl
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) signal(sig, SIG_DFL);
    dup2(null_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    execvp(args[0], args.data());
    int e = errno;
    (void)!write(report[1], &e, sizeof e);
    _exit(127);
  }
  setpgid(pid, pid);  // also in the parent: no window where the group does not exist
  ::close(report[1]);
  ::close(out_fd);
  ::close(err_fd);
  ::close(null_fd);
  int child_errno = 0;
  ssize_t n;
  while ((n = ::read(report[0], &child_errno, sizeof child_errno)) < 0 && errno == EINTR) {
  }
  ::close(report[0]);
  if (n > 0) {
    int st = 0;
    waitpid(pid, &st, 0);
    throw std::runtime_error("cannot execute " + argv[0] + ": " + std::strerror(child_errno));
  }
  pid_ = pid;
  std::lock_guard<std::mutex> lk(registry().mu);
  registry().children[pid] = cmdline_;
}

Child::~Child() {
  if (!status_) stop(milliseconds(5000));
}

std::optional<ExitStatus> Child::poll() {
  if (status_) return status_;
  if (auto st = try_reap(pid_)) {
    status_ = st;
    unregister_child(pid_);
  }
  return status_;
}

std::optional<ExitStatus> Child::wait_for(milliseconds timeout) {
  if (status_) return status_;
  if (auto st = reap_within(pid_, timeout)) {
    status_ = st;
    unregister_child(pid_);
  }
  return status_;
}

void Child::signal_group(int sig) {
  if (!status_) kill(-pid_, sig);
}

std::optional<ExitStatus> Child::stop(milliseconds grace, milliseconds kill_wait) {
  if (poll()) return status_;
  signal_group(SIGTERM);
  signal_group(SIGCONT);  // a stopped process acts on TERM only once continued
  if (wait_for(grace)) return status_;
  signal_group(SIGKILL);
  return wait_for(kill_wait);
}

std::string RunResult::describe() const {
  std::string s = timed_out ? "timed out and was killed" : status.describe();
  s += "\n--- stdout ---\n" + out + "--- stderr ---\n" + err + "--------------";
  return s;
}

RunResult run(const std::vector<std::string>& argv, milliseconds timeout) {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = std::string(tmp && *tmp ? tmp : "/tmp") + "/s3l-run-XXXXXX";
  std::string out_path = base, err_path = base;
  int fo = mkstemp(out_path.data());
  int fe = mkstemp(err_path.data());
  if (fo < 0 || fe < 0) throw std::runtime_error("run: mkstemp failed: " + std::string(std::strerror(errno)));
  ::close(fo);
  ::close(fe);
  RunResult r;
  {
    Child c(argv, out_path, err_path);
    auto st = c.wait_for(timeout);
    if (!st) {
      r.timed_out = true;
      st = c.stop(milliseconds(2000));
    }
    if (st) r.status = *st;
  }
  r.out = slurp(out_path);
  r.err = slurp(err_path);
  ::unlink(out_path.c_str());
  ::unlink(err_path.c_str());
  return r;
}

void register_mount(const std::string& mountpoint) {
  install_atexit_once();
  std::lock_guard<std::mutex> lk(registry().mu);
  registry().mounts.insert(mountpoint);
}

void unregister_mount(const std::string& mountpoint) {
  std::lock_guard<std::mutex> lk(registry().mu);
  registry().mounts.erase(mountpoint);
}

void add_cleanup_hook(std::function<void()> hook) {
  install_atexit_once();
  std::lock_guard<std::mutex> lk(registry().mu);
  registry().hooks.push_back(std::move(hook));
}

void register_temp_dir(const std::string& dir) {
  install_atexit_once();
  std::lock_guard<std::mutex> lk(registry().mu);
  registry().temp_dirs.insert(dir);
}

void unregister_temp_dir(const std::string& dir) {
  std::lock_guard<std::mutex> lk(registry().mu);
  registry().temp_dirs.erase(dir);
}

void cleanup_everything() {
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard<std::mutex> lk(registry().mu);
    hooks.swap(registry().hooks);
  }
  for (auto it = hooks.rbegin(); it != hooks.rend(); ++it) {
    try {
      (*it)();
    } catch (const std::exception& e) {
      std::cerr << "s3l-test cleanup: " << e.what() << "\n";
    }
  }
  std::map<pid_t, std::string> children;
  std::set<std::string> mounts;
  {
    std::lock_guard<std::mutex> lk(registry().mu);
    children.swap(registry().children);
    mounts.swap(registry().mounts);
  }
  // TERM first: a FUSE daemon unmounts itself cleanly on SIGTERM.
  for (const auto& [pid, cmd] : children) {
    std::cerr << "s3l-test cleanup: stopping leftover process " << pid << " (" << cmd << ")\n";
    kill(-pid, SIGTERM);
    kill(-pid, SIGCONT);
  }
  for (const auto& [pid, cmd] : children) {
    if (!reap_within(pid, milliseconds(10000))) {
      kill(-pid, SIGKILL);
      // A process stuck on its own hung mount dies only once that mount is
      // aborted, which happens below; give it a moment afterwards too.
      reap_within(pid, milliseconds(2000));
    }
  }
  for (const auto& m : mounts) {
    if (find_mount(m)) {
      std::cerr << "s3l-test cleanup: removing leftover mount " << m << "\n";
      force_unmount(m);
    }
  }
  for (const auto& [pid, cmd] : children) reap_within(pid, milliseconds(5000));

  std::set<std::string> dirs;
  {
    std::lock_guard<std::mutex> lk(registry().mu);
    dirs.swap(registry().temp_dirs);
  }
  const char* keep = std::getenv("S3L_TEST_KEEP");
  for (const auto& d : dirs) {
    if (keep && std::string(keep) == "1") {
      std::cerr << "s3l-test cleanup: keeping " << d << " (S3L_TEST_KEEP=1)\n";
    } else {
      remove_tree(d);   // never crosses into a mount that could not be removed
    }
  }
}

}  // namespace s3l::test
