// gc-node (issue 5): a mount started with --no-bgjob does no background work
// itself; a gc-node process on the same volume, reached over CAF's network
// layer, deletes its garbage and compacts its fragmented chunks. Killing the
// gc-node (kill -9) loses nothing: the mount keeps working, garbage waits,
// and a restarted gc-node is re-attached by the mount, collects it and
// recovers the dead gc-node's session. Also: `shell` against both.
#define BOOST_TEST_MODULE gc_node
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <string>

#include "meta/meta.hpp"
#include "tests/support/fs_util.hpp"
#include "tests/support/mount_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/volume_check.hpp"

using namespace s3l::test;
using namespace std::chrono_literals;

namespace {

// A loopback port nobody listens on now (the kernel's pick, then released).
uint16_t free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  BOOST_REQUIRE(s >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  BOOST_REQUIRE(::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  ::close(s);
  return ntohs(a.sin_port);
}

// The gc-node process, configured by a file as in production.
class GcNode {
 public:
  GcNode(const MountFixture& fx, uint16_t port, const std::string& tag) : fx_(fx) {
    conf_ = fx.root() + "/gc-node.ini";
    std::ofstream(conf_) << "[gc-node]\nmeta-url = " << fx.meta_url() << "\nlisten = 127.0.0.1:" << port
                         << "\nheartbeat = 1\ncompact-interval = 1\ncompact-threshold = 8\n";
    out_ = fx.root() + "/gc-node-" + tag + ".out";
    err_ = fx.root() + "/gc-node-" + tag + ".err";
    child_ = std::make_unique<Child>(
        std::vector<std::string>{MountFixture::daemon_path(), "gc-node", "--config", conf_, "--log-level", "info"},
        out_, err_);
    bool up = wait_until([&] { return slurp(out_).find("listening on 127.0.0.1:") != std::string::npos ||
                                      !child_->running(); }, 20s);
    BOOST_REQUIRE_MESSAGE(up && child_->running(), "gc-node did not start:\n" << log());
  }
  std::string log() const { return slurp(out_) + slurp(err_); }
  pid_t pid() const { return child_->pid(); }
  void signal(int sig) { child_->signal_group(sig); }
  void kill9() {
    child_->signal_group(SIGKILL);
    BOOST_REQUIRE(child_->wait_for(10000ms).has_value());
  }
  ExitStatus stop() {
    auto st = child_->stop(30000ms);
    BOOST_REQUIRE(st.has_value());
    return *st;
  }

 private:
  const MountFixture& fx_;
  std::string conf_, out_, err_;
  std::unique_ptr<Child> child_;
};

RunResult shell(const MountFixture& fx, uint16_t port, const std::string& cmd) {
  return fx.run_cli({"shell", "127.0.0.1:" + std::to_string(port), "--run", cmd}, 30000ms);
}

// `key = value` lines of a shell answer.
std::map<std::string, std::string> answer(const RunResult& r) {
  std::map<std::string, std::string> kv;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    auto eq = line.find(" = ");
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return kv;
}

bool attached(const MountFixture& fx, uint16_t port) {
  RunResult r = shell(fx, port, "status");
  return r.code() == 0 && answer(r)["mounts-attached"] == "1";
}

uint64_t objects_under_chunks(const MountFixture& fx) {
  uint64_t n = 0;
  for (const auto& k : fx.object_keys())
    if (k.find("/chunks/") != std::string::npos) ++n;
  return n;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

uint64_t ino_of(const std::string& path) { return stat_path(path).st_ino; }

}  // namespace

BOOST_AUTO_TEST_CASE(gc_node_does_the_background_work_of_a_no_bgjob_mount_and_survives_kill_9) {
  const uint16_t port = free_port();
  FixtureOptions o;
  o.mount_args = {"--allow-other", "--no-bgjob", "--gc-node", "127.0.0.1:" + std::to_string(port),
                  "--heartbeat", "1", "--compact-threshold", "8"};
  MountFixture fx(o);
  auto m = open_volume_meta(fx);

  // 1. No gc-node yet: the mount itself collects nothing. A deleted file's
  //    block stays in the store (and in the dead-block queue).
  write_file(fx.path("doomed"), pattern(1, 0, 3 << 20));
  const uint64_t with_doomed = objects_under_chunks(fx);
  BOOST_REQUIRE(with_doomed >= 1);
  BOOST_REQUIRE(::unlink(fx.path("doomed").c_str()) == 0);
  BOOST_REQUIRE(wait_until([&] { auto d = m->dead_blocks(10); return d.ok() && !d->empty(); }, 20s));
  std::this_thread::sleep_for(5s);   // > the 2 s deletion delay + a deleter interval of a mount with bgjobs
  BOOST_TEST(objects_under_chunks(fx) == with_doomed);
  BOOST_TEST(fx.daemon_log().find("cannot reach the gc-node") != std::string::npos, fx.daemon_log());

  // 2. The gc-node starts; the mount attaches to it and its garbage goes.
  auto gc = std::make_unique<GcNode>(fx, port, "1");
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return attached(fx, port); }, 30s), "mount never attached\n"
                                                                                  << gc->log() << fx.daemon_log());
  BOOST_REQUIRE_MESSAGE(wait_until([&] { auto d = m->dead_blocks(10); return d.ok() && d->empty(); }, 30s),
                        "the gc-node did not delete the dead block\n" << gc->log());
  BOOST_TEST(objects_under_chunks(fx) == with_doomed - 1);

  // 3. Compaction through the gc-node: 40 fsynced small overwrites.
  std::string model;
  {
    int fd = ::open(fx.path("frag").c_str(), O_CREAT | O_WRONLY, 0644);
    BOOST_REQUIRE(fd >= 0);
    for (int i = 0; i < 40; ++i) {
      std::string piece = pattern(100 + i, 0, 1000);
      uint64_t off = static_cast<uint64_t>(i) * 700;
      if (model.size() < off + piece.size()) model.resize(off + piece.size(), '\0');
      model.replace(off, piece.size(), piece);
      pwrite_all(fd, piece.data(), piece.size(), off, "frag");
      BOOST_REQUIRE(::fsync(fd) == 0);
    }
    ::close(fd);
  }
  const uint64_t frag = ino_of(fx.path("frag"));
  bool compacted = wait_until([&] {
    auto s = m->chunk_slices(frag, 0);
    return s.ok() && s->size() == 1;
  }, 40s);
  BOOST_REQUIRE_MESSAGE(compacted, "40 slices were not compacted\n" << gc->log());
  BOOST_TEST(read_file(fx.path("frag")) == model);
  RunResult st = shell(fx, port, "status");
  BOOST_REQUIRE_MESSAGE(st.code() == 0, st.describe());
  BOOST_TEST(answer(st)["role"] == "gc-node");
  BOOST_TEST(std::stoull(answer(st)["stats.chunks-compacted"]) >= 1);
  BOOST_TEST(std::stoull(answer(st)["stats.compact-hints"]) >= 1);   // the mount named the chunk
  BOOST_REQUIRE(wait_until([&] { return store_vs_metadata(fx).empty(); }, 30s));

  // 4. kill -9 the gc-node. The mount keeps serving; garbage now waits.
  uint64_t dead_gc_session = std::stoull(answer(st)["session"]);
  gc->kill9();
  write_file(fx.path("after-kill"), pattern(2, 0, 5 << 20));
  write_file(fx.path("doomed2"), pattern(3, 0, 1 << 20));
  BOOST_REQUIRE(::unlink(fx.path("doomed2").c_str()) == 0);
  BOOST_REQUIRE(wait_until([&] { auto d = m->dead_blocks(10); return d.ok() && !d->empty(); }, 20s));
  // `status` shows the killed gc-node's session as stale once its heartbeat
  // is older than its expiry (5 x 1 s), and the garbage waiting.
  RunResult status;
  bool shown_stale = wait_until([&] {
    status = fx.run_cli({"status", fx.meta_url()});
    return status.code() == 0 && status.out.find("gc-node 127.0.0.1:" + std::to_string(port)) != std::string::npos &&
           status.out.find("STALE") != std::string::npos;
  }, 20s);
  BOOST_TEST(shown_stale, status.describe());
  BOOST_TEST(status.out.find("volume:      s3ltest") != std::string::npos, status.describe());
  BOOST_TEST(status.out.find("waiting:     0 dead blocks") == std::string::npos, status.describe());
  auto still = m->dead_blocks(10);
  BOOST_REQUIRE(still.ok());
  BOOST_TEST(!still->empty());   // nobody collected it: the mount has no bgjob

  // 5. A new gc-node on the same address: the mount re-attaches by itself,
  //    the garbage goes, and the killed gc-node's session is recovered.
  gc = std::make_unique<GcNode>(fx, port, "2");
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return attached(fx, port); }, 30s), "mount did not re-attach\n"
                                                                                  << gc->log() << fx.daemon_log());
  BOOST_REQUIRE_MESSAGE(wait_until([&] { auto d = m->dead_blocks(10); return d.ok() && d->empty(); }, 30s),
                        "the restarted gc-node did not delete the dead block\n" << gc->log());
  bool recovered = wait_until([&] {
    auto s = m->list_sessions();
    if (!s.ok()) return false;
    for (auto& x : *s)
      if (x.id == dead_gc_session) return false;
    return true;
  }, 30s);
  BOOST_TEST(recovered, "the killed gc-node's session was not cleaned\n" << gc->log());

  // 6. Nothing lost, nothing leaked.
  BOOST_TEST(read_file(fx.path("frag")) == model);
  BOOST_TEST(check_pattern_file(fx.path("after-kill"), 2, 5 << 20) == "");
  BOOST_TEST(store_vs_metadata(fx) == "");

  // 7. A hung gc-node (SIGSTOP: the TCP connection stays open) is noticed by
  //    the middleman heartbeat; the mount re-attaches once it runs again.
  gc->signal(SIGSTOP);
  // The kill -9 of step 4 was the first loss.
  bool noticed = wait_until([&] { return count(fx.daemon_log(), "lost the gc-node") == 2; }, 30s);
  gc->signal(SIGCONT);
  BOOST_TEST(noticed, "the mount did not notice the stopped gc-node\n" << fx.daemon_log());
  BOOST_REQUIRE_MESSAGE(wait_until([&] { return attached(fx, port); }, 30s), "mount did not re-attach after SIGCONT\n"
                                                                                  << gc->log() << fx.daemon_log());

  // 8. shell: errors are clear and exit non-zero.
  RunResult bad = shell(fx, port, "hello 00000000-0000-0000-0000-000000000000 7 h /m");
  BOOST_TEST(bad.code() == 1, bad.describe());
  BOOST_TEST(bad.err.find("serves volume") != std::string::npos, bad.describe());
  RunResult unknown = shell(fx, port, "frobnicate");
  BOOST_TEST(unknown.code() == 1, unknown.describe());
  BOOST_TEST(unknown.err.find("unknown command 'frobnicate'") != std::string::npos, unknown.describe());

  // 9. SIGTERM: a clean stop that removes its own session row.
  uint64_t live_gc_session = std::stoull(answer(shell(fx, port, "status"))["session"]);
  ExitStatus es = gc->stop();
  BOOST_TEST(es.exited);
  BOOST_TEST(es.code == 0, es.describe() << "\n" << gc->log());
  auto sessions = m->list_sessions();
  BOOST_REQUIRE(sessions.ok());
  for (auto& x : *sessions) BOOST_TEST(x.id != live_gc_session);
  RunResult gone = shell(fx, port, "status");
  BOOST_TEST(gone.code() == 3, gone.describe());
  BOOST_TEST(gone.err.find("cannot reach 127.0.0.1:") != std::string::npos, gone.describe());

  fx.unmount();
  RunResult f = fx.fsck({"--check-data"});
  BOOST_TEST(f.code() == 0, f.describe());
}

BOOST_AUTO_TEST_CASE(a_mount_with_listen_answers_shell) {
  const uint16_t port = free_port();
  FixtureOptions o;
  o.mount_args = {"--allow-other", "--listen", "127.0.0.1:" + std::to_string(port)};
  MountFixture fx(o);
  RunResult r;
  BOOST_REQUIRE(wait_until([&] { r = shell(fx, port, "status"); return r.code() == 0; }, 20s));
  auto kv = answer(r);
  BOOST_TEST(kv["role"] == "mount");
  BOOST_TEST(kv["mountpoint"] == fx.mountpoint());
  BOOST_TEST(kv["background-jobs"] == "true");
  // Its own deleter answers drain.
  write_file(fx.path("x"), pattern(4, 0, 1 << 20));
  BOOST_REQUIRE(::unlink(fx.path("x").c_str()) == 0);
  auto m = open_volume_meta(fx);
  BOOST_REQUIRE(wait_until([&] {
    RunResult d = shell(fx, port, "drain");
    auto dead = m->dead_blocks(10);
    return d.code() == 0 && dead.ok() && dead->empty();
  }, 20s));
  BOOST_TEST(store_vs_metadata(fx) == "");
}
