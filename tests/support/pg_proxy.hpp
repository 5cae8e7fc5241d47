// A TCP relay in front of a PostgreSQL server that can lose a COMMIT on its
// way, for tests of what a client does when it cannot know whether its
// transaction committed. It relays the protocol byte for byte and watches the
// client's messages for the COMMIT that ends a transaction: PgConn's prepared
// statement "s3l_commit" (its Parse or a Bind naming it; PgConn sends the
// queued statements, COMMIT and the unlock in one round trip). While a fault
// is armed, the next COMMIT either
//   - never reaches the server (cut_before_commit): the connection is closed
//     instead, so the server rolls the transaction back; or
//   - reaches the server, which commits, but its answer is dropped and the
//     connection closed (cut_after_commit): the client sees a lost connection
//     although the transaction is durable.
// Either way the client gets a broken connection during COMMIT. pass_commits
// lets that many COMMITs through first (e.g. to hit the second transaction of
// an operation). cut_before_request / cut_after_request do the same to the
// next thing the client sends, whatever it is.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace s3l::test {

class PgProxy {
 public:
  std::atomic<int> cut_before_commit{0};   // the next N COMMITs are not delivered
  std::atomic<int> cut_after_commit{0};    // the next N COMMITs are delivered, their answers lost
  std::atomic<int> pass_commits{0};        // COMMITs left alone before an armed cut applies
  // The same for whatever the client sends next, COMMIT or not (a statement
  // that commits on its own, outside BEGIN: the one-statement mknod).
  std::atomic<int> cut_before_request{0};
  std::atomic<int> cut_after_request{0};
  std::atomic<int> commits_seen{0}, cut_before{0}, cut_after{0}, connections{0};

  // Listens on a free port of 127.0.0.1. Throws std::runtime_error on failure.
  explicit PgProxy(uint16_t upstream_port);
  ~PgProxy();
  PgProxy(const PgProxy&) = delete;
  PgProxy& operator=(const PgProxy&) = delete;

  uint16_t port() const { return port_; }
  // Closes every relayed connection at once (as a server restart would).
  void drop_all();

 private:
  void accept_loop();
  void serve(int client);
  static bool take(std::atomic<int>& n);

  uint16_t upstream_;
  uint16_t port_ = 0;
  int lfd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> drop_gen_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::condition_variable idle_;
  int active_ = 0;
};

}  // namespace s3l::test
