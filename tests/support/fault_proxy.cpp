#include "tests/support/fault_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <stdexcept>

namespace s3l::test {
namespace {

using namespace std::chrono_literals;

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool read_request(int fd, std::string& buf) {
  char tmp[65536];
  size_t head_end;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
  }
  size_t want = 0;
  std::string head = buf.substr(0, head_end);
  for (char& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  size_t cl = head.find("content-length:");
  if (cl != std::string::npos) want = std::strtoull(head.c_str() + cl + 15, nullptr, 10);
  while (buf.size() < head_end + 4 + want) {
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<size_t>(n));
  }
  return true;
}

void send_all(int fd, const char* p, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t n = ::send(fd, p + off, len - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}
void send_all(int fd, const std::string& s) { send_all(fd, s.data(), s.size()); }

}  // namespace

FaultProxy::FaultProxy(uint16_t upstream) : upstream_(upstream) {
  lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (lfd_ < 0) throw std::runtime_error("FaultProxy: socket() failed");
  int one = 1;
  ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd_, 128) != 0 ||
      ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(lfd_);
    throw std::runtime_error("FaultProxy: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
  stop_ = true;
  ::shutdown(lfd_, SHUT_RDWR);
  ::close(lfd_);
  acceptor_.join();
  std::unique_lock<std::mutex> lk(mu_);
  idle_.wait(lk, [this] { return active_ == 0; });   // each notices stop_ within 200 ms
}

void FaultProxy::fail_for(std::chrono::milliseconds d) {
  fail_until_ns_ = steady_ns() + std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

void FaultProxy::accept_loop() {
  while (!stop_) {
    int c = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (stop_) return;
      continue;
    }
    ++connections;
    {
      std::lock_guard<std::mutex> lk(mu_);
      ++active_;
    }
    // Detached: a long mount test opens thousands of connections.
    std::thread([this, c] {
      serve(c);
      std::lock_guard<std::mutex> lk(mu_);
      if (--active_ == 0) idle_.notify_all();
    }).detach();
  }
}

bool FaultProxy::take_fault() {
  if (steady_ns() < fail_until_ns_.load()) return true;
  int left = fail_next.load();
  while (left > 0 && !fail_next.compare_exchange_weak(left, left - 1)) {
  }
  return left > 0;
}

void FaultProxy::serve(int c) {
  std::string req;
  if (!read_request(c, req)) {
    ::close(c);
    return;
  }
  int hang = hang_next.load();
  while (hang > 0 && !hang_next.compare_exchange_weak(hang, hang - 1)) {
  }
  if (hang > 0) {
    ++hung;
    for (int i = 0; i < 40 && !stop_; ++i) std::this_thread::sleep_for(100ms);
    ::close(c);
    return;
  }
  if (take_fault()) {
    int n = ++failed;
    std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + fail_code +
                       "</Code><Message>injected fault</Message><RequestId>FAULT" + std::to_string(n) +
                       "</RequestId></Error>";
    send_all(c, "HTTP/1.1 " + std::to_string(fail_status) + " Fault\r\nContent-Type: application/xml\r\n"
                "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
    ::close(c);
    return;
  }
  int u = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(upstream_);
  if (u < 0 || ::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (u >= 0) ::close(u);
    ::close(c);   // upstream down: the client sees a dropped connection
    return;
  }
  ++relayed;
  if (!keep_alive) req.insert(req.find("\r\n") + 2, "Connection: close\r\n");
  send_all(u, req);
  char buf[65536];
  pollfd p[2] = {{c, POLLIN, 0}, {u, POLLIN, 0}};
  while (!stop_) {
    if (::poll(p, 2, 200) < 0) break;
    bool done = false;
    for (int i = 0; i < 2 && !done; ++i) {
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::recv(p[i].fd, buf, sizeof buf, 0);
      if (n <= 0) done = true;
      else send_all(p[1 - i].fd, buf, static_cast<size_t>(n));
    }
    if (done) break;
  }
  ::close(u);
  ::close(c);
}

}  // namespace s3l::test
