// SHA-256, HMAC-SHA256 and hex/base64 helpers over OpenSSL EVP (uses SHA-NI
// when the CPU has it). SHA-256 is the block checksum; the raw digest and the
// HMAC are the building blocks of the S3 SigV4 signer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace s3l {

// Lowercase hex SHA-256 of [p, p+n), 64 characters.
std::string sha256_hex(const char* p, size_t n);
inline std::string sha256_hex(std::string_view s) { return sha256_hex(s.data(), s.size()); }

// Raw 32-byte SHA-256 digest.
std::string sha256_raw(const char* p, size_t n);
inline std::string sha256_raw(std::string_view s) { return sha256_raw(s.data(), s.size()); }

// Raw 32-byte HMAC-SHA256(key, data).
std::string hmac_sha256(std::string_view key, std::string_view data);

// Raw 16-byte MD5 (S3 Content-MD5; not used for integrity decisions).
std::string md5_raw(const char* p, size_t n);

// Lowercase hex of arbitrary bytes.
std::string to_hex(std::string_view raw);
// Standard base64 with padding (RFC 4648).
std::string base64_encode(std::string_view raw);

// Incremental SHA-256 for data that arrives in pieces (fsck, streaming reads).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(const char* p, size_t n);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::string final_raw();              // the object cannot be updated afterwards
  std::string final_hex() { return to_hex(final_raw()); }

 private:
  void* ctx_;  // EVP_MD_CTX*, kept opaque so callers do not include OpenSSL
};

}  // namespace s3l
