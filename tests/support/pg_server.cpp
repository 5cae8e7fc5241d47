#include "tests/support/pg_server.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "tests/support/fs_util.hpp"
#include "tests/support/process.hpp"

// Referenced by the test executables' link line (tests/CMakeLists.txt) so that
// this object, and with it the postgres-auto global fixture, is always linked.
extern "C" {
int s3l_pg_auto_anchor = 0;
}

namespace s3l::test {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPrefix = "s3l-pg-";

std::string pg_bindir() {
  if (const char* e = std::getenv("S3L_PG_BINDIR"); e && *e) return e;
  std::string best;
  int best_v = -1;
  std::error_code ec;
  for (const auto& d : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string v = d.path().filename().string();
    if (v.empty() || v.find_first_not_of("0123456789") != std::string::npos) continue;
    if (!fs::exists(d.path() / "bin" / "initdb")) continue;
    if (std::stoi(v) > best_v) {
      best_v = std::stoi(v);
      best = (d.path() / "bin").string();
    }
  }
  if (best.empty())
    throw std::runtime_error("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin "
                             "(apt-get install postgresql; scripts/deps.sh test installs it; or set S3L_PG_BINDIR)");
  return best;
}

bool as_root() { return geteuid() == 0; }

// PostgreSQL refuses to run as root: run its tools as `postgres` then.
std::vector<std::string> as_pg(std::vector<std::string> argv) {
  if (!as_root()) return argv;
  std::vector<std::string> out = {"runuser", "-u", "postgres", "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

struct passwd* pg_user() {
  struct passwd* pw = getpwnam("postgres");
  if (!pw)
    throw std::runtime_error("running as root but there is no 'postgres' user (install the postgresql package)");
  return pw;
}

// Can the postgres user reach a directory created below `base`?
bool reachable_by_postgres(const fs::path& base, uid_t uid) {
  fs::path p;
  for (const auto& part : fs::absolute(base)) {
    p /= part;
    struct stat st;
    if (::stat(p.c_str(), &st) != 0) return false;
    bool x = (st.st_mode & S_IXOTH) || (st.st_uid == uid && (st.st_mode & S_IXUSR));
    if (!x) return false;
  }
  return true;
}

bool alive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0) return errno == EPERM;
  // Not a zombie (a zombie postmaster would be ours only if we were its parent).
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  auto rp = line.rfind(')');
  return !(rp != std::string::npos && rp + 2 < line.size() && line[rp + 2] == 'Z');
}

pid_t read_pid(const fs::path& file) {
  std::ifstream in(file);
  long v = 0;
  if (!(in >> v)) return -1;
  return static_cast<pid_t>(v);
}

// The postmaster's children (backends, checkpointer, ...), from /proc.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    std::getline(in, line);
    auto rp = line.rfind(')');
    if (rp == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (sscanf(line.c_str() + rp + 1, " %c %ld", &state, &ppid) == 2 && ppid == parent)
      out.push_back(static_cast<pid_t>(std::atol(e->d_name)));
  }
  ::closedir(d);
  return out;
}

bool is_postgres(pid_t pid) {
  std::string exe;
  std::error_code ec;
  exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec).string();
  return exe.find("postgres") != std::string::npos;
}

bool gone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

