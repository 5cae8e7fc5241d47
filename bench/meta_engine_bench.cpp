// Metadata engine micro-benchmark: the Meta interface directly (no FUSE, no
// actors), so it measures what one metadata operation costs on each engine.
// Built and run by bench/meta_engine.sh; prints numbers, never fails on them.
//
//   meta_engine_bench URL [--files N] [--dirs D] [--clients C] [--phases create,stat,...]
//
// Phases, each timed: create N files (spread over D directories), stat
// (getattr) each, lookup each, readdir of every directory, unlink each. With
// --clients C > 1, C connections (threads, like C mounts) split the files and
// run each phase at the same time; "retries" counts transactions rerun after a
// serialization failure, a deadlock or a busy SQLite lock.
#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "meta/meta.hpp"

using namespace s3l;
using namespace s3l::meta;

namespace {

std::atomic<long> g_retries{0};

// Counts SqlMeta's debug line for every rerun transaction.
class RetryCounter final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& m) override {
    std::string_view s(m.payload.data(), m.payload.size());
    if (s.find("; retrying in ") != std::string_view::npos) ++g_retries;
    else if (m.level >= spdlog::level::warn) std::fprintf(stderr, "%.*s\n", static_cast<int>(s.size()), s.data());
  }
  void flush_() override {}
};

[[noreturn]] void die(const std::string& msg) {
  std::fprintf(stderr, "meta_engine_bench: %s\n", msg.c_str());
  std::exit(1);
}

std::unique_ptr<Meta> open_or_die(const std::string& url, bool create) {
  auto r = open_meta(url, create);
  if (!r.ok()) die(r.msg());
  return std::move(*r);
}

struct Plan {
  int files = 10000, dirs = 1, clients = 1;
  std::string phases = "create,stat,lookup,readdir,unlink";   // create always runs
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: meta_engine_bench URL [--files N] [--dirs D] [--clients C] [--phases LIST]");
  std::string url = argv[1];
  Plan p;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (k == "--phases") p.phases = argv[i + 1];
    else if (k == "--files") p.files = v;
    else if (k == "--dirs") p.dirs = v;
    else if (k == "--clients") p.clients = v;
    else die("unknown option " + k);
  }
  if (p.files <= 0 || p.dirs <= 0 || p.clients <= 0) die("--files, --dirs and --clients must be positive");

  auto logger = std::make_shared<spdlog::logger>("bench", std::make_shared<RetryCounter>());
  logger->set_level(spdlog::level::debug);
  spdlog::set_default_logger(logger);

  auto m = open_or_die(url, true);
  VolumeSettings s;
  s.name = "bench";
  s.uuid = "00000000-0000-4000-8000-000000000000";
  s.storage_url = "file:///nonexistent";
  if (Status st = m->format(s, 0, 0, true); !st.ok()) die(st.msg);
  std::vector<uint64_t> dirs;
  for (int d = 0; d < p.dirs; ++d) {
    auto r = m->mknod(kRootIno, "d" + std::to_string(d), S_IFDIR | 0755, 0, 0, 0, "", 1);
    if (!r.ok()) die(r.msg());
    dirs.push_back(r->ino);
  }
  std::vector<std::unique_ptr<Meta>> clients;
  std::vector<uint64_t> sessions;
  for (int c = 0; c < p.clients; ++c) {
    clients.push_back(open_or_die(url, false));
    auto sid = clients.back()->register_session(SessionInfo{0, "bench", c, "/bench", "bench", 1, 1});
    if (!sid.ok()) die(sid.msg());
    sessions.push_back(*sid);
  }
  // File i lives in dirs[i % D] and belongs to client i % C.
  std::vector<uint64_t> inos(p.files);
  auto name = [](int i) { return "file-" + std::to_string(i); };
  std::atomic<long> errors{0};

  std::printf("%-10s %8s %6s %7s %12s %10s %8s\n", "phase", "ops", "dirs", "clients", "ops/s", "us/op", "retries");
  auto phase = [&](const char* what, long ops, const std::function<void(int, Meta&)>& per_client) {
    if (std::string(what) != "create" && ("," + p.phases + ",").find(std::string(",") + what + ",") == std::string::npos)
      return;
    g_retries = 0;
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> ts;
    for (int c = 0; c < p.clients; ++c) ts.emplace_back([&, c] { per_client(c, *clients[c]); });
    for (auto& t : ts) t.join();
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("%-10s %8ld %6d %7d %12.0f %10.1f %8ld\n", what, ops, p.dirs, p.clients, ops / secs,
                secs * 1e6 / ops * p.clients, g_retries.load());
    std::fflush(stdout);
  };
  auto check = [&](const Status& st, const char* what) {
    if (!st.ok() && errors++ < 5) std::fprintf(stderr, "%s: %s\n", what, st.msg.c_str());
  };

  phase("create", p.files, [&](int c, Meta& mm) {
    for (int i = c; i < p.files; i += p.clients) {
      auto r = mm.mknod(dirs[i % p.dirs], name(i), S_IFREG | 0644, 0, 0, 0, "", 1);
      check(r.status, "mknod");
      if (r.ok()) inos[i] = r->ino;
    }
  });
  phase("stat", p.files, [&](int c, Meta& mm) {
    for (int i = c; i < p.files; i += p.clients) check(mm.getattr(inos[i]).status, "getattr");
  });
  phase("lookup", p.files, [&](int c, Meta& mm) {
    for (int i = c; i < p.files; i += p.clients) check(mm.lookup(dirs[i % p.dirs], name(i)).status, "lookup");
  });
  phase("readdir", p.files, [&](int c, Meta& mm) {   // ops = entries listed
    for (int d = c; d < p.dirs; d += p.clients) {
      auto r = mm.readdir(dirs[d]);
      check(r.status, "readdir");
    }
  });
  phase("unlink", p.files, [&](int c, Meta& mm) {
    for (int i = c; i < p.files; i += p.clients) {
      auto r = mm.unlink(dirs[i % p.dirs], name(i), sessions[c], 1);
      check(r.status, "unlink");
      if (r.ok() && r->nlink == 0) check(mm.purge(r->ino), "purge");
    }
  });
  for (int c = 0; c < p.clients; ++c) check(clients[c]->close_session(sessions[c]), "close_session");
  if (errors) die(std::to_string(errors.load()) + " operations failed");
  return 0;
}
