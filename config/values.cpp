#include "config/values.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "config/options.hpp"
#include "util/log.hpp"

namespace s3l::config {
namespace {

Status invalid(std::string msg) { return Status::Error(EINVAL, std::move(msg)); }

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool all_digits(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// Digits only, with overflow detection (strtoull would accept "-1" and spaces).
bool to_u64(const std::string& digits, uint64_t& out) {
  uint64_t v = 0;
  for (char c : digits) {
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

std::string quote(const std::string& s) { return "'" + s + "'"; }

// "/mnt/x/" and "/mnt/x" must name the same mountpoint (e.g. in "already mounted" checks).
std::string strip_trailing_slash(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

}  // namespace

Result<uint64_t> parse_size(const std::string& s) {
  const std::string expect = " (expected a byte count like 4096, 64K, 4M, 1G or 1T)";
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
  if (i == 0) return invalid("bad size " + quote(s) + expect);
  std::string rest = s.substr(i);
  if (!rest.empty() && rest[0] == '.') return invalid("bad size " + quote(s) + ": fractions are not supported" + expect);
  unsigned shift = 0;
  if (!rest.empty()) {
    switch (std::toupper(static_cast<unsigned char>(rest[0]))) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      case 'T': shift = 40; break;
      default: break;
    }
    if (shift != 0) rest.erase(0, 1);
    // Optional byte suffix: "B" always, "iB" only after a unit letter.
    if (rest == "B" || (shift != 0 && rest == "iB")) rest.clear();
  }
  if (!rest.empty()) return invalid("bad size " + quote(s) + expect);
  uint64_t n = 0;
  if (!to_u64(s.substr(0, i), n) || (shift != 0 && n > (UINT64_MAX >> shift)))
    return invalid("size " + quote(s) + " is too large");
  return n << shift;
}

std::string format_size(uint64_t bytes) {
  static const char units[] = {'T', 'G', 'M', 'K'};
  static const unsigned shifts[] = {40, 30, 20, 10};
  if (bytes == 0) return "0";
  for (int k = 0; k < 4; ++k) {
    uint64_t unit = 1ull << shifts[k];
    if (bytes % unit == 0) return std::to_string(bytes / unit) + units[k];
  }
  return std::to_string(bytes);
}

Result<bool> parse_bool(const std::string& s) {
  std::string l = lower(s);
  if (l == "true" || l == "yes" || l == "1") return true;
  if (l == "false" || l == "no" || l == "0") return false;
  return invalid("bad boolean " + quote(s) + " (expected true, false, yes, no, 1 or 0)");
}

Result<uint64_t> parse_uint(const std::string& s, uint64_t lo, uint64_t hi) {
  const std::string range = "[" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  if (!s.empty() && s[0] == '-' && all_digits(s.substr(1)))
    return invalid("must be in " + range + ", got " + s);
  uint64_t v = 0;
  if (!all_digits(s)) return invalid("bad number " + quote(s) + " (expected a whole number in " + range + ")");
  if (!to_u64(s, v) || v < lo || v > hi) return invalid("must be in " + range + ", got " + s);
  return v;
}

Result<double> parse_seconds(const std::string& s, double hi) {
  // Accept only [-]digits[.digits]: strtod alone would take "inf", "nan", "0x10" and "1e9".
  size_t i = (!s.empty() && s[0] == '-') ? 1 : 0;
  size_t digits = 0, dots = 0;
  for (size_t j = i; j < s.size(); ++j) {
    if (std::isdigit(static_cast<unsigned char>(s[j]))) ++digits;
    else if (s[j] == '.') ++dots;
    else { digits = 0; break; }
  }
  if (digits == 0 || dots > 1) return invalid("bad number of seconds " + quote(s) + " (expected e.g. 1 or 0.5)");
  double v = std::strtod(s.c_str(), nullptr);
  if (!std::isfinite(v) || v < 0 || v > hi)
    return invalid("must be between 0 and " + std::to_string(static_cast<long>(hi)) + " seconds, got " + s);
  return v;
}

Result<uint64_t> parse_size_in(const std::string& s, uint64_t lo, uint64_t hi, bool power_of_two) {
  auto r = parse_size(s);
  if (!r.ok()) return r;
  uint64_t v = *r;
  if (power_of_two && (v & (v - 1)) != 0)
    return invalid("must be a power of two between " + format_size(lo) + " and " + format_size(hi) + ", got " + s);
  if (v < lo || v > hi)
    return invalid("must be between " + format_size(lo) + " and " + format_size(hi) + ", got " + s);
  return v;
}

Status check_log_level(const std::string& s) {
  if (s3l::is_log_level(s)) return Status::Ok();
  return invalid("bad log level " + quote(s) + " (expected trace, debug, info, warn, error, critical or off)");
}

Result<std::string> normalize_local_path(const std::string& s) {
  if (s.empty()) return Status(invalid("empty path"));
  if (s.find('\0') != std::string::npos) return Status(invalid("path contains a NUL byte"));
  std::error_code ec;
  auto abs = std::filesystem::absolute(s, ec);
  if (ec) return Status(invalid("cannot make " + quote(s) + " absolute: " + ec.message()));
  return strip_trailing_slash(abs.lexically_normal().string());
}

Result<std::string> normalize_meta_url(const std::string& s) {
  const std::string expect = " (expected sqlite3://PATH, e.g. sqlite3:///var/lib/s3l/meta.db)";
  auto sep = s.find("://");
  if (sep == std::string::npos || sep == 0) return Status(invalid("bad metadata URL " + quote(s) + expect));
  std::string scheme = s.substr(0, sep), rest = s.substr(sep + 3);
  if (scheme == "postgres" || scheme == "postgresql") {
    if (rest.empty()) return Status(invalid("bad metadata URL " + quote(s) + ": no host or database"));
    return s;
  }
  if (scheme != "sqlite3") return Status(invalid("unsupported metadata URL scheme " + quote(scheme + "://") + expect));
  // Only the path is normalized; a query (?sync=normal, read by the meta layer) is kept as is.
  auto q = rest.find('?');
  std::string query = q == std::string::npos ? "" : rest.substr(q);
  rest = rest.substr(0, q);
  if (rest.empty()) return Status(invalid("bad metadata URL " + quote(s) + ": no database path" + expect));
  auto path = normalize_local_path(rest);
  if (!path.ok()) return Status(invalid("bad metadata URL " + quote(s) + ": " + path.msg()));
  return "sqlite3://" + *path + query;
}

Result<std::string> normalize_storage_url(const std::string& s) {
  const std::string expect = " (expected file:///ABS/DIR, http(s)://host:port/bucket or s3://bucket)";
  auto sep = s.find("://");
  if (sep == std::string::npos || sep == 0) return Status(invalid("bad storage URL " + quote(s) + expect));
  std::string scheme = s.substr(0, sep), rest = s.substr(sep + 3);
  if (scheme == "file") {
    // file://host/dir has no meaning here; insisting on "///" avoids guessing.
    if (rest.empty() || rest[0] != '/')
      return Status(invalid("storage URL " + quote(s) + " needs an absolute directory: file:///ABS/DIR"));
    return "file://" + strip_trailing_slash(std::filesystem::path(rest).lexically_normal().string());
  }
  if (scheme == "http" || scheme == "https" || scheme == "s3") {
    if (rest.empty() || rest[0] == '/') return Status(invalid("bad storage URL " + quote(s) + ": no host or bucket" + expect));
    if (rest.find('@') != std::string::npos)
      return Status(invalid("a storage URL must not contain credentials (use AWS_ACCESS_KEY_ID and "
                            "AWS_SECRET_ACCESS_KEY, the config file or --access-key/--secret-key)"));
    while (rest.size() > 1 && rest.back() == '/') rest.pop_back();
    std::string host, bucket = rest;
    if (scheme != "s3") {
      auto slash = rest.find('/');
      if (slash == std::string::npos)
        return Status(invalid("storage URL " + quote(s) + " names no bucket: " + scheme + "://HOST[:PORT]/BUCKET"));
      host = rest.substr(0, slash);
      bucket = rest.substr(slash + 1);
    }
    if (bucket.find('/') != std::string::npos)
      return Status(invalid("storage URL " + quote(s) +
                            ": a bucket only, no key prefix (the volume name already prefixes every key)"));
    if (Status b = check_bucket_name(bucket); !b.ok()) return Status(invalid("storage URL " + quote(s) + ": " + b.msg));
    return scheme + "://" + (host.empty() ? "" : host + "/") + bucket;
  }
  return Status(invalid("unsupported storage URL scheme " + quote(scheme + "://") + expect));
}

Status check_bucket_name(const std::string& s) {
  bool ok = !s.empty() && s.size() <= 255;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') ok = false;
  if (ok) return Status::Ok();
  return invalid("bad bucket name " + quote(s) + " (expected letters, digits, '.', '_' or '-')");
}

Result<std::string> normalize_endpoint(const std::string& s) {
  std::string e = s;
  while (!e.empty() && e.back() == '/') e.pop_back();
  auto sep = e.find("://");
  std::string scheme = sep == std::string::npos ? "" : e.substr(0, sep);
  std::string host = sep == std::string::npos ? "" : e.substr(sep + 3);
  if (e.find('@') != std::string::npos)
    return Status(invalid("an endpoint must not contain credentials (use --access-key/--secret-key or the environment)"));
  if ((scheme != "http" && scheme != "https") || host.empty() || host.find('/') != std::string::npos)
    return Status(invalid("bad endpoint " + quote(s) + " (expected http(s)://HOST[:PORT], e.g. http://127.0.0.1:9000)"));
  return e;
}

Status check_region(const std::string& s) {
  bool ok = !s.empty() && s.size() <= 64;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') ok = false;
  if (ok) return Status::Ok();
  return invalid("bad region " + quote(s) + " (expected letters, digits, '-' or '_', e.g. us-east-1)");
}

Status check_volume_name(const std::string& s) {
  bool ok = !s.empty() && s.size() <= 63 && std::isalnum(static_cast<unsigned char>(s[0]));
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') ok = false;
  if (ok) return Status::Ok();
  return invalid("bad volume name " + quote(s) +
                 " (expected 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit)");
}

}  // namespace s3l::config

namespace s3l::config {

std::string S3Flags::given() const {
  std::string out;
  auto add = [&out](bool set, const char* name) {
    if (set) out += std::string(out.empty() ? "" : ", ") + "--" + name;
  };
  add(endpoint.has_value(), "endpoint");
  add(region.has_value(), "region");
  add(access_key.has_value(), "access-key");
  add(secret_key.has_value(), "secret-key");
  add(virtual_hosted.has_value(), "virtual-hosted");
  add(verify_tls.has_value(), "no-verify-tls");
  add(ca_file.has_value(), "ca-file");
  return out;
}

Result<HostPort> parse_host_port(const std::string& s, bool allow_zero) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0)
    return Status(invalid("bad address " + quote(s) + ": expected HOST:PORT, e.g. 127.0.0.1:7420"));
  HostPort hp;
  hp.host = s.substr(0, colon);
  for (char c : hp.host)
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '\0')
      return Status(invalid("bad address " + quote(s) + ": the host contains " + quote(std::string(1, c))));
  auto port = parse_uint(s.substr(colon + 1), allow_zero ? 0 : 1, 65535);
  if (!port.ok()) return Status(invalid("bad address " + quote(s) + ": port " + port.msg()));
  hp.port = static_cast<uint16_t>(*port);
  return hp;
}

}  // namespace s3l::config
