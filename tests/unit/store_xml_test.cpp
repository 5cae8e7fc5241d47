#define BOOST_TEST_MODULE store_xml
#include <boost/test/unit_test.hpp>

#include "store/s3_xml.hpp"

using namespace s3l::store;

// Bodies shaped like AWS S3's own answers (escaping as S3 does it).
BOOST_AUTO_TEST_CASE(list_v2_with_escaped_keys_and_continuation) {
  const std::string body =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<Name>b</Name><Prefix>p/</Prefix><KeyCount>3</KeyCount><MaxKeys>1000</MaxKeys>"
      "<IsTruncated>true</IsTruncated>"
      "<Contents><Key>p/a&amp;b &lt;c&gt; &quot;d&quot; &apos;e&apos;</Key>"
      "<LastModified>2024-01-02T03:04:05.678Z</LastModified><ETag>&quot;x&quot;</ETag>"
      "<Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>"
      "<Contents><Key>p/tab&#9;nl&#10;&#x20AC;</Key><Size>0</Size></Contents>"
      "<Contents>\n  <Key>p/plain</Key>\n  <Size>4194304</Size>\n</Contents>"
      "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>"
      "</ListBucketResult>";
  xml::ListPage page;
  std::string why;
  BOOST_TEST_REQUIRE(xml::parse_list_v2(body, page, why), why);
  BOOST_TEST_REQUIRE(page.objects.size() == 3u);
  BOOST_TEST(page.objects[0].key == "p/a&b <c> \"d\" 'e'");
  BOOST_TEST(page.objects[0].size == 12u);
  BOOST_TEST(page.objects[0].mtime_ns == 1704164645678000000ll);
  BOOST_TEST(page.objects[1].key == "p/tab\tnl\n\xe2\x82\xac");
  BOOST_TEST(page.objects[2].key == "p/plain");
  BOOST_TEST(page.objects[2].size == 4194304u);
  BOOST_TEST(page.truncated);
  BOOST_TEST(page.next_token == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

BOOST_AUTO_TEST_CASE(list_v2_url_encoded_keys) {
  const std::string body =
      "<ListBucketResult><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>"
      "<Contents><Key>p/a+b%2Bc%25d%E2%82%AC%0A</Key><Size>1</Size></Contents>"
      "</ListBucketResult>";
  xml::ListPage page;
  std::string why;
  BOOST_TEST_REQUIRE(xml::parse_list_v2(body, page, why), why);
  BOOST_TEST_REQUIRE(page.objects.size() == 1u);
  BOOST_TEST(page.objects[0].key == "p/a b+c%d\xe2\x82\xac\n");
  BOOST_TEST(!page.truncated);
}

BOOST_AUTO_TEST_CASE(list_v2_empty_and_malformed) {
  xml::ListPage page;
  std::string why;
  BOOST_TEST(xml::parse_list_v2("<ListBucketResult><KeyCount>0</KeyCount>"
                                "<IsTruncated>false</IsTruncated></ListBucketResult>",
                                page, why));
  BOOST_TEST(page.objects.empty());
  BOOST_TEST(!xml::parse_list_v2("<html>proxy error</html>", page, why));
  BOOST_TEST(!xml::parse_list_v2("<ListBucketResult><Contents><Key>a</Key></Contents>"
                                 "</ListBucketResult>", page, why));   // no size
  BOOST_TEST(!xml::parse_list_v2("<ListBucketResult><Contents><Key>a&bogus;</Key><Size>1</Size>"
                                 "</Contents></ListBucketResult>", page, why));
  BOOST_TEST(!xml::parse_list_v2("<ListBucketResult><IsTruncated>true</IsTruncated>"
                                 "</ListBucketResult>", page, why));   // no token
  BOOST_TEST(why.find("continuation") != std::string::npos, why);
}

BOOST_AUTO_TEST_CASE(elements_do_not_match_longer_names) {
  auto e = xml::elements("<KeyCount>2</KeyCount><Key>a</Key><Key/><Key attr=\"1\">b</Key>", "Key");
  BOOST_TEST_REQUIRE(e.size() == 3u);
  BOOST_TEST(e[0] == "a");
  BOOST_TEST(e[1] == "");
  BOOST_TEST(e[2] == "b");
}

BOOST_AUTO_TEST_CASE(error_bodies) {
  auto e = xml::parse_error(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
      "<Message>The resource you requested does not exist</Message>"
      "<Key>dir/a&amp;b</Key><Resource>/b/dir/a&amp;b</Resource>"
      "<RequestId>4442587FB7D0A2F9</RequestId></Error>");
  BOOST_TEST(e.code == "NoSuchKey");
  BOOST_TEST(e.message == "The resource you requested does not exist");
  BOOST_TEST(e.key == "dir/a&b");
  BOOST_TEST(e.request_id == "4442587FB7D0A2F9");
  auto none = xml::parse_error("");
  BOOST_TEST(none.code.empty());
}

BOOST_AUTO_TEST_CASE(delete_objects_request_and_result) {
  std::string body;
  BOOST_TEST_REQUIRE(xml::delete_request({"a", "b&c", "d<e>", "q\"'", "t\tn\n"}, body));
  BOOST_TEST(body.find("<Quiet>true</Quiet>") != std::string::npos);
  BOOST_TEST(body.find("<Key>b&amp;c</Key>") != std::string::npos);
  BOOST_TEST(body.find("<Key>d&lt;e&gt;</Key>") != std::string::npos);
  BOOST_TEST(body.find("<Key>q&quot;&apos;</Key>") != std::string::npos);
  BOOST_TEST(body.find("<Key>t&#9;n&#10;</Key>") != std::string::npos);
  BOOST_TEST(!xml::delete_request({std::string("bell\x07")}, body));   // not representable

  auto errs = xml::parse_delete_errors(
      "<DeleteResult><Deleted><Key>a</Key></Deleted>"
      "<Error><Key>b&amp;c</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
      "</DeleteResult>");
  BOOST_TEST_REQUIRE(errs.size() == 1u);
  BOOST_TEST(errs[0].key == "b&c");
  BOOST_TEST(errs[0].code == "AccessDenied");
}

BOOST_AUTO_TEST_CASE(escape_round_trip) {
  std::string all, esc, back;
  for (int c = 0x20; c < 0x100; ++c) all += static_cast<char>(c);
  all += "\t\n\r";
  BOOST_TEST_REQUIRE(xml::escape(all, esc));
  BOOST_TEST_REQUIRE(xml::unescape(esc, back));
  BOOST_TEST((back == all));
  BOOST_TEST(xml::unescape("<![CDATA[a<b&c]]>!", back));
  BOOST_TEST(back == "a<b&c!");
  BOOST_TEST(xml::unescape("&#128512;", back));
  BOOST_TEST(back == "\xf0\x9f\x98\x80");
  BOOST_TEST(!xml::unescape("&#xZZ;", back));
  BOOST_TEST(!xml::unescape("a & b", back));
}
