// A strict reader for the INI-like config file (syntax only; which sections
// and keys exist is decided by cli.cpp). See docs/configuration.md.
#pragma once
#include <string>
#include <vector>

#include "util/result.hpp"

namespace s3l::config {

struct IniEntry {
  std::string key;
  std::string value;
  int line = 0;
};

struct IniSection {
  std::string name;
  int line = 0;
  std::vector<IniEntry> entries;
};

struct IniFile {
  std::string path;
  std::vector<IniSection> sections;   // in file order, each name at most once
};

constexpr size_t kMaxConfigFileBytes = 1u << 20;   // a config file is small; refuse /dev/zero

// Parse text that came from `path` (used only in messages "path:line: ...").
Result<IniFile> parse_ini(const std::string& path, const std::string& text);

// Read and parse a file. Missing/unreadable/too large -> EINVAL with the reason.
Result<IniFile> read_ini_file(const std::string& path);

}  // namespace s3l::config