// SIGKILL to a postmaster and every process it started; waits until they are
// gone. The postmaster is not our child: until init reaps it, it is a zombie
// that still "exists" for PostgreSQL's own lock file check, so a dead one's
// postmaster.pid is removed (safe: nothing uses that data directory any more).
void kill_cluster(pid_t postmaster, const std::string& data) {
  if (alive(postmaster) && is_postgres(postmaster)) {
    auto kids = children_of(postmaster);
    ::kill(postmaster, SIGKILL);
    for (pid_t k : kids) ::kill(k, SIGKILL);
    for (auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;) {
      bool any = alive(postmaster);
      for (pid_t k : kids) any = any || alive(k);
      if (!any) break;
      std::this_thread::sleep_for(20ms);
    }
  }
  if (postmaster <= 0 || alive(postmaster)) return;
  for (auto deadline = std::chrono::steady_clock::now() + 2s;
       !gone(postmaster) && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::sleep_for(20ms);
  if (!gone(postmaster) && read_pid(fs::path(data) / "postmaster.pid") == postmaster)
    ::unlink((fs::path(data) / "postmaster.pid").c_str());
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error("cannot find a free loopback port: " + std::string(std::strerror(e)));
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

// Servers of test processes that died without cleaning up (SIGKILL, crash).
void reap_stale_servers(const fs::path& base) {
  std::error_code ec;
  for (const auto& d : fs::directory_iterator(base, ec)) {
    const std::string name = d.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    pid_t owner = read_pid(d.path() / "owner.pid");
    if (owner <= 0 || alive(owner)) continue;
    pid_t pm = read_pid(d.path() / "data" / "postmaster.pid");
    std::cerr << "s3l-test: removing PostgreSQL test cluster " << d.path() << " of dead test process " << owner
              << "\n";
    kill_cluster(pm, (d.path() / "data").string());
    remove_tree(d.path().string());
  }
}

}  // namespace

struct PgServer::State {
  PgServerOptions opts;
  std::string bindir, dir, data, logfile;
  int port = 0;
  pid_t postmaster = -1;
  bool removed = false;
  std::mutex mu;

  void run_checked(const std::vector<std::string>& argv, std::chrono::milliseconds timeout, const char* what) {
    RunResult r = run(as_pg(argv), timeout);
    if (r.code() != 0)
      throw std::runtime_error(std::string(what) + " failed: " + join_args(argv) + ": " + r.describe() +
                               "\n--- server log ---\n" + slurp(logfile));
  }

  void start_locked() {
    if (postmaster > 0 && alive(postmaster)) return;
    std::string last;
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (port == 0 || attempt > 0) port = free_port();
      std::string o = "-p " + std::to_string(port) + " -k " + dir + " -c listen_addresses=127.0.0.1";
      if (!opts.durable) o += " -c fsync=off -c full_page_writes=off";
      RunResult r = run(as_pg({bindir + "/pg_ctl", "-D", data, "-l", logfile, "-w", "-t", "60", "-o", o, "start"}),
                        90s);
      if (r.code() == 0) {
        postmaster = read_pid(fs::path(data) / "postmaster.pid");
        if (postmaster <= 0) throw std::runtime_error("pg_ctl start succeeded but " + data + "/postmaster.pid is unreadable");
        return;
      }
      last = r.describe() + "\n--- server log ---\n" + slurp(logfile);
      if (last.find("already in use") == std::string::npos && last.find("could not bind") == std::string::npos &&
          last.find("could not create any TCP/IP sockets") == std::string::npos)
        break;   // not a port race: retrying will not help
    }
    throw std::runtime_error("cannot start PostgreSQL in " + dir + ": " + last);
  }

  void stop_locked() {
    if (postmaster <= 0) postmaster = read_pid(fs::path(data) / "postmaster.pid");
    if (postmaster <= 0 || !alive(postmaster)) {
      postmaster = -1;
      return;
    }
    RunResult r = run(as_pg({bindir + "/pg_ctl", "-D", data, "-m", "fast", "-w", "-t", "30", "stop"}), 45s);
    if (r.code() != 0 || alive(postmaster)) {
      std::cerr << "s3l-test: pg_ctl stop did not stop PostgreSQL in " << dir << " (" << r.describe()
                << "); killing postmaster " << postmaster << "\n";
      kill_cluster(postmaster, data);
    }
    postmaster = -1;
  }

  void shutdown() noexcept {
    std::lock_guard<std::mutex> lk(mu);
    if (removed) return;
    try {
      stop_locked();
    } catch (const std::exception& e) {
      std::cerr << "s3l-test: stopping PostgreSQL in " << dir << ": " << e.what() << "\n";
      kill_cluster(postmaster, data);
    }
    const char* keep = std::getenv("S3L_TEST_KEEP");
    if (keep && std::string(keep) == "1") {
      std::cerr << "s3l-test: keeping " << dir << " (S3L_TEST_KEEP=1)\n";
    } else {
      remove_tree(dir);
    }
    unregister_temp_dir(dir);
    removed = true;
  }
};

