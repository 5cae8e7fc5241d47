#include "store/s3_http.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace s3l::store {
namespace {

// The per-thread easy handle. curl_easy_reset() between requests clears the
// options but keeps the connection cache, which is the point.
struct ThreadCurl {
  CURL* h = nullptr;
  ~ThreadCurl() {
    if (h) curl_easy_cleanup(h);
  }
  CURL* get() {
    if (!h) h = curl_easy_init();
    else curl_easy_reset(h);
    return h;
  }
};
thread_local ThreadCurl tl_curl;

struct Sink {
  HttpResponse* resp;
};

size_t on_body(char* p, size_t size, size_t n, void* ud) {
  auto* s = static_cast<Sink*>(ud);
  s->resp->body.append(p, size * n);
  return size * n;
}

size_t on_header(char* p, size_t size, size_t n, void* ud) {
  auto* s = static_cast<Sink*>(ud);
  std::string line(p, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {   // a new response (e.g. after 100 Continue)
    s->resp->headers.clear();
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  std::string name = line.substr(0, colon);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t v = colon + 1;
  while (v < line.size() && (line[v] == ' ' || line[v] == '\t')) ++v;
  std::string value = line.substr(v);
  if (name == "content-length" && s->resp->body.capacity() == 0) {
    unsigned long long len = std::strtoull(value.c_str(), nullptr, 10);
    if (len > 0 && len <= (1ull << 30)) s->resp->body.reserve(len);
  }
  s->resp->headers[name] = std::move(value);
  return size * n;
}

// Stall detection: curl's LOW_SPEED check averages over a window that still
// holds the request upload, so a server that takes the request and then says
// nothing is noticed late. Instead: abort when no byte moved for stall_ms.
struct Progress {
  curl_off_t ul = -1, dl = -1;
  std::chrono::steady_clock::time_point last_move = std::chrono::steady_clock::now();
  uint32_t stall_ms = 0;
  bool stalled = false;
};

int on_progress(void* ud, curl_off_t, curl_off_t dlnow, curl_off_t, curl_off_t ulnow) {
  auto* p = static_cast<Progress*>(ud);
  auto now = std::chrono::steady_clock::now();
  if (dlnow != p->dl || ulnow != p->ul) {
    p->dl = dlnow;
    p->ul = ulnow;
    p->last_move = now;
    return 0;
  }
  if (now - p->last_move > std::chrono::milliseconds(p->stall_ms)) {
    p->stalled = true;
    return 1;   // CURLE_ABORTED_BY_CALLBACK
  }
  return 0;
}

bool retryable_curl(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
      return true;
    default:
      return false;
  }
}

}  // namespace

void http_global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

HttpOutcome http_perform(const HttpRequest& req, const HttpSettings& st) {
  HttpOutcome out;
  CURL* h = tl_curl.get();
  if (!h) {
    out.error = "curl_easy_init failed";
    return out;
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  Sink sink{&out.response};
  curl_slist* headers = nullptr;
  for (const auto& hd : req.headers) headers = curl_slist_append(headers, hd.c_str());
  // No "Expect: 100-continue" round trip; no form content type on PUT bodies.
  headers = curl_slist_append(headers, "Expect:");

  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);        // keys may contain "//" or "."
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  // Do not reuse a connection idle for longer than common server keep-alive
  // timeouts (node: 5 s): sending on a connection the server is closing fails.
  curl_easy_setopt(h, CURLOPT_MAXAGE_CONN, 4L);
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(st.connect_timeout_ms));
  Progress progress;
  progress.stall_ms = st.stall_timeout_ms;
  if (st.stall_timeout_ms > 0) {
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &progress);
  }
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, st.verify_tls ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, st.verify_tls ? 2L : 0L);
  if (!st.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, st.ca_file.c_str());
  curl_easy_setopt(h, CURLOPT_FILETIME, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &sink);

  if (req.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method == "PUT" || req.method == "POST") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, req.body ? req.body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body_len));
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  } else {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(h);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    out.curl_code = rc;
    if (progress.stalled) {
      out.retryable = true;
      out.error = "transfer stalled: no byte moved for " + std::to_string(st.stall_timeout_ms) +
                  " ms";
      return out;
    }
    out.retryable = retryable_curl(rc);
    out.error = std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(": ") + errbuf : "");
    return out;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out.response.status);
  curl_off_t ft = -1;
  if (curl_easy_getinfo(h, CURLINFO_FILETIME_T, &ft) == CURLE_OK && ft >= 0)
    out.response.last_modified_s = static_cast<int64_t>(ft);
  // A body shorter than its Content-Length is a broken transfer, never data.
  if (req.method != "HEAD") {
    curl_off_t cl = -1;
    curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    if (cl >= 0 && static_cast<uint64_t>(cl) != out.response.body.size()) {
      out.curl_code = CURLE_PARTIAL_FILE;
      out.retryable = true;
      out.error = "response body has " + std::to_string(out.response.body.size()) +
                  " bytes, Content-Length says " + std::to_string(cl);
      return out;
    }
  }
  out.transport_ok = true;
  return out;
}

}  // namespace s3l::store
