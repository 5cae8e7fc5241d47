#include "util/sha256.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdio>
#include <cstdlib>

namespace s3l {
namespace {

// OpenSSL only fails here on allocation failure or a broken installation;
// there is no sensible way to continue without a hash (and no exception may
// cross a layer boundary), so this aborts loudly.
[[noreturn]] void crypto_failure(const char* what) {
  std::fprintf(stderr, "s3layerfs: fatal: OpenSSL failure in %s\n", what);
  std::abort();
}

std::string digest(const EVP_MD* md, const char* p, size_t n) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(p, n, out, &len, md, nullptr) != 1) crypto_failure("EVP_Digest");
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace

std::string sha256_raw(const char* p, size_t n) { return digest(EVP_sha256(), p, n); }

std::string sha256_hex(const char* p, size_t n) { return to_hex(sha256_raw(p, n)); }

std::string md5_raw(const char* p, size_t n) { return digest(EVP_md5(), p, n); }

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len))
    crypto_failure("HMAC");
  return std::string(reinterpret_cast<char*>(out), len);
}

std::string to_hex(std::string_view raw) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s(raw.size() * 2, '\0');
  for (size_t i = 0; i < raw.size(); ++i) {
    auto b = static_cast<unsigned char>(raw[i]);
    s[2 * i] = kDigits[b >> 4];
    s[2 * i + 1] = kDigits[b & 15];
  }
  return s;
}

std::string base64_encode(std::string_view raw) {
  static const char kAlpha[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((raw.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= raw.size(); i += 3) {
    uint32_t v = (uint32_t(uint8_t(raw[i])) << 16) | (uint32_t(uint8_t(raw[i + 1])) << 8) |
                 uint8_t(raw[i + 2]);
    out += kAlpha[v >> 18];
    out += kAlpha[(v >> 12) & 63];
    out += kAlpha[(v >> 6) & 63];
    out += kAlpha[v & 63];
  }
  size_t rest = raw.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t(uint8_t(raw[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(raw[i + 1])) << 8;
    out += kAlpha[v >> 18];
    out += kAlpha[(v >> 12) & 63];
    out += rest == 2 ? kAlpha[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1)
    crypto_failure("EVP_DigestInit_ex");
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::update(const char* p, size_t n) {
  if (EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), p, n) != 1)
    crypto_failure("EVP_DigestUpdate");
}

std::string Sha256::final_raw() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &len) != 1)
    crypto_failure("EVP_DigestFinal_ex");
  return std::string(reinterpret_cast<char*>(out), len);
}

}  // namespace s3l
