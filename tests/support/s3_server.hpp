// A real S3-compatible server for tests: the pinned npm package
// @20minutes/s3rver 5.0.0 (scripts/s3rver), which checks SigV4 signatures.
// Started on 127.0.0.1 with a free port and its own temp data directory;
// stopped by PID in the destructor, and by the process registry's cleanup
// (tests/support/process.hpp) even when a test fails or crashes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "store/object_store.hpp"

namespace s3l::test {

class Child;

class S3Server {
 public:
  // Installs the npm package on first use (npm ci in scripts/s3rver) and starts
  // the server with `bucket` created. Throws std::runtime_error with the log
  // tail if it does not come up.
  // With tls, it serves HTTPS with a fresh self-signed certificate for
  // 127.0.0.1 (ca_file() is its PEM).
  explicit S3Server(const std::string& bucket = "s3l-test", bool tls = false);
  ~S3Server();
  S3Server(const S3Server&) = delete;
  S3Server& operator=(const S3Server&) = delete;

  uint16_t port() const { return port_; }
  std::string endpoint() const;               // http(s)://127.0.0.1:PORT
  std::string url() const;                    // http://127.0.0.1:PORT/BUCKET
  std::string url(const std::string& bucket) const;
  const std::string& bucket() const { return bucket_; }
  const std::string& data_dir() const { return data_dir_; }
  const std::string& ca_file() const { return cert_; }
  // Options with the server's credentials (S3RVER / S3RVER) and short retries.
  store::StoreOptions options() const;

  // Fault injection: stop (the data stays) and start again on the same port.
  void stop();
  void start();
  bool running() const;
  // "running", or how the server process ended (e.g. "killed by signal 15"):
  // for failure messages.
  std::string state();

  static const char* kAccessKey;
  static const char* kSecretKey;

 private:
  void launch();
  std::string bucket_;
  std::string dir_;        // temp dir holding data/ and the log
  std::string data_dir_;
  std::string log_;
  bool tls_ = false;
  std::string cert_, key_;
  uint16_t port_ = 0;
  std::unique_ptr<Child> child_;
};

// S3L_TEST_STORAGE=s3-auto: one server per test process, started on first use
// and stopped at cleanup (tests/support/process.hpp). It also sets
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY to its credentials in this
// process, so the daemons the tests start inherit them (as a user would pass
// them). Throws like the S3Server constructor.
S3Server& auto_s3_server();
// A new bucket name on that server for each call ("s3l-auto-1", ...): every
// fixture gets a store of its own, as format requires.
std::string auto_s3_bucket_url();
// True if `storage` is the value that asks for the auto server.
inline bool is_s3_auto(const std::string& storage) { return storage == "s3-auto"; }

// Picks a TCP port that is free on 127.0.0.1 right now.
uint16_t free_tcp_port();
// True if something accepts TCP connections on 127.0.0.1:port.
bool tcp_port_open(uint16_t port);

}  // namespace s3l::test
