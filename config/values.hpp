// Strict parsers for single option values. Each returns EINVAL with a message
// that describes the value and what was expected; the caller prefixes it with
// the option name (and file:line when it came from a config file).
#pragma once
#include <cstdint>
#include <string>

#include "util/result.hpp"

namespace s3l::config {

// true/false/yes/no/1/0, case-insensitive.
Result<bool> parse_bool(const std::string& s);

// Decimal integer in [lo, hi]; no sign, no spaces, no hex.
Result<uint64_t> parse_uint(const std::string& s, uint64_t lo, uint64_t hi);

// Seconds as a decimal number ("1", "0.5") in [0, hi].
Result<double> parse_seconds(const std::string& s, double hi);

// Size with bounds; power_of_two additionally requires a power of two.
Result<uint64_t> parse_size_in(const std::string& s, uint64_t lo, uint64_t hi, bool power_of_two);

// One of trace debug info warn error critical off.
Status check_log_level(const std::string& s);

// Metadata URL: sqlite3://PATH (a relative PATH is made absolute against the
// current directory, because a daemonized mount runs from "/"), postgres:// or
// postgresql:// (accepted here, the meta layer decides whether it supports it).
Result<std::string> normalize_meta_url(const std::string& s);

// Storage URL: file:///ABS/DIR, http(s)://HOST[:PORT]/BUCKET, s3://BUCKET (one
// bucket, no key prefix, no credentials; a trailing '/' is removed).
Result<std::string> normalize_storage_url(const std::string& s);

// S3 bucket: letters, digits, '.', '_' or '-' (the servers check the finer rules).
Status check_bucket_name(const std::string& s);

// S3 endpoint for s3://BUCKET: http(s)://HOST[:PORT], trailing '/' removed.
Result<std::string> normalize_endpoint(const std::string& s);

// S3 region: letters, digits, '-' or '_' ("us-east-1").
Status check_region(const std::string& s);

// A local path (mountpoint, cache dir), made absolute against the current directory.
Result<std::string> normalize_local_path(const std::string& s);

// A TCP address HOST:PORT (gc-node, shell): HOST a name or IPv4 address (no
// spaces), PORT 1..65535 (0 too when allow_zero: "any free port").
struct HostPort {
  std::string host;
  uint16_t port = 0;
  std::string str() const { return host + ":" + std::to_string(port); }
};
Result<HostPort> parse_host_port(const std::string& s, bool allow_zero);

// Volume name: 1..63 of [A-Za-z0-9._-], starting with a letter or digit.
Status check_volume_name(const std::string& s);

}  // namespace s3l::config
