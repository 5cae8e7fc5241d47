#include "store/sigv4.hpp"

#include <algorithm>
#include <ctime>
#include <map>

#include "util/sha256.hpp"

namespace s3l::store {
namespace {

std::string lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// Trim, and collapse runs of spaces into one (SigV4 canonical header values).
std::string trim_collapse(std::string_view v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

}  // namespace

std::string uri_encode(std::string_view s, bool encode_slash) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3 / 2);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (c == '/' && !encode_slash)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string canonical_query_string(const KeyValues& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [k, v] : query) enc.emplace_back(uri_encode(k, true), uri_encode(v, true));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [k, v] : enc) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

SigV4Result sigv4_sign(const SigV4Request& req, const SigV4Credentials& cred,
                       const std::string& region, const std::string& service,
                       const std::string& amz_date) {
  // Canonical headers: lowercase names, sorted; repeated names joined by ','.
  std::map<std::string, std::string> headers;
  for (const auto& [name, value] : req.headers) {
    std::string n = lower(name);
    std::string v = trim_collapse(value);
    auto it = headers.find(n);
    if (it == headers.end()) headers.emplace(std::move(n), std::move(v));
    else it->second += "," + v;
  }
  SigV4Result r;
  std::string canon_headers;
  for (const auto& [n, v] : headers) {
    canon_headers += n + ":" + v + "\n";
    if (!r.signed_headers.empty()) r.signed_headers += ';';
    r.signed_headers += n;
  }
  r.canonical_request = req.method + "\n" + req.canonical_uri + "\n" +
                        canonical_query_string(req.query) + "\n" + canon_headers + "\n" +
                        r.signed_headers + "\n" + req.payload_hash;

  const std::string date = amz_date.substr(0, 8);
  const std::string scope = date + "/" + region + "/" + service + "/aws4_request";
  r.string_to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" +
                     sha256_hex(r.canonical_request);

  std::string k = hmac_sha256("AWS4" + cred.secret_key, date);
  k = hmac_sha256(k, region);
  k = hmac_sha256(k, service);
  k = hmac_sha256(k, "aws4_request");
  r.signature = to_hex(hmac_sha256(k, r.string_to_sign));
  r.authorization = "AWS4-HMAC-SHA256 Credential=" + cred.access_key + "/" + scope +
                    ", SignedHeaders=" + r.signed_headers + ", Signature=" + r.signature;
  return r;
}

std::string amz_date_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace s3l::store
