// The little XML S3 needs: reading ListObjectsV2 / DeleteObjects / Error
// bodies and writing a DeleteObjects request. S3 responses are flat and never
// nest an element inside one of the same name, which this relies on.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace s3l::store::xml {

// Decodes &amp; &lt; &gt; &quot; &apos; &#N; &#xH; and <![CDATA[...]]>.
// False if an entity is malformed.
bool unescape(std::string_view in, std::string& out);

// Escapes text for element content. False if it holds a character XML 1.0
// cannot carry at all (control characters other than tab, LF, CR).
bool escape(std::string_view in, std::string& out);

// Inner text (still escaped) of every <tag ...>...</tag> or <tag/> in `xml`,
// in order. Does not match longer names that start with `tag`.
std::vector<std::string_view> elements(std::string_view xml, std::string_view tag);

// Unescaped text of the first <tag> in `xml`; `missing` when absent or malformed.
std::string text(std::string_view xml, std::string_view tag, const std::string& missing = "");

// S3 "2024-01-02T03:04:05.000Z" -> ns since the epoch; 0 if unparsable.
int64_t parse_iso8601_ns(std::string_view s);

struct ListedObject {
  std::string key;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};
struct ListPage {
  std::vector<ListedObject> objects;
  bool truncated = false;
  std::string next_token;
};
// Parses a ListObjectsV2 result. Keys are URL-decoded when the response says
// <EncodingType>url</EncodingType>. False (with why) on a malformed body.
bool parse_list_v2(std::string_view body, ListPage& page, std::string& why);

struct S3Error {
  std::string code, message, key, request_id, resource;
};
// An <Error> body (also one <Error> entry of a DeleteObjects result).
S3Error parse_error(std::string_view body);

// <Delete><Quiet>true</Quiet><Object><Key>..</Key></Object>...</Delete>.
// False if a key cannot be written in XML 1.0 (the caller deletes it alone).
bool delete_request(const std::vector<std::string>& keys, std::string& out);

// Keys and errors of a DeleteObjects result.
std::vector<S3Error> parse_delete_errors(std::string_view body);

}  // namespace s3l::store::xml
