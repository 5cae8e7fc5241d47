#include "store/s3_xml.hpp"

#include <cstdlib>
#include <ctime>

namespace s3l::store::xml {
namespace {

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoding for EncodingType=url keys ('+' is a space in that encoding).
bool url_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size()) return false;
      int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
      if (h < 0 || l < 0) return false;
      out += static_cast<char>(h * 16 + l);
      i += 2;
    } else if (in[i] == '+') {
      out += ' ';
    } else {
      out += in[i];
    }
  }
  return true;
}

bool parse_u64(std::string_view s, uint64_t& v) {
  if (s.empty()) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

}  // namespace

bool unescape(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size();) {
    char c = in[i];
    if (c == '<' && in.substr(i, 9) == "<![CDATA[") {
      size_t end = in.find("]]>", i + 9);
      if (end == std::string_view::npos) return false;
      out.append(in.substr(i + 9, end - i - 9));
      i = end + 3;
      continue;
    }
    if (c != '&') {
      out += c;
      ++i;
      continue;
    }
    size_t semi = in.find(';', i);
    if (semi == std::string_view::npos || semi - i > 12) return false;
    std::string_view ent = in.substr(i + 1, semi - i - 1);
    if (ent == "amp") out += '&';
    else if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else if (ent.size() >= 2 && ent[0] == '#') {
      uint32_t cp = 0;
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      std::string_view digits = ent.substr(hex ? 2 : 1);
      if (digits.empty()) return false;
      for (char d : digits) {
        int v = hex ? hexval(d) : (d >= '0' && d <= '9' ? d - '0' : -1);
        if (v < 0) return false;
        cp = cp * (hex ? 16 : 10) + static_cast<uint32_t>(v);
        if (cp > 0x10FFFF) return false;
      }
      append_utf8(cp, out);
    } else {
      return false;
    }
    i = semi + 1;
  }
  return true;
}

bool escape(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size() + 16);
  for (char c : in) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      case '\t': out += "&#9;"; break;
      case '\n': out += "&#10;"; break;
      case '\r': out += "&#13;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) return false;
        out += c;
    }
  }
  return true;
}

std::vector<std::string_view> elements(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  const std::string open = "<" + std::string(tag);
  const std::string close = "</" + std::string(tag) + ">";
  size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    size_t after = pos + open.size();
    if (after >= xml.size()) break;
    char next = xml[after];
    if (next != '>' && next != ' ' && next != '/' && next != '\t' && next != '\n' && next != '\r') {
      pos = after;          // a longer name, e.g. <KeyCount> when looking for <Key>
      continue;
    }
    size_t gt = xml.find('>', after);
    if (gt == std::string_view::npos) break;
    if (xml[gt - 1] == '/') {   // <tag/>
      out.emplace_back();
      pos = gt + 1;
      continue;
    }
    size_t end = xml.find(close, gt + 1);
    if (end == std::string_view::npos) break;
    out.push_back(xml.substr(gt + 1, end - gt - 1));
    pos = end + close.size();
  }
  return out;
}

std::string text(std::string_view xml, std::string_view tag, const std::string& missing) {
  auto e = elements(xml, tag);
  std::string out;
  if (e.empty() || !unescape(e.front(), out)) return missing;
  return out;
}

int64_t parse_iso8601_ns(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff]Z
  if (s.size() < 20) return 0;
  std::tm tm{};
  auto num = [&](size_t off, size_t n) { return std::atoi(std::string(s.substr(off, n)).c_str()); };
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return 0;
  int64_t ns = 0;
  if (s.size() > 20 && s[19] == '.') {
    int64_t scale = 100000000;
    for (size_t i = 20; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10)
      ns += (s[i] - '0') * scale;
  }
  return int64_t(timegm(&tm)) * 1000000000 + ns;
}

bool parse_list_v2(std::string_view body, ListPage& page, std::string& why) {
  page = ListPage{};
  if (elements(body, "ListBucketResult").empty()) {
    why = "not a ListBucketResult";
    return false;
  }
  const bool url = text(body, "EncodingType") == "url";
  for (std::string_view c : elements(body, "Contents")) {
    auto keys = elements(c, "Key");
    auto sizes = elements(c, "Size");
    ListedObject o;
    std::string raw;
    uint64_t size = 0;
    if (keys.size() != 1 || sizes.size() != 1 || !unescape(keys[0], raw) ||
        !parse_u64(sizes[0], size)) {
      why = "malformed <Contents> entry";
      return false;
    }
    if (url) {
      if (!url_decode(raw, o.key)) {
        why = "malformed url-encoded key";
        return false;
      }
    } else {
      o.key = std::move(raw);
    }
    o.size = size;
    o.mtime_ns = parse_iso8601_ns(text(c, "LastModified"));
    page.objects.push_back(std::move(o));
  }
  page.truncated = text(body, "IsTruncated") == "true";
  page.next_token = text(body, "NextContinuationToken");
  if (page.truncated && page.next_token.empty()) {
    why = "truncated listing without a continuation token";
    return false;
  }
  return true;
}

S3Error parse_error(std::string_view body) {
  S3Error e;
  e.code = text(body, "Code");
  e.message = text(body, "Message");
  e.key = text(body, "Key");
  e.request_id = text(body, "RequestId");
  e.resource = text(body, "Resource");
  return e;
}

bool delete_request(const std::vector<std::string>& keys, std::string& out) {
  out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>";
  std::string esc;
  for (const auto& k : keys) {
    if (!escape(k, esc)) return false;
    out += "<Object><Key>" + esc + "</Key></Object>";
  }
  out += "</Delete>";
  return true;
}

std::vector<S3Error> parse_delete_errors(std::string_view body) {
  std::vector<S3Error> out;
  for (std::string_view e : elements(body, "Error")) out.push_back(parse_error(e));
  return out;
}

}  // namespace s3l::store::xml
