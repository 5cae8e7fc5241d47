// postgres:// URL validation, the printable form, and password scrubbing.
#include <cctype>
#include <cerrno>
#include <string>

#include "meta/pg_url.hpp"

namespace s3l::meta {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `s`; false on a malformed escape.
bool pct_decode(const std::string& s, std::string& out) {
  out.clear();
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return false;
    int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

}  // namespace

std::string scrub_secrets(std::string text, const std::vector<std::string>& secrets) {
  for (const std::string& s : secrets) {
    if (s.empty()) continue;
    for (size_t p = text.find(s); p != std::string::npos; p = text.find(s, p + 3)) text.replace(p, s.size(), "***");
  }
  return text;
}

Result<PgUrl> parse_pg_url(const std::string& url) {
  std::string scheme;
  for (const char* s : {"postgres://", "postgresql://"})
    if (url.rfind(s, 0) == 0) scheme = s;
  if (scheme.empty()) return Status::Error(EINVAL, "not a postgres:// or postgresql:// URL");

  PgUrl u;
  const std::string rest = url.substr(scheme.size());
  const size_t auth_end = rest.find_first_of("/?");
  const std::string authority = rest.substr(0, auth_end);
  std::string path, query;
  if (auth_end != std::string::npos) {
    const size_t q = rest.find('?', auth_end);
    path = rest.substr(auth_end, q == std::string::npos ? std::string::npos : q - auth_end);
    if (q != std::string::npos) query = rest.substr(q + 1);
  }

  // Credentials first, so that every later message can be scrubbed.
  std::string user, hosts = authority;
  const size_t at = authority.rfind('@');
  if (at != std::string::npos) {
    const std::string userinfo = authority.substr(0, at);
    hosts = authority.substr(at + 1);
    const size_t colon = userinfo.find(':');
    user = userinfo.substr(0, colon);
    if (colon != std::string::npos) {
      const std::string pw = userinfo.substr(colon + 1);
      std::string decoded;
      u.secrets.push_back(pw);
      if (pct_decode(pw, decoded) && decoded != pw) u.secrets.push_back(decoded);
    }
    if (userinfo.find('@') != std::string::npos)
      return Status::Error(EINVAL, "metadata URL: the user or password contains '@'; write it as %40");
  }

  std::string safe_query;
  bool has_timeout = false, has_app = false;
  size_t start = 0;
  while (start < query.size()) {
    size_t end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    const std::string kv = query.substr(start, end - start);
    start = end + 1;
    if (kv.empty()) continue;
    const size_t eq = kv.find('=');
    const std::string key = kv.substr(0, eq);
    if (key == "password") {
      const std::string pw = eq == std::string::npos ? "" : kv.substr(eq + 1);
      std::string decoded;
      u.secrets.push_back(pw);
      if (pct_decode(pw, decoded) && decoded != pw) u.secrets.push_back(decoded);
      continue;   // never printed
    }
    if (eq == std::string::npos || key.empty())
      return Status::Error(EINVAL, "metadata URL: query parameter '" + scrub_secrets(kv, u.secrets) +
                                       "' is not of the form key=value");
    has_timeout |= key == "connect_timeout";
    has_app |= key == "application_name";
    safe_query += (safe_query.empty() ? "?" : "&") + kv;
  }

  u.safe = scheme + (user.empty() ? "" : user + "@") + hosts + path + safe_query;
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f || c == '#')
      return Status::Error(EINVAL, "metadata URL " + u.safe +
                                       " contains a space, a control character or '#' (percent-encode them)");
  }
  for (const std::string* part : {&user, &hosts, &path}) {
    std::string ignored;
    if (!pct_decode(*part, ignored))
      return Status::Error(EINVAL, "metadata URL " + u.safe + " has a malformed %-escape");
  }
  if (path.size() > 1 && path.find('/', 1) != std::string::npos)
    return Status::Error(EINVAL, "metadata URL " + u.safe + ": the path must be a single database name");

  u.conninfo = url;
  std::string extra;
  if (!has_timeout) extra += "connect_timeout=10";   // never hang forever on an unreachable host
  if (!has_app) extra += std::string(extra.empty() ? "" : "&") + "application_name=s3layerfs";
  if (!extra.empty()) {
    const char last = url.back();
    if (last != '?' && last != '&') u.conninfo += url.find('?') == std::string::npos ? "?" : "&";
    u.conninfo += extra;
  }
  return u;
}

}  // namespace s3l::meta
