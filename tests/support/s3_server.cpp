#include "tests/support/s3_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "tests/support/process.hpp"

namespace s3l::test {

const char* S3Server::kAccessKey = "S3RVER";
const char* S3Server::kSecretKey = "S3RVER";

namespace {

std::string s3rver_dir() { return std::string(S3L_SOURCE_DIR) + "/scripts/s3rver"; }

// npm ci once per test process, only if the pinned package is not installed.
void ensure_installed() {
  static std::once_flag once;
  static std::string error;
  std::call_once(once, [] {
    std::string dir = s3rver_dir();
    if (std::filesystem::exists(dir + "/node_modules/@20minutes/s3rver/lib/cli.js")) return;
    RunResult r = run({"npm", "ci", "--no-audit", "--no-fund", "--prefix", dir},
                      milliseconds(300000));
    if (r.code() != 0) error = "npm ci in " + dir + " failed: " + r.describe();
  });
  if (!error.empty()) throw std::runtime_error(error);
}

}  // namespace

uint16_t free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot find a free TCP port");
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

bool tcp_port_open(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

S3Server::S3Server(const std::string& bucket, bool tls) : bucket_(bucket), tls_(tls) {
  ensure_installed();
  char tmpl[] = "/tmp/s3l-s3rver-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  register_temp_dir(dir_);
  data_dir_ = dir_ + "/data";
  log_ = dir_ + "/s3rver.log";
  std::filesystem::create_directories(data_dir_);
  port_ = free_tcp_port();
  if (tls_) {
    cert_ = dir_ + "/cert.pem";
    key_ = dir_ + "/key.pem";
    RunResult r = run({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                       "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                       "-keyout", key_, "-out", cert_},
                      milliseconds(60000));
    if (r.code() != 0) throw std::runtime_error("openssl req failed: " + r.describe());
  }
  launch();
}

S3Server::~S3Server() {
  stop();
  if (std::getenv("S3L_TEST_KEEP") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    unregister_temp_dir(dir_);
  }
}

void S3Server::launch() {
  std::vector<std::string> argv = {"node", "--openssl-legacy-provider", s3rver_dir() + "/start.js",
                                   "-s", "-d", data_dir_, "-a", "127.0.0.1", "-p",
                                   std::to_string(port_), "--configure-bucket", bucket_};
  if (tls_) argv.insert(argv.end(), {"--cert", cert_, "--key", key_});
  child_ = std::make_unique<Child>(argv, log_, log_);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!child_->running())
      throw std::runtime_error("s3rver exited at start: " + slurp(log_));
    if (slurp(log_).find("listening on") != std::string::npos && tcp_port_open(port_)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  child_->stop(milliseconds(2000));
  throw std::runtime_error("s3rver did not start within 30 s on port " + std::to_string(port_) +
                           ": " + slurp(log_));
}

void S3Server::stop() {
  if (child_) {
    child_->stop(milliseconds(3000));
    child_.reset();
  }
}

void S3Server::start() {
  if (!child_) launch();
}

bool S3Server::running() const { return child_ != nullptr; }

std::string S3Server::state() {
  if (!child_) return "stopped";
  auto st = child_->poll();
  return st ? st->describe() + "; log: " + slurp(log_) : "running";
}

std::string S3Server::endpoint() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}
std::string S3Server::url() const { return url(bucket_); }
std::string S3Server::url(const std::string& bucket) const { return endpoint() + "/" + bucket; }

store::StoreOptions S3Server::options() const {
  store::StoreOptions o;
  o.access_key = kAccessKey;
  o.secret_key = kSecretKey;
  o.region = "us-east-1";
  o.connect_timeout_ms = 2000;
  o.retry_budget_ms = 20000;
  return o;
}

S3Server& auto_s3_server() {
  static std::unique_ptr<S3Server> server;
  static std::string error;
  if (server) return *server;
  if (!error.empty()) throw std::runtime_error("(S3L_TEST_STORAGE=s3-auto server unavailable) " + error);
  try {
    server = std::make_unique<S3Server>("s3l-auto-0");
  } catch (const std::exception& e) {
    error = e.what();
    throw;
  }
  ::setenv("AWS_ACCESS_KEY_ID", S3Server::kAccessKey, 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", S3Server::kSecretKey, 1);
  ::unsetenv("AWS_SESSION_TOKEN");
  // Hooks run newest first: mounts made after this (and their daemons, which
  // commit to the server on unmount) are gone before it stops.
  add_cleanup_hook([] { server.reset(); });
  return *server;
}

std::string auto_s3_bucket_url() {
  static std::atomic<int> n{0};
  return auto_s3_server().url("s3l-auto-" + std::to_string(++n));
}

}  // namespace s3l::test