PgServer::PgServer(PgServerOptions opts) : s_(std::make_shared<State>()) {
  State& s = *s_;
  s.opts = std::move(opts);
  s.bindir = pg_bindir();

  fs::path base = fs::temp_directory_path();
  uid_t pg_uid = as_root() ? pg_user()->pw_uid : geteuid();
  gid_t pg_gid = as_root() ? pg_user()->pw_gid : getegid();
  if (as_root() && !reachable_by_postgres(base, pg_uid)) base = "/tmp";
  reap_stale_servers(base);

  std::string tmpl = (base / (std::string(kPrefix) + "XXXXXX")).string();
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
  s.dir = tmpl;
  s.data = s.dir + "/data";
  s.logfile = s.dir + "/log";
  register_temp_dir(s.dir);
  // The hook holds the state, not `this`: it may run after the destructor.
  add_cleanup_hook([st = s_] { st->shutdown(); });
  {
    std::ofstream(s.dir + "/owner.pid") << getpid() << "\n";
  }
  if (as_root() && ::chown(s.dir.c_str(), pg_uid, pg_gid) != 0)
    throw std::runtime_error("chown " + s.dir + " to postgres: " + std::strerror(errno));
  ::chmod(s.dir.c_str(), 0700);

  try {
    std::vector<std::string> initdb = {s.bindir + "/initdb", "-D", s.data, "-A", "trust", "-U", "postgres",
                                       "-E", "UTF8", "--locale=C"};
    if (!s.opts.durable) initdb.push_back("--no-sync");
    s.run_checked(initdb, 120s, "initdb");
    {
      std::lock_guard<std::mutex> lk(s.mu);
      s.start_locked();
    }
    create_database(s.opts.database);
  } catch (...) {
    s.shutdown();
    throw;
  }
}

PgServer::~PgServer() { s_->shutdown(); }

std::string PgServer::url() const { return url_for(s_->opts.database); }
std::string PgServer::url_for(const std::string& database) const {
  return "postgres://postgres@127.0.0.1:" + std::to_string(s_->port) + "/" + database;
}
int PgServer::port() const { return s_->port; }
const std::string& PgServer::dir() const { return s_->dir; }
std::string PgServer::log() const { return slurp(s_->logfile); }

std::string PgServer::psql(const std::string& sql, const std::string& database) const {
  std::vector<std::string> argv = {"psql", "-X", "-h", "127.0.0.1", "-p", std::to_string(s_->port), "-U", "postgres",
                                   "-d", database.empty() ? "postgres" : database, "-v", "ON_ERROR_STOP=1",
                                   "-Atq", "-c", sql};
  RunResult r = run(argv, 60s);
  if (r.code() != 0) throw std::runtime_error("psql failed: " + join_args(argv) + ": " + r.describe());
  return r.out;
}

void PgServer::create_database(const std::string& name) const {
  psql("CREATE DATABASE \"" + name + "\"");
}

bool PgServer::running() const {
  std::lock_guard<std::mutex> lk(s_->mu);
  return s_->postmaster > 0 && alive(s_->postmaster);
}

void PgServer::stop() {
  std::lock_guard<std::mutex> lk(s_->mu);
  s_->stop_locked();
}

void PgServer::start() {
  std::lock_guard<std::mutex> lk(s_->mu);
  if (s_->removed) throw std::runtime_error("PgServer::start after shutdown");
  s_->start_locked();
}

void PgServer::kill_hard() {
  std::lock_guard<std::mutex> lk(s_->mu);
  kill_cluster(s_->postmaster, s_->data);
  s_->postmaster = -1;
}

// ---- S3L_TEST_META_URL=postgres-auto ------------------------------------------

namespace {
PgServer* g_auto = nullptr;

struct PgAutoFixture {
  PgAutoFixture() {
    const char* v = std::getenv("S3L_TEST_META_URL");
    if (!v || std::string(v) != "postgres-auto") return;
    g_auto = new PgServer();
    ::setenv("S3L_TEST_META_URL", g_auto->url().c_str(), 1);
    BOOST_TEST_MESSAGE("S3L_TEST_META_URL=postgres-auto: PostgreSQL at " << g_auto->url() << " (" << g_auto->dir()
                                                                       << ")");
  }
  ~PgAutoFixture() {
    if (!g_auto) return;
    // Mounts and daemons of the tests still talk to the server (a daemon
    // closes its session on unmount): remove them first. Cleanup hooks run
    // newest first, so the server's own hook, registered before any test,
    // runs last anyway.
    cleanup_everything();
    delete g_auto;
    g_auto = nullptr;
  }
};
}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(PgAutoFixture);

PgServer* auto_pg_server() { return g_auto; }

}  // namespace s3l::test
