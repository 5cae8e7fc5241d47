// AWS Signature Version 4 (header-based), as used by S3.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
// Pure functions: no I/O, no clock except amz_date_now(), so the signer is
// unit-tested against AWS's published test-suite vectors.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace s3l::store {

struct SigV4Credentials {
  std::string access_key;
  std::string secret_key;       // never logged, never part of an error message
  std::string session_token;    // optional (temporary credentials): sent as x-amz-security-token
};

using KeyValues = std::vector<std::pair<std::string, std::string>>;

struct SigV4Request {
  std::string method;           // "GET", "PUT", ...
  std::string canonical_uri;    // the path exactly as sent, already URI-encoded ("/bucket/a%20b")
  KeyValues query;              // decoded names and values; encoded and sorted by the signer
  KeyValues headers;            // as sent; must include host and x-amz-date
  std::string payload_hash;     // lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;   // "host;x-amz-date"
  std::string signature;        // lowercase hex
  std::string authorization;    // the Authorization header value
};

// RFC 3986 percent-encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~
// is %XX (uppercase hex); '/' is kept when !encode_slash (S3 object paths).
std::string uri_encode(std::string_view s, bool encode_slash);

// "name=value&..." with both encoded and the pairs sorted by name, then value.
std::string canonical_query_string(const KeyValues& query);

// amz_date is "YYYYMMDDTHHMMSSZ" (the x-amz-date header value); its first 8
// characters are the credential scope date.
SigV4Result sigv4_sign(const SigV4Request& req, const SigV4Credentials& cred,
                       const std::string& region, const std::string& service,
                       const std::string& amz_date);

// The current UTC time as "YYYYMMDDTHHMMSSZ".
std::string amz_date_now();

}  // namespace s3l::store
