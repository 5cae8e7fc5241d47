// Child processes for tests. Every child runs in its own process group, gets
// SIGTERM if the test process dies (PR_SET_PDEATHSIG), and is recorded in a
// process-global registry that a Boost global fixture and an atexit handler
// empty, so a failing or crashing test leaves no daemon and no mount behind.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace s3l::test {

using std::chrono::milliseconds;

struct ExitStatus {
  bool exited = false;   // true: normal exit, `code` is valid; false: killed by `signal`
  int code = -1;
  int signal = 0;
  // Shell-like single number: the exit code, or 128 + signal.
  int shell_code() const { return exited ? code : 128 + signal; }
  std::string describe() const;  // "exit code 3" / "killed by signal 9 (Killed)"
};

// A spawned process; the process group id equals its pid. Not copyable; the
// destructor stops it (TERM, then KILL) if it is still running.
class Child {
 public:
  // Starts argv (argv[0] is a path or a name searched in PATH) with stdin from
  // /dev/null and stdout/stderr appended to the given files ("" = /dev/null;
  // the same path for both interleaves them). Throws std::runtime_error with
  // the reason if the program cannot be started.
  Child(const std::vector<std::string>& argv, const std::string& stdout_path,
        const std::string& stderr_path);
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& command() const { return cmdline_; }
  // The exit status once the process has ended (then it is reaped), else nullopt.
  std::optional<ExitStatus> poll();
  // Waits up to `timeout` for the end of the process.
  std::optional<ExitStatus> wait_for(milliseconds timeout);
  bool running() { return !poll().has_value(); }
  // Sends `sig` to the whole process group (no-op once reaped).
  void signal_group(int sig);
  // SIGTERM to the group, wait up to `grace`, then SIGKILL and wait up to
  // `kill_wait`. nullopt only if the process survives SIGKILL (stuck in the
  // kernel, e.g. on a hung FUSE mount: abort the connection and call again).
  std::optional<ExitStatus> stop(milliseconds grace, milliseconds kill_wait = milliseconds(5000));

 private:
  pid_t pid_ = -1;
  std::string cmdline_;
  std::optional<ExitStatus> status_;
};

// A finished short-lived command.
struct RunResult {
  ExitStatus status;
  bool timed_out = false;    // it was killed because it ran longer than allowed
  std::string out, err;      // captured stdout and stderr
  int code() const { return timed_out ? -1 : status.shell_code(); }
  std::string output() const { return out + err; }
  std::string describe() const;  // status plus both outputs, for failure messages
};

// Runs argv to completion (killed after `timeout`) and captures its output.
// Throws std::runtime_error if it cannot be started.
RunResult run(const std::vector<std::string>& argv, milliseconds timeout = milliseconds(120000));

// Joins argv for messages, quoting arguments that contain spaces.
std::string join_args(const std::vector<std::string>& argv);
// Whole content of a file ("" if it cannot be read).
std::string slurp(const std::string& path);

// ---- the process-global registry --------------------------------------------
// Mountpoints registered here are force-unmounted by cleanup_everything() if
// still mounted. Children register themselves.
void register_mount(const std::string& mountpoint);
void unregister_mount(const std::string& mountpoint);
// Directories removed by cleanup_everything() (after the mounts in them are
// gone) unless S3L_TEST_KEEP=1: temp dirs of fixtures that never tore down.
void register_temp_dir(const std::string& dir);
void unregister_temp_dir(const std::string& dir);
// Runs before everything else in cleanup_everything() (e.g. a clean unmount of
// a mount shared by several test cases). Hooks run once, newest first.
void add_cleanup_hook(std::function<void()> hook);
// Stops every registered child (TERM, then KILL) and removes every registered
// mount that is still present (aborting a hung FUSE connection first). Safe to
// call more than once; called by the global fixture's teardown and at exit.
void cleanup_everything();

}  // namespace s3l::test
