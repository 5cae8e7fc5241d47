// Metadata load generator for bench/meta_mount.sh: one timed phase of plain
// POSIX calls on one or more mountpoints (one thread per mountpoint = one
// client), started together, timed from the common start until the last
// thread is done. Any failed call stops the run with the path and errno: a
// benchmark that silently skips errors measures nothing.
//
//   meta_ops PHASE [--files N] [--from F] [--dirs D] [--tree NAME] ROOT [ROOT ...]
//
// File i (F <= i < F+N) is ROOT/NAME/d<i % D>/f<i>; it belongs to client
// (i - F) % C, C = number of ROOTs. Phases:
//   mkdirs   NAME and its D directories, through the first ROOT (not timed)
//   create   open(O_CREAT|O_EXCL|O_WRONLY) + close of each own file (empty)
//   stat     stat() of each own file; checks regular file, size 0
//   readdir  full listing (opendir/readdir/closedir) of directories: client c
//            lists d where d % C == c, or every client lists every directory
//            if D < C; checks the entry count; ops = entries returned
//   unlink   unlink() of each own file
//   rmdirs   the D directories and NAME, through the first ROOT (fails if
//            anything is left in them)
// Prints one line: "PHASE OPS SECONDS".
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <random>
#include <algorithm>
#include <vector>

namespace {

struct Params {
  std::string phase;
  long files = 10000;
  long from = 0;
  long dirs = 1;
  std::string tree = "bench";
  std::vector<std::string> roots;
};

[[noreturn]] void die(const std::string& what, int err) {
  std::fprintf(stderr, "meta_ops: %s: %s\n", what.c_str(), std::strerror(err));
  std::fflush(stderr);
  std::_Exit(1);  // other threads may be inside a syscall: do not wait for them
}

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr, "meta_ops: %s\nusage: meta_ops mkdirs|create|stat|stat-random|readdir|unlink|rmdirs "
                       "[--files N] [--from F] [--dirs D] [--tree NAME] ROOT [ROOT ...]\n", msg);
  std::exit(2);
}

long number(const char* flag, const char* v) {
  char* end = nullptr;
  errno = 0;
  long n = std::strtol(v, &end, 10);
  if (errno || !end || *end || n < 0) {
    std::fprintf(stderr, "meta_ops: %s needs a non-negative integer, got '%s'\n", flag, v);
    std::exit(2);
  }
  return n;
}

Params parse(int argc, char** argv) {
  if (argc < 2) usage("missing PHASE");
  Params p;
  p.phase = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--files" && has_value) p.files = number("--files", argv[++i]);
    else if (a == "--from" && has_value) p.from = number("--from", argv[++i]);
    else if (a == "--dirs" && has_value) p.dirs = number("--dirs", argv[++i]);
    else if (a == "--tree" && has_value) p.tree = argv[++i];
    else if (a.rfind("--", 0) == 0) usage(("unknown or incomplete option " + a).c_str());
    else p.roots.push_back(a);
  }
  if (p.roots.empty()) usage("no ROOT given");
  if (p.dirs < 1) usage("--dirs must be at least 1");
  return p;
}

std::string dir_path(const Params& p, size_t client, long d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "/d%03ld", d);
  return p.roots[client] + "/" + p.tree + buf;
}

std::string file_path(const Params& p, size_t client, long i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "/f%07ld", i);
  return dir_path(p, client, i % p.dirs) + buf;
}

// The files of one client, in creation order.
template <class F>
void for_own_files(const Params& p, size_t client, F&& f) {
  const long c = static_cast<long>(p.roots.size());
  for (long i = p.from + static_cast<long>(client); i < p.from + p.files; i += c) f(i);
}

long expected_entries(const Params& p, long d) {
  long n = 0;
  for (long i = p.from; i < p.from + p.files; ++i) n += (i % p.dirs == d);
  return n;
}

