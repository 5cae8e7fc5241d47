#include "tests/support/tree_snapshot.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "tests/support/fs_util.hpp"

namespace s3l::test {
namespace {

std::string hash_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw std::runtime_error("open " + path + ": " + errno_name(errno));
  Hasher h;
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      throw std::runtime_error("read " + path + ": " + errno_name(e));
    }
    if (n == 0) break;
    h.update(buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return hex64(h.digest()) + "/" + std::to_string(total);
}

void walk(const std::string& root, const std::string& rel, TreeSnapshot& out) {
  const std::string path = rel.empty() ? root : root + "/" + rel;
  struct stat st = lstat_path(path);
  NodeInfo n;
  n.ino = st.st_ino;
  n.mode = st.st_mode;
  n.uid = st.st_uid;
  n.gid = st.st_gid;
  n.nlink = st.st_nlink;
  n.size = static_cast<uint64_t>(st.st_size);
  n.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (S_ISREG(st.st_mode)) {
    n.content_hash = hash_file(path);
  } else if (S_ISLNK(st.st_mode)) {
    std::vector<char> buf(4097);
    ssize_t len = ::readlink(path.c_str(), buf.data(), buf.size());
    if (len < 0) throw std::runtime_error("readlink " + path + ": " + errno_name(errno));
    n.link_target.assign(buf.data(), static_cast<size_t>(len));
  }
  out[rel] = n;
  if (!S_ISDIR(st.st_mode)) return;
  DIR* d = ::opendir(path.c_str());
  if (!d) throw std::runtime_error("opendir " + path + ": " + errno_name(errno));
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
    errno = 0;
  }
  int e = errno;
  ::closedir(d);
  if (e != 0) throw std::runtime_error("readdir " + path + ": " + errno_name(e));
  for (const auto& name : names) walk(root, rel.empty() ? name : rel + "/" + name, out);
}

}  // namespace

std::string NodeInfo::describe() const {
  char m[16];
  snprintf(m, sizeof m, "%06o", static_cast<unsigned>(mode));
  std::string s = "ino " + std::to_string(ino) + " mode " + m + " uid " + std::to_string(uid) + " gid " +
                  std::to_string(gid) + " nlink " + std::to_string(nlink) + " size " + std::to_string(size) +
                  " mtime_ns " + std::to_string(mtime_ns);
  if (!content_hash.empty()) s += " content " + content_hash;
  if (S_ISLNK(mode)) s += " -> '" + link_target + "'";
  return s;
}

TreeSnapshot snapshot_tree(const std::string& root) {
  TreeSnapshot out;
  walk(root, "", out);
  return out;
}

std::string diff_snapshots(const TreeSnapshot& before, const TreeSnapshot& after, size_t max_lines) {
  std::string out;
  size_t lines = 0, total = 0;
  auto add = [&](const std::string& s) {
    ++total;
    if (lines++ < max_lines) out += s + "\n";
  };
  for (const auto& [path, a] : before) {
    auto it = after.find(path);
    const std::string name = "'/" + path + "'";
    if (it == after.end()) {
      add(name + " is gone (was " + a.describe() + ")");
    } else if (a.describe() != it->second.describe()) {
      add(name + " changed:\n    before " + a.describe() + "\n    after  " + it->second.describe());
    }
  }
  for (const auto& [path, b] : after) {
    if (!before.count(path)) add("'/" + path + "' appeared (" + b.describe() + ")");
  }
  if (total > max_lines) out += "... and " + std::to_string(total - max_lines) + " more differences\n";
  return out;
}

}  // namespace s3l::test
