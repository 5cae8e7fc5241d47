#define BOOST_TEST_MODULE sha256
#include <boost/test/unit_test.hpp>

#include <string>

#include "util/sha256.hpp"

using namespace s3l;

// Published vectors: FIPS 180-2 appendix B, RFC 4231-style HMAC example, RFC 4648 base64.
BOOST_AUTO_TEST_CASE(sha256_known_vectors) {
  BOOST_TEST(sha256_hex("") ==
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(sha256_hex("abc") ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string million(1000000, 'a');
  BOOST_TEST(sha256_hex(million) ==
             "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  BOOST_TEST(sha256_raw("abc").size() == 32u);
  BOOST_TEST(to_hex(sha256_raw("abc")) == sha256_hex("abc"));
}

BOOST_AUTO_TEST_CASE(sha256_incremental_matches_one_shot) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data += static_cast<char>(i * 7);
  Sha256 h;
  for (size_t off = 0; off < data.size(); off += 4093)
    h.update(data.data() + off, std::min<size_t>(4093, data.size() - off));
  BOOST_TEST(h.final_hex() == sha256_hex(data));
}

BOOST_AUTO_TEST_CASE(hmac_sha256_known_vectors) {
  BOOST_TEST(to_hex(hmac_sha256("key", "The quick brown fox jumps over the lazy dog")) ==
             "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
  // RFC 4231 test case 2.
  BOOST_TEST(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")) ==
             "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

BOOST_AUTO_TEST_CASE(md5_and_base64) {
  BOOST_TEST(to_hex(md5_raw("hello", 5)) == "5d41402abc4b2a76b9719d911017c592");
  BOOST_TEST(base64_encode(md5_raw("hello", 5)) == "XUFAKrxLKna5cZ2REBfFkg==");
  BOOST_TEST(base64_encode("") == "");
  BOOST_TEST(base64_encode("f") == "Zg==");
  BOOST_TEST(base64_encode("fo") == "Zm8=");
  BOOST_TEST(base64_encode("foo") == "Zm9v");
  BOOST_TEST(base64_encode("foobar") == "Zm9vYmFy");
}
