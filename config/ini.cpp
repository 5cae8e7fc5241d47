#include "config/ini.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

namespace s3l::config {
namespace {

std::string trim(const std::string& s) {
  const char* ws = " \t";
  auto b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(ws) - b + 1);
}

Status at(const std::string& path, int line, const std::string& msg) {
  return Status::Error(EINVAL, path + ":" + std::to_string(line) + ": " + msg);
}

// The value part after '=': either "quoted" (kept verbatim) or bare, where a
// '#' or ';' preceded by whitespace starts a comment.
Result<std::string> parse_value(const std::string& raw, const std::string& path, int line,
                                const std::string& key) {
  std::string v = trim(raw);
  if (!v.empty() && v[0] == '"') {
    auto close = v.find('"', 1);
    if (close == std::string::npos) return at(path, line, "key '" + key + "': missing closing quote");
    std::string after = trim(v.substr(close + 1));
    if (!after.empty() && after[0] != '#' && after[0] != ';')
      return at(path, line, "key '" + key + "': unexpected text after the closing quote");
    return v.substr(1, close - 1);
  }
  for (size_t i = 1; i < v.size(); ++i)
    if ((v[i] == '#' || v[i] == ';') && (v[i - 1] == ' ' || v[i - 1] == '\t')) {
      v = trim(v.substr(0, i));
      break;
    }
  return v;
}

}  // namespace

Result<IniFile> parse_ini(const std::string& path, const std::string& text) {
  IniFile file;
  file.path = path;
  std::map<std::string, int> section_lines;
  std::map<std::string, int> key_lines;   // keys of the current section
  int lineno = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    std::string raw = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = (nl == std::string::npos) ? text.size() : nl + 1;
    ++lineno;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    if (raw.find('\0') != std::string::npos) return at(path, lineno, "NUL byte in line (is this a text file?)");
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;

    if (line[0] == '[') {
      auto close = line.find(']');
      std::string after = close == std::string::npos ? "" : trim(line.substr(close + 1));
      if (close == std::string::npos || (!after.empty() && after[0] != '#' && after[0] != ';'))
        return at(path, lineno, "malformed section header '" + line + "' (expected [name])");
      std::string name = trim(line.substr(1, close - 1));
      if (name.empty()) return at(path, lineno, "empty section name");
      auto [it, fresh] = section_lines.emplace(name, lineno);
      if (!fresh)
        return at(path, lineno, "section [" + name + "] appears twice (first at line " + std::to_string(it->second) + ")");
      file.sections.push_back({name, lineno, {}});
      key_lines.clear();
      continue;
    }

    auto eq = line.find('=');
    if (eq == std::string::npos) return at(path, lineno, "malformed line '" + line + "' (expected key = value or [section])");
    std::string key = trim(line.substr(0, eq));
    if (key.empty()) return at(path, lineno, "malformed line '" + line + "': no key before '='");
    if (file.sections.empty()) return at(path, lineno, "key '" + key + "' outside of any section (add e.g. [mount] above it)");
    auto value = parse_value(line.substr(eq + 1), path, lineno, key);
    if (!value.ok()) return value.status;
    if (value->empty()) return at(path, lineno, "key '" + key + "' has an empty value");
    auto [it, fresh] = key_lines.emplace(key, lineno);
    if (!fresh)
      return at(path, lineno, "key '" + key + "' appears twice in [" + file.sections.back().name +
                                  "] (first at line " + std::to_string(it->second) + ")");
    file.sections.back().entries.push_back({key, *value, lineno});
  }
  return file;
}

Result<IniFile> read_ini_file(const std::string& path) {
  auto fail = [&](const std::string& why) {
    return Status::Error(EINVAL, "cannot read config file " + path + ": " + why);
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(std::strerror(errno));
  std::string text;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      return fail(std::strerror(e));
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxConfigFileBytes) {
      ::close(fd);
      return fail("larger than " + std::to_string(kMaxConfigFileBytes) + " bytes");
    }
  }
  ::close(fd);
  return parse_ini(path, text);
}

}  // namespace s3l::config
