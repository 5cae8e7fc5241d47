#include "store/s3_store.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>

#include "store/s3_http.hpp"
#include "store/s3_xml.hpp"
#include "store/sigv4.hpp"
#include "util/sha256.hpp"

namespace s3l::store {
namespace {

const std::string kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr size_t kDeleteBatch = 1000;   // S3's DeleteObjects limit

Status check_key(const std::string& key) {
  if (key.empty()) return Status::Error(EINVAL, "empty object key");
  if (key.find('\0') != std::string::npos)
    return Status::Error(EINVAL, "object key contains a NUL byte");
  if (key.size() > kMaxKeyLen)
    return Status::Error(ENAMETOOLONG, "object key is " + std::to_string(key.size()) +
                                           " bytes, the limit is " + std::to_string(kMaxKeyLen));
  return Status::Ok();
}

bool valid_bucket(const std::string& b) {
  if (b.empty() || b.size() > 255) return false;
  for (char c : b) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

double jitter01() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

// S3 error codes that mean "try again later" whatever the HTTP status.
bool retryable_code(const std::string& code) {
  return code == "SlowDown" || code == "RequestTimeout" || code == "InternalError" ||
         code == "ServiceUnavailable" || code == "Throttling" || code == "ThrottlingException" ||
         code == "RequestThrottled" || code == "TooManyRequests";
}

// Keys that every server's XML parser reads back exactly. Others are deleted
// one by one: s3rver's parser unescapes XML entities wrongly and trims
// whitespace, and DeleteObjects then reports success for an object it kept.
bool batch_safe(const std::string& k) {
  if (k.front() == ' ' || k.back() == ' ' || k.find("  ") != std::string::npos) return false;
  for (char c : k)
    if (static_cast<unsigned char>(c) < 0x20 || c == '&' || c == '<' || c == '>' || c == '"' ||
        c == '\'' || c == 0x7f)
      return false;
  return true;
}

std::string from_hex(const std::string& h) {
  std::string out;
  if (h.size() % 2) return out;
  auto v = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  for (size_t i = 0; i < h.size(); i += 2) {
    int a = v(h[i]), b = v(h[i + 1]);
    if (a < 0 || b < 0) return std::string();
    out += static_cast<char>(a * 16 + b);
  }
  return out;
}

bool retryable_status(long s) { return s == 500 || s == 502 || s == 503 || s == 504 || s == 429; }

// One request, described independently of the wire.
struct Op {
  std::string method;
  std::string key;             // empty = bucket-level request
  bool has_key = false;
  KeyValues query;
  KeyValues headers;           // extra headers to send and sign (range, content-md5)
  const char* body = nullptr;
  size_t body_len = 0;
  std::string payload_hash;    // hex SHA-256 of the body
};

class S3Store final : public ObjectStore {
 public:
  S3Store(S3Location loc, const StoreOptions& opt, SigV4Credentials cred)
      : loc_(std::move(loc)), opt_(opt), cred_(std::move(cred)) {
    opt_.access_key.clear();   // the only copy of the secrets is cred_
    opt_.secret_key.clear();
    opt_.session_token.clear();
    http_.connect_timeout_ms = opt.connect_timeout_ms;
    http_.stall_timeout_ms = opt.stall_timeout_ms;
    http_.verify_tls = opt.verify_tls;
    http_.ca_file = opt.ca_file.empty() ? env("AWS_CA_BUNDLE") : opt.ca_file;
  }

  std::string describe() const override {
    return loc_.scheme + "://" + loc_.host + "/" + loc_.bucket + " (S3, region " + opt_.region +
           (opt_.virtual_hosted ? ", virtual-hosted" : ", path-style") +
           (opt_.verify_tls || loc_.scheme == "http" ? "" : ", TLS NOT VERIFIED") + ")";
  }

  Status put(const std::string& key, const char* data, size_t len) override {
    return put_with_sha256(key, data, len, sha256_hex(data, len));
  }

  Status put_with_sha256(const std::string& key, const char* data, size_t len,
                         const std::string& sha256) override {
    if (auto s = check_key(key); !s.ok()) return s;
    std::string raw = from_hex(sha256);
    if (raw.size() != 32)
      return Status::Error(EINVAL, "put " + where(key) + ": bad SHA-256 '" + sha256 + "'");
    Op op = object_op("PUT", key);
    op.body = data;
    op.body_len = len;
    op.payload_hash = sha256;
    op.headers.push_back({"x-amz-checksum-sha256", base64_encode(raw)});
    if (opt_.content_md5) op.headers.push_back({"Content-MD5", base64_encode(md5_raw(data, len))});
    auto r = call(op);
    if (!r.ok()) return r.status;
    if (r->status / 100 != 2) return to_status(*r, op);
    return Status::Ok();
  }

  Result<std::string> get(const std::string& key, uint64_t off, uint64_t len) override {
    if (auto s = check_key(key); !s.ok()) return s;
    if (len == 0) {   // no byte wanted: only existence matters
      auto h = head(key);
      if (!h.ok()) return h.status;
      return std::string();
    }
    Op op = object_op("GET", key);
    bool ranged = off != 0 || len != UINT64_MAX;
    if (ranged) {
      std::string range = "bytes=" + std::to_string(off) + "-";
      if (len != UINT64_MAX && len - 1 <= UINT64_MAX - off) range += std::to_string(off + len - 1);
      op.headers.push_back({"Range", range});
    }
    auto r = call(op);
    if (!r.ok()) return r.status;
    HttpResponse& resp = *r;
    if (resp.status == 416) return std::string();   // the object exists; off is past its end
    if (resp.status == 206) {
      // Content-Range: bytes FIRST-LAST/TOTAL. Trust nothing: the answer must
      // cover every byte we asked for that exists. Some servers send more
      // than asked (s3rver answers "bytes=0-0" with the whole object): trim.
      std::string cr = resp.header("content-range");
      unsigned long long first = 0, last = 0, total = 0;
      bool parsed = std::sscanf(cr.c_str(), "bytes %llu-%llu/%llu", &first, &last, &total) == 3;
      uint64_t want_end = len == UINT64_MAX || len > total - std::min<uint64_t>(off, total)
                              ? total : off + len;   // exclusive
      if (!parsed || last < first || resp.body.size() != last - first + 1 || first > off ||
          last + 1 < want_end || off >= total)
        return Status::Error(EIO, "S3 GET " + where(key) + ": inconsistent ranged answer (" +
                                      "asked bytes from " + std::to_string(off) +
                                      ", Content-Range '" + cr + "', " +
                                      std::to_string(resp.body.size()) + " bytes)");
      if (first == off && resp.body.size() == want_end - off) return std::move(resp.body);
      return resp.body.substr(off - first, want_end - off);
    }
    if (resp.status == 200) {   // whole object (no range asked, or the server ignored it)
      if (!ranged) return std::move(resp.body);
      uint64_t start = std::min<uint64_t>(off, resp.body.size());
      return resp.body.substr(start, std::min<uint64_t>(len, resp.body.size() - start));
    }
    return to_status(resp, op);
  }

  Result<ObjectInfo> head(const std::string& key) override {
    if (auto s = check_key(key); !s.ok()) return s;
    Op op = object_op("HEAD", key);
    auto r = call(op);
    if (!r.ok()) return r.status;
    if (r->status != 200) return to_status(*r, op);
    ObjectInfo info;
    info.key = key;
    std::string cl = r->header("content-length");
    char* end = nullptr;
    info.size = std::strtoull(cl.c_str(), &end, 10);
    if (cl.empty() || *end != '\0')
      return Status::Error(EIO, "S3 HEAD " + where(key) + ": no valid Content-Length");
    info.mtime_ns = r->last_modified_s >= 0 ? r->last_modified_s * 1000000000 : 0;
    return info;
  }

  Status remove(const std::string& key) override {
    if (auto s = check_key(key); !s.ok()) return s;
    Op op = object_op("DELETE", key);
    auto r = call(op);
    if (!r.ok()) return r.status;
    if (r->status / 100 == 2 || r->status == 404) return Status::Ok();
    return to_status(*r, op);
  }

  Status remove_many(const std::vector<std::string>& keys) override {
    size_t failed = 0;
    Status first;
    auto fail = [&](const Status& s) {
      if (failed++ == 0) first = s;
    };
    for (size_t i = 0; i < keys.size(); i += kDeleteBatch) {
      std::vector<std::string> batch(keys.begin() + i,
                                     keys.begin() + std::min(keys.size(), i + kDeleteBatch));
      std::vector<std::string> xml_ok, alone;
      for (auto& k : batch) {
        if (auto s = check_key(k); !s.ok()) { fail(s); continue; }
        (batch_safe(k) ? xml_ok : alone).push_back(k);
      }
      if (!xml_ok.empty()) {
        Status s = delete_objects(xml_ok, failed, first);
        if (s.err == ENOTSUP) alone.insert(alone.end(), xml_ok.begin(), xml_ok.end());
        else if (!s.ok()) fail(s);
      }
      for (auto& k : alone)   // keys XML cannot carry, or no DeleteObjects support
        if (Status s = remove(k); !s.ok()) fail(s);
    }
    if (failed == 0) return Status::Ok();
    return Status::Error(first.err, "remove_many: " + std::to_string(failed) + " of " +
                                        std::to_string(keys.size()) +
                                        " deletes failed; first: " + first.msg);
  }

  Result<std::vector<ObjectInfo>> list(const std::string& prefix) override {
    std::vector<ObjectInfo> out;
    std::string token;
    for (int page = 0;; ++page) {
      Op op = bucket_op("GET");
      op.query = {{"list-type", "2"}, {"prefix", prefix}, {"max-keys", "1000"},
                  {"encoding-type", "url"}};
      if (!token.empty()) op.query.push_back({"continuation-token", token});
      auto r = call(op);
      if (!r.ok()) return r.status;
      if (r->status != 200) return to_status(*r, op);
      xml::ListPage lp;
      std::string why;
      if (!xml::parse_list_v2(r->body, lp, why))
        return Status::Error(EIO, "S3 list '" + prefix + "' in " + describe() + " (page " +
                                      std::to_string(page + 1) + "): unreadable answer: " + why);
      for (auto& o : lp.objects) out.push_back({std::move(o.key), o.size, o.mtime_ns});
      if (!lp.truncated) break;
      if (lp.next_token == token)
        return Status::Error(EIO, "S3 list '" + prefix + "' in " + describe() +
                                      ": the server repeated its continuation token");
      token = lp.next_token;
    }
    // The contract is byte order; do not depend on the server's collation.
    std::sort(out.begin(), out.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return out;
  }

  Result<std::vector<std::string>> list_top_dirs() override {
    std::vector<std::string> out;
    std::string token;
    for (int page = 0;; ++page) {
      Op op = bucket_op("GET");
      op.query = {{"list-type", "2"}, {"delimiter", "/"}, {"max-keys", "1000"}};
      if (!token.empty()) op.query.push_back({"continuation-token", token});
      auto r = call(op);
      if (!r.ok()) return r.status;
      if (r->status != 200) return to_status(*r, op);
      for (auto cp : xml::elements(r->body, "CommonPrefixes")) {
        std::string p = xml::text(cp, "Prefix");
        if (!p.empty() && p.back() == '/') p.pop_back();
        if (!p.empty()) out.push_back(std::move(p));
      }
      if (xml::text(r->body, "IsTruncated") != "true") break;
      std::string next = xml::text(r->body, "NextContinuationToken");
      if (next.empty() || next == token)
        return Status::Error(EIO, "S3 list of top-level prefixes in " + describe() +
                                      " (page " + std::to_string(page + 1) +
                                      "): truncated answer without a new continuation token");
      token = next;
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }

  // ---- used by open_s3_store ---------------------------------------------

  // Lists at most one key: proves endpoint, bucket and credentials together.
  Result<HttpResponse> probe_bucket(uint32_t budget_ms) {
    Op op = bucket_op("GET");
    op.query = {{"list-type", "2"}, {"max-keys", "1"}};
    return call(op, budget_ms);
  }

  Status create_bucket() {
    Op op = bucket_op("PUT");
    std::string body;
    if (opt_.region != "us-east-1")
      body = "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
             "<LocationConstraint>" + opt_.region + "</LocationConstraint></CreateBucketConfiguration>";
    op.body = body.data();
    op.body_len = body.size();
    op.payload_hash = sha256_hex(body);
    auto r = call(op);
    if (!r.ok()) return r.status;
    if (r->status / 100 == 2) return Status::Ok();
    auto e = xml::parse_error(r->body);
    if (e.code == "BucketAlreadyOwnedByYou") return Status::Ok();
    return to_status(*r, op);
  }

  Status to_status(const HttpResponse& r, const Op& op) const {
    auto e = xml::parse_error(r.body);
    std::string code = e.code.empty() ? "HTTP " + std::to_string(r.status) : e.code;
    int err = EIO;
    if (r.status == 404 || code == "NoSuchKey" || code == "NoSuchBucket") err = ENOENT;
    else if (r.status == 403 || code == "AccessDenied" || code == "SignatureDoesNotMatch" ||
             code == "InvalidAccessKeyId")
      err = EACCES;
    else if (code == "BucketAlreadyExists") err = EEXIST;
    else if (code == "KeyTooLongError") err = ENAMETOOLONG;
    else if (code == "EntityTooLarge") err = EFBIG;
    else if (code == "InvalidBucketName" || code == "InvalidArgument") err = EINVAL;
    else if (r.status == 501 || code == "NotImplemented") err = ENOTSUP;

    std::string msg = "S3 " + op.method + " " + (op.has_key ? where(op.key) : describe()) +
                      ": HTTP " + std::to_string(r.status) + (e.code.empty() ? "" : " " + code);
    if (!e.message.empty()) msg += ": " + e.message;
    if (r.body.empty() && op.method == "HEAD")
      msg += r.status == 404 ? ": no such object" : " (HEAD answers carry no error details)";
    std::string rid = e.request_id.empty() ? r.header("x-amz-request-id") : e.request_id;
    if (!e.key.empty() && e.key != op.key) msg += " (key '" + e.key + "')";
    if (!rid.empty()) msg += " [request id " + rid + "]";
    if (code == "SignatureDoesNotMatch")
      msg += "; check the secret key (AWS_SECRET_ACCESS_KEY or the configured secret)";
    else if (code == "InvalidAccessKeyId")
      msg += "; check the access key (AWS_ACCESS_KEY_ID or the configured access key)";
    else if (code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect" ||
             r.status == 301)
      msg += "; check the region (now " + opt_.region + ") and the endpoint";
    else if (code == "RequestTimeTooSkewed")
      msg += "; this machine's clock is off";
    return Status::Error(err, msg);
  }

  std::string where(const std::string& key) const { return "'" + key + "' in " + describe(); }

 private:
  Op object_op(const std::string& method, const std::string& key) const {
    Op op;
    op.method = method;
    op.key = key;
    op.has_key = true;
    op.payload_hash = kEmptySha256;
    return op;
  }
  Op bucket_op(const std::string& method) const {
    Op op;
    op.method = method;
    op.payload_hash = kEmptySha256;
    return op;
  }

  // DeleteObjects for up to 1000 XML-safe keys. Per-key errors other than
  // NoSuchKey are counted into failed/first. ENOTSUP: server lacks the call.
  Status delete_objects(const std::vector<std::string>& keys, size_t& failed, Status& first) {
    std::string body;
    xml::delete_request(keys, body);
    Op op = bucket_op("POST");
    op.query = {{"delete", ""}};
    op.body = body.data();
    op.body_len = body.size();
    op.payload_hash = sha256_hex(body);
    op.headers.push_back({"Content-MD5", base64_encode(md5_raw(body.data(), body.size()))});
    op.headers.push_back({"Content-Type", "application/xml"});
    auto r = call(op);
    if (!r.ok()) return r.status;
    if (r->status != 200) return to_status(*r, op);
    for (auto& e : xml::parse_delete_errors(r->body)) {
      if (e.code == "NoSuchKey") continue;
      Status s = Status::Error(e.code == "AccessDenied" ? EACCES : EIO,
                               "S3 DeleteObjects " + where(e.key) + ": " + e.code + ": " + e.message);
      if (failed++ == 0) first = s;
    }
    return Status::Ok();
  }

  // Signs and sends op, retrying transient failures. Returns the final HTTP
  // response (any status the caller must interpret) or an error Status when
  // no usable response came within the retry budget.
  Result<HttpResponse> call(const Op& op, uint32_t budget_ms = 0) {
    if (budget_ms == 0) budget_ms = opt_.retry_budget_ms;
    const auto start = std::chrono::steady_clock::now();
    std::string path, host = loc_.host;
    if (opt_.virtual_hosted) {
      host = loc_.bucket + "." + loc_.host;
      path = "/" + (op.has_key ? uri_encode(op.key, false) : "");
    } else {
      // Bucket-level requests are signed as "/bucket", not "/bucket/" (s3rver
      // 5 rejects the latter, and S3 accepts both).
      path = "/" + loc_.bucket + (op.has_key ? "/" + uri_encode(op.key, false) : "");
    }
    std::string url = loc_.scheme + "://" + host + path;
    if (!op.query.empty()) url += "?" + canonical_query_string(op.query);

    std::string last_error;
    uint32_t attempt = 0;
    for (;;) {
      ++attempt;
      const std::string date = amz_date_now();
      SigV4Request sr;
      sr.method = op.method;
      sr.canonical_uri = path;
      sr.query = op.query;
      sr.payload_hash = op.payload_hash;
      sr.headers = {{"Host", host}, {"x-amz-date", date}, {"x-amz-content-sha256", op.payload_hash}};
      if (!cred_.session_token.empty()) sr.headers.push_back({"x-amz-security-token", cred_.session_token});
      for (auto& h : op.headers)
        if (h.first != "Content-Type") sr.headers.push_back(h);
      SigV4Result sig = sigv4_sign(sr, cred_, opt_.region, "s3", date);

      HttpRequest req;
      req.method = op.method;
      req.url = url;
      for (auto& [n, v] : sr.headers) req.headers.push_back(n + ": " + v);
      for (auto& h : op.headers)
        if (h.first == "Content-Type") req.headers.push_back(h.first + ": " + h.second);
      if (op.method == "PUT" && op.has_key) req.headers.push_back("Content-Type: application/octet-stream");
      req.headers.push_back("Authorization: " + sig.authorization);
      req.body = op.body;
      req.body_len = op.body_len;

      HttpOutcome o = http_perform(req, http_);
      bool retry = false;
      if (!o.transport_ok) {
        last_error = o.error;
        retry = o.retryable;
        if (!retry) {
          int err = EIO;
          std::string hint;
          if (o.curl_code == 60 /* CURLE_PEER_FAILED_VERIFICATION */) {
            hint = "; the server's TLS certificate is not trusted: give its CA with the CA-file "
                   "option, or disable verification explicitly (insecure)";
          }
          return Status::Error(err, "S3 " + op.method + " " + (op.has_key ? where(op.key) : describe()) +
                                        ": " + o.error + hint);
        }
      } else {
        const HttpResponse& r = o.response;
        std::string code = r.status >= 400 ? xml::parse_error(r.body).code : "";
        if (retryable_status(r.status) || (r.status >= 400 && retryable_code(code))) {
          retry = true;
          last_error = "HTTP " + std::to_string(r.status) + (code.empty() ? "" : " " + code);
        } else {
          if (attempt > 1)
            spdlog::info("S3 {} {}: succeeded on attempt {}", op.method,
                         op.has_key ? op.key : loc_.bucket, attempt);
          return std::move(o.response);
        }
      }
      // Exponential backoff with jitter: 100 ms doubling up to 5 s, each
      // delay drawn from [d/2, d] so that many workers do not retry in step.
      double d = std::min(5000.0, 100.0 * double(1u << std::min<uint32_t>(attempt - 1, 16)));
      auto delay = std::chrono::milliseconds(static_cast<int64_t>(d * (0.5 + 0.5 * jitter01())));
      auto elapsed = std::chrono::steady_clock::now() - start;
      if (attempt >= opt_.max_attempts ||
          elapsed + delay > std::chrono::milliseconds(budget_ms)) {
        double secs = std::chrono::duration<double>(elapsed).count();
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f", secs);
        std::string msg = "S3 " + op.method + " " + (op.has_key ? where(op.key) : describe()) +
                          ": gave up after " + std::to_string(attempt) + " attempts in " + buf +
                          " s; last error: " + last_error;
        spdlog::warn("{}", msg);
        return Status::Error(EIO, msg);
      }
      if (attempt >= 3)
        spdlog::warn("S3 {} {}: attempt {} failed ({}), retrying", op.method,
                     op.has_key ? op.key : loc_.bucket, attempt, last_error);
      else
        spdlog::debug("S3 {} {}: attempt {} failed ({}), retrying", op.method,
                      op.has_key ? op.key : loc_.bucket, attempt, last_error);
      std::this_thread::sleep_for(delay);
    }
  }

  const S3Location loc_;
  StoreOptions opt_;            // secrets cleared
  const SigV4Credentials cred_;
  HttpSettings http_;
};

}  // namespace

Result<S3Location> parse_s3_url(const std::string& url, const StoreOptions& opt) {
  S3Location loc;
  std::string rest;
  auto split_bucket = [&](const std::string& s) -> Status {
    std::string b = s;
    while (!b.empty() && b.back() == '/') b.pop_back();
    if (b.find('/') != std::string::npos)
      return Status::Error(EINVAL, "storage URL '" + url +
                                       "': expected exactly one path component, the bucket "
                                       "(key prefixes inside a bucket are not supported)");
    if (!valid_bucket(b))
      return Status::Error(EINVAL, "storage URL '" + url + "': '" + b +
                                       "' is not a valid bucket name");
    loc.bucket = b;
    return Status::Ok();
  };
  if (url.rfind("s3://", 0) == 0) {
    std::string ep = opt.endpoint.empty() ? "https://s3." + opt.region + ".amazonaws.com"
                                          : opt.endpoint;
    while (!ep.empty() && ep.back() == '/') ep.pop_back();
    size_t sep = ep.find("://");
    if (sep == std::string::npos || (ep.substr(0, sep) != "http" && ep.substr(0, sep) != "https"))
      return Status::Error(EINVAL, "S3 endpoint '" + ep + "' must start with http:// or https://");
    loc.scheme = ep.substr(0, sep);
    loc.host = ep.substr(sep + 3);
    if (loc.host.empty() || loc.host.find('/') != std::string::npos)
      return Status::Error(EINVAL, "S3 endpoint '" + ep + "' must be http(s)://host[:port]");
    if (auto s = split_bucket(url.substr(5)); !s.ok()) return s;
    return loc;
  }
  size_t sep = url.find("://");
  if (sep == std::string::npos)
    return Status::Error(EINVAL, "storage URL '" + url + "' has no scheme");
  loc.scheme = url.substr(0, sep);
  if (loc.scheme != "http" && loc.scheme != "https")
    return Status::Error(EINVAL, "storage URL '" + url + "': unsupported scheme");
  rest = url.substr(sep + 3);
  size_t slash = rest.find('/');
  if (slash == std::string::npos || slash == 0)
    return Status::Error(EINVAL, "storage URL '" + url + "' must name a bucket: " + loc.scheme +
                                     "://host[:port]/BUCKET");
  loc.host = rest.substr(0, slash);
  if (loc.host.find('@') != std::string::npos)
    return Status::Error(EINVAL, "storage URL must not contain credentials; use the "
                                 "environment or the configuration instead");
  if (auto s = split_bucket(rest.substr(slash + 1)); !s.ok()) return s;
  if (!opt.endpoint.empty())
    return Status::Error(EINVAL, "storage URL '" + url + "' already names the endpoint; "
                                     "the endpoint option is only for s3://BUCKET");
  return loc;
}

Result<std::unique_ptr<ObjectStore>> open_s3_store(const std::string& url, bool create,
                                                   const StoreOptions& opt) {
  auto loc = parse_s3_url(url, opt);
  if (!loc.ok()) return loc.status;
  SigV4Credentials cred;
  cred.access_key = opt.access_key.empty() ? env("AWS_ACCESS_KEY_ID") : opt.access_key;
  cred.secret_key = opt.secret_key.empty() ? env("AWS_SECRET_ACCESS_KEY") : opt.secret_key;
  cred.session_token = opt.access_key.empty() ? env("AWS_SESSION_TOKEN") : opt.session_token;
  if (cred.access_key.empty() || cred.secret_key.empty())
    return Status::Error(EACCES, "no S3 credentials for " + url +
                                     ": set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or "
                                     "configure the access and secret keys");
  if (loc->scheme == "https" && !opt.verify_tls)
    spdlog::warn("TLS certificate verification is DISABLED for {}: anyone on the path can "
                 "read and alter the data", url);
  http_global_init();
  auto store = std::make_unique<S3Store>(*loc, opt, std::move(cred));

  // A short budget for the first contact: a wrong endpoint should fail in
  // seconds, not after the full retry budget.
  auto probe = store->probe_bucket(std::min<uint32_t>(opt.retry_budget_ms, 15000));
  if (!probe.ok()) return probe.status;
  Op dummy;
  dummy.method = "GET";
  if (probe->status != 200) {
    Status s = store->to_status(*probe, dummy);
    auto e = xml::parse_error(probe->body);
    if (e.code == "NoSuchBucket" || (probe->status == 404 && e.code.empty())) {
      if (!create)
        return Status::Error(ENOENT, "bucket '" + loc->bucket + "' does not exist at " +
                                         store->describe() + " (format creates it)");
      if (Status c = store->create_bucket(); !c.ok()) return c;
    } else {
      return s;
    }
  }
  if (create) {
    // Prove the bucket is writable and readable before anyone relies on it.
    std::string key = "s3layerfs-probe-" + sha256_hex(amz_date_now() + std::to_string(jitter01())).substr(0, 16);
    const std::string data = "s3layerfs write probe";
    if (Status s = store->put(key, data.data(), data.size()); !s.ok())
      return Status::Error(s.err, "bucket is not writable: " + s.msg);
    auto g = store->get(key, 0, UINT64_MAX);
    if (!g.ok()) return Status::Error(g.err(), "bucket is not readable: " + g.msg());
    if (*g != data)
      return Status::Error(EIO, "bucket probe object came back different from what was written at " +
                                    store->describe());
    if (Status s = store->remove(key); !s.ok())
      return Status::Error(s.err, "cannot delete from the bucket: " + s.msg);
  }
  return std::unique_ptr<ObjectStore>(std::move(store));
}

}  // namespace s3l::store
