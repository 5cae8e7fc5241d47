#define BOOST_TEST_MODULE store_block_key
#include <boost/test/unit_test.hpp>

#include "store/block_key.hpp"

using namespace s3l::store;

BOOST_AUTO_TEST_CASE(layout_examples) {
  BOOST_TEST(block_key("vol", 0, 0, 4096) == "vol/chunks/0/0/0_0_4096");
  BOOST_TEST(block_key("vol", 1234567, 3, 4194304) == "vol/chunks/1/1234/1234567_3_4194304");
  BOOST_TEST(block_key("a/b", 999, 0, 1) == "a/b/chunks/0/0/999_0_1");
  BOOST_TEST(settings_key("vol") == "vol/s3layerfs.json");
  BOOST_TEST(chunks_prefix("vol") == "vol/chunks/");
  BOOST_TEST(block_key("vol", 5, 1, 2).rfind(chunks_prefix("vol"), 0) == 0u);
}

BOOST_AUTO_TEST_CASE(round_trip) {
  const uint64_t ids[] = {0, 1, 999, 1000, 999999, 1000000, 123456789012ull, UINT64_MAX};
  for (uint64_t id : ids) {
    for (uint32_t index : {0u, 7u, UINT32_MAX}) {
      std::string k = block_key("my/vol", id, index, 4194304);
      auto p = parse_block_key(k);
      BOOST_TEST_REQUIRE(p.ok(), k << ": " << p.msg());
      BOOST_TEST(p->volume == "my/vol");
      BOOST_TEST(p->slice_id == id);
      BOOST_TEST(p->index == index);
      BOOST_TEST(p->size == 4194304u);
      BOOST_TEST(block_key(*p) == k);
    }
  }
}

BOOST_AUTO_TEST_CASE(rejects_non_block_keys) {
  const char* bad[] = {
      "",
      "vol/s3layerfs.json",
      "vol/chunks/0/0/1_0",            // missing size
      "vol/chunks/0/0/1_0_4_5",        // extra field
      "vol/chunks/0/0/01_0_4",         // non-canonical number
      "vol/chunks/0/0/-1_0_4",
      "vol/chunks/0/1/1_0_4",          // level does not match id
      "vol/chunks/1/1000/1000_0_4",    // id/1e6 is 0, not 1
      "vol/chunkz/0/0/1_0_4",
      "/chunks/0/0/1_0_4",             // empty volume
      "chunks/0/0/1_0_4",
      "vol/chunks/0/0/1_0_4294967296", // size > uint32
      "vol/chunks/0/0/1_0_4/",
      "vol/chunks/0/0/99999999999999999999_0_4",  // overflow
  };
  for (const char* k : bad) {
    auto p = parse_block_key(k);
    BOOST_TEST(!p.ok(), "accepted '" << k << "'");
    if (!p.ok()) {
      BOOST_TEST(p.err() == EINVAL);
      BOOST_TEST(p.msg().find(k) != std::string::npos);
    }
  }
}
