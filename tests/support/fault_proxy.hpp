// A tiny HTTP fault proxy in front of an S3 server, for retry tests.
// While a fault is armed it answers requests itself with an S3-style error
// (503 SlowDown by default) or says nothing at all (a stall); otherwise it
// relays them to the upstream server. Signatures stay valid: the client signs
// the Host header it sends, the proxy's. To see every request it asks the
// upstream to close after each response ("Connection: close" is not signed),
// so each request comes on a new connection; with keep_alive the connection
// is relayed byte for byte instead (for connection-reuse tests).
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace s3l::test {

class FaultProxy {
 public:
  bool keep_alive = false;
  std::atomic<int> hang_next{0};   // read the request, then say nothing for 4 s
  std::atomic<int> fail_next{0};   // answer the next N requests with the fault
  int fail_status = 503;
  std::string fail_code = "SlowDown";
  std::atomic<int> failed{0}, hung{0}, connections{0}, relayed{0};

  // Listens on a free port of 127.0.0.1. Throws std::runtime_error on failure.
  explicit FaultProxy(uint16_t upstream_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  uint16_t port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string url(const std::string& bucket = "s3l-test") const { return endpoint() + "/" + bucket; }

  // Every request during the next `d` gets the fault (in addition to fail_next).
  void fail_for(std::chrono::milliseconds d);

 private:
  void accept_loop();
  void serve(int fd);
  bool take_fault();

  uint16_t upstream_;
  uint16_t port_ = 0;
  int lfd_ = -1;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> fail_until_ns_{0};   // steady_clock
  std::thread acceptor_;
  std::mutex mu_;
  std::condition_variable idle_;
  int active_ = 0;   // detached connection threads still running
};

}  // namespace s3l::test
