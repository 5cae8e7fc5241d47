#include "tests/support/mounts.hpp"

#include <limits.h>
#include <stdlib.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tests/support/process.hpp"

namespace s3l::test {
namespace {

constexpr const char* kFuseCtl = "/sys/fs/fuse/connections";

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        r += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    r += s[i];
  }
  return r;
}

std::optional<MountEntry> parse_line(const std::string& line) {
  // id parent major:minor root mountpoint options [optional fields...] - fstype source superopts
  std::istringstream in(line);
  std::string id, parent, dev, root, mp, opts, tok;
  if (!(in >> id >> parent >> dev >> root >> mp >> opts)) return std::nullopt;
  while (in >> tok && tok != "-") {
  }
  MountEntry e;
  if (!(in >> e.fstype >> e.source)) return std::nullopt;
  e.mountpoint = unescape(mp);
  if (sscanf(dev.c_str(), "%u:%u", &e.major, &e.minor) != 2) return std::nullopt;
  return e;
}

bool fusectl_mounted() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    auto e = parse_line(line);
    if (e && e->fstype == "fusectl") return true;
  }
  return false;
}

void note(std::string* log, const std::string& s) {
  if (log) *log += s + "\n";
}

}  // namespace

std::string canonical_mount_path(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : p.substr(0, slash));
  std::string base = slash == std::string::npos ? p : p.substr(slash + 1);
  char buf[PATH_MAX];
  if (!realpath(dir.c_str(), buf)) return p;
  std::string d = buf;
  return d == "/" ? "/" + base : d + "/" + base;
}

std::optional<MountEntry> find_mount(const std::string& path) {
  const std::string want = canonical_mount_path(path);
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::optional<MountEntry> found;
  while (std::getline(in, line)) {
    auto e = parse_line(line);
    if (e && e->mountpoint == want) found = e;   // later lines are mounted on top
  }
  return found;
}

bool abort_fuse_connection(const MountEntry& m, std::string* why) {
  if (!m.is_fuse()) {
    if (why) *why = m.mountpoint + " is not a FUSE mount (" + m.fstype + ")";
    return false;
  }
  if (!fusectl_mounted() && ::mount("fusectl", kFuseCtl, "fusectl", 0, nullptr) != 0 && errno != EBUSY) {
    if (why) *why = std::string("cannot mount fusectl on ") + kFuseCtl + ": " + std::strerror(errno);
    return false;
  }
  // The connection directory is named after the superblock's kernel dev_t.
  const unsigned long dev = (static_cast<unsigned long>(m.major) << 20) | m.minor;
  const std::string file = std::string(kFuseCtl) + "/" + std::to_string(dev) + "/abort";
  std::ofstream out(file);
  out << "1";
  out.flush();
  if (!out) {
    if (why) *why = "cannot write " + file;
    return false;
  }
  return true;
}

bool force_unmount(const std::string& path, std::string* log) {
  auto m = find_mount(path);
  if (!m) return true;
  try {
    auto r = run({"fusermount3", "-u", path}, milliseconds(10000));
    if (r.code() != 0) note(log, "fusermount3 -u " + path + ": " + r.describe());
    m = find_mount(path);
    if (!m) return true;
    std::string why;
    if (m->is_fuse()) {
      if (abort_fuse_connection(*m, &why)) {
        note(log, "aborted the FUSE connection of " + path);
      } else {
        note(log, "abort failed: " + why);
      }
    }
    r = run({"fusermount3", "-uz", path}, milliseconds(10000));
    if (r.code() != 0) note(log, "fusermount3 -uz " + path + ": " + r.describe());
  } catch (const std::exception& e) {
    note(log, e.what());
  }
  if (find_mount(path) && ::umount2(path.c_str(), MNT_DETACH) != 0) {
    note(log, "umount2(MNT_DETACH) " + path + ": " + std::strerror(errno));
  }
  return !find_mount(path);
}

}  // namespace s3l::test
