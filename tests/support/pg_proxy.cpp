#include "tests/support/pg_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace s3l::test {
namespace {

// PgConn sends the COMMIT that ends a caller's transaction as its prepared
// statement "s3l_commit": a Parse naming it (once per connection) and then a
// Bind naming it, both followed by the NUL that ends the name. The short
// transaction that takes the advisory locks in front of BEGIN commits with a
// statement of another name, and does not end the caller's transaction.
// Cutting at the Parse is cutting before that COMMIT (its Bind comes after).
const std::string kCommitEnds[] = {std::string("s3l_commit", sizeof("s3l_commit"))};   // with the NUL
const size_t kLongestEnd = kCommitEnds[0].size();

// The first COMMIT message end in `data`, npos if none.
size_t find_commit(const std::string& data) {
  size_t best = std::string::npos;
  for (const std::string& e : kCommitEnds) best = std::min(best, data.find(e));
  return best;
}

bool send_all(int fd, const char* p, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = ::send(fd, p + off, len - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

int connect_upstream(uint16_t port) {
  int u = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (u < 0) return -1;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(u);
    return -1;
  }
  int one = 1;
  ::setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return u;
}

}  // namespace

PgProxy::PgProxy(uint16_t upstream) : upstream_(upstream) {
  lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd_ < 0) throw std::runtime_error("PgProxy: socket() failed");
  int one = 1;
  ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd_, 64) != 0 ||
      ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(lfd_);
    throw std::runtime_error("PgProxy: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

PgProxy::~PgProxy() {
  stop_ = true;
  ::shutdown(lfd_, SHUT_RDWR);
  ::close(lfd_);
  acceptor_.join();
  std::unique_lock<std::mutex> lk(mu_);
  idle_.wait(lk, [this] { return active_ == 0; });   // each notices stop_ within 100 ms
}

void PgProxy::drop_all() { ++drop_gen_; }

bool PgProxy::take(std::atomic<int>& n) {
  int left = n.load();
  while (left > 0 && !n.compare_exchange_weak(left, left - 1)) {
  }
  return left > 0;
}

void PgProxy::accept_loop() {
  while (!stop_) {
    int c = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (stop_) return;
      continue;
    }
    ++connections;
    int one = 1;
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++active_;
    }
    std::thread([this, c] {
      serve(c);
      std::lock_guard<std::mutex> lk(mu_);
      if (--active_ == 0) idle_.notify_all();
    }).detach();
  }
}

void PgProxy::serve(int c) {
  const uint64_t gen = drop_gen_.load();
  int u = connect_upstream(upstream_);
  if (u < 0) {
    ::close(c);   // server down: the client sees a dropped connection
    return;
  }
  char buf[65536];
  // The last bytes sent to the server, so a COMMIT split over two reads is found.
  std::string tail;
  bool drop_next_reply = false;
  pollfd p[2] = {{c, POLLIN, 0}, {u, POLLIN, 0}};
  while (!stop_ && drop_gen_.load() == gen) {
    if (::poll(p, 2, 100) < 0) break;
    bool done = false;
    if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {   // client -> server
      ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) break;
      std::string data = tail + std::string(buf, static_cast<size_t>(n));
      const size_t at = find_commit(data);
      size_t forward = static_cast<size_t>(n);
      if (take(cut_before_request)) {
        forward = 0;
        ++cut_before;
        done = true;
      } else if (take(cut_after_request)) {
        drop_next_reply = true;
      } else if (at != std::string::npos) {
        ++commits_seen;
        const bool armed = cut_before_commit.load() > 0 || cut_after_commit.load() > 0;
        if (armed && take(pass_commits)) {
          // let this one through
        } else if (take(cut_before_commit)) {
          // Deliver what preceded the COMMIT (part of its message at most:
          // the server never runs an incomplete one), then hang up: never
          // committed.
          forward = at > tail.size() ? at - tail.size() : 0;
          ++cut_before;
          done = true;
        } else if (take(cut_after_commit)) {
          drop_next_reply = true;
        }
      }
      if (forward > 0 && !send_all(u, buf, forward)) break;
      if (done) break;
      tail = data.size() > kLongestEnd ? data.substr(data.size() - kLongestEnd) : data;
      if (at != std::string::npos) tail.clear();
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {   // server -> client
      ssize_t n = ::recv(u, buf, sizeof buf, 0);
      if (n <= 0) break;
      if (drop_next_reply) {
        // The server answered the COMMIT: it is committed. Lose the answer.
        ++cut_after;
        break;
      }
      if (!send_all(c, buf, static_cast<size_t>(n))) break;
    }
  }
  ::close(u);
  ::close(c);
}

}  // namespace s3l::test