// One client's share of a phase; returns the number of operations done.
long run_client(const Params& p, size_t client) {
  long ops = 0;
  if (p.phase == "create") {
    for_own_files(p, client, [&](long i) {
      std::string f = file_path(p, client, i);
      int fd = ::open(f.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
      if (fd < 0) die("create " + f, errno);
      if (::close(fd) != 0) die("close " + f, errno);
      ++ops;
    });
  } else if (p.phase == "stat") {
    for_own_files(p, client, [&](long i) {
      std::string f = file_path(p, client, i);
      struct stat st;
      if (::stat(f.c_str(), &st) != 0) die("stat " + f, errno);
      if (!S_ISREG(st.st_mode) || st.st_size != 0) die("stat " + f + ": not an empty regular file", EPROTO);
      ++ops;
    });
  } else if (p.phase == "stat-random") {
    // The same files in a shuffled order (fixed seed): no run of lookups in
    // name order, so no lookup windows (vfs/lookup_windows.hpp).
    std::vector<long> order;
    for_own_files(p, client, [&](long i) { order.push_back(i); });
    std::shuffle(order.begin(), order.end(), std::mt19937(12345u + static_cast<unsigned>(client)));
    for (long i : order) {
      std::string f = file_path(p, client, i);
      struct stat st;
      if (::stat(f.c_str(), &st) != 0) die("stat " + f, errno);
      if (!S_ISREG(st.st_mode) || st.st_size != 0) die("stat " + f + ": not an empty regular file", EPROTO);
      ++ops;
    }
  } else if (p.phase == "unlink") {
    for_own_files(p, client, [&](long i) {
      std::string f = file_path(p, client, i);
      if (::unlink(f.c_str()) != 0) die("unlink " + f, errno);
      ++ops;
    });
  } else if (p.phase == "readdir") {
    const long c = static_cast<long>(p.roots.size());
    const bool everyone = p.dirs < c;
    for (long d = everyone ? 0 : static_cast<long>(client); d < p.dirs; d += everyone ? 1 : c) {
      std::string dp = dir_path(p, client, d);
      DIR* dir = ::opendir(dp.c_str());
      if (!dir) die("opendir " + dp, errno);
      long n = 0;
      errno = 0;
      while (dirent* e = ::readdir(dir)) {
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) ++n;
        errno = 0;
      }
      if (errno) die("readdir " + dp, errno);
      ::closedir(dir);
      long want = expected_entries(p, d);
      if (n != want) {
        std::fprintf(stderr, "meta_ops: readdir %s: %ld entries, expected %ld\n", dp.c_str(), n, want);
        std::_Exit(1);
      }
      ops += n;
    }
  } else {
    usage(("unknown phase " + p.phase).c_str());
  }
  return ops;
}

}  // namespace

int main(int argc, char** argv) {
  Params p = parse(argc, argv);
  if (p.phase == "mkdirs" || p.phase == "rmdirs") {
    std::string top = p.roots[0] + "/" + p.tree;
    if (p.phase == "mkdirs" && ::mkdir(top.c_str(), 0755) != 0) die("mkdir " + top, errno);
    for (long d = 0; d < p.dirs; ++d) {
      std::string dp = dir_path(p, 0, d);
      if (p.phase == "mkdirs" ? ::mkdir(dp.c_str(), 0755) : ::rmdir(dp.c_str())) die(p.phase + " " + dp, errno);
    }
    if (p.phase == "rmdirs" && ::rmdir(top.c_str()) != 0) die("rmdir " + top, errno);
    std::printf("%s %ld 0\n", p.phase.c_str(), p.dirs + 1);
    return 0;
  }

  std::atomic<bool> go{false};
  std::atomic<long> total{0};
  std::vector<std::thread> threads;
  for (size_t c = 0; c < p.roots.size(); ++c)
    threads.emplace_back([&, c] {
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      total += run_client(p, c);
    });
  auto t0 = std::chrono::steady_clock::now();
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  std::chrono::duration<double> secs = std::chrono::steady_clock::now() - t0;
  std::printf("%s %ld %.6f\n", p.phase.c_str(), total.load(), secs.count());
  return 0;
}
