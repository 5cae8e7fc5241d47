// One HTTP exchange over libcurl. Each thread keeps one CURL easy handle for
// its whole life, so connections to the server stay open between requests
// (keep-alive: no TCP/TLS handshake per block).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace s3l::store {

struct HttpSettings {
  uint32_t connect_timeout_ms = 10000;
  uint32_t stall_timeout_ms = 30000;
  bool verify_tls = true;
  std::string ca_file;
};

struct HttpRequest {
  std::string method;                // GET HEAD PUT POST DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  const char* body = nullptr;        // PUT/POST payload (not copied)
  size_t body_len = 0;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;   // lowercase names
  int64_t last_modified_s = -1;                 // from Last-Modified, -1 if absent
  std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

struct HttpOutcome {
  bool transport_ok = false;     // false: no complete HTTP response (see curl_code/error)
  int curl_code = 0;
  bool retryable = false;        // transport errors only: connection, timeout, truncation
  std::string error;             // transport error text
  HttpResponse response;
};

// Must run once before any thread calls http_perform (idempotent).
void http_global_init();
HttpOutcome http_perform(const HttpRequest& req, const HttpSettings& settings);

}  // namespace s3l::store
