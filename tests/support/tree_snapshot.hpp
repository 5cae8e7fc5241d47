// A comparable picture of a directory tree as seen through ordinary syscalls:
// used to check that everything is identical after unmount and remount.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>

namespace s3l::test {

struct NodeInfo {
  uint64_t ino = 0;
  mode_t mode = 0;          // type and permission bits
  uid_t uid = 0;
  gid_t gid = 0;
  uint64_t nlink = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::string content_hash;   // regular files
  std::string link_target;    // symlinks
  std::string describe() const;
};

// Relative path ("" is the root itself) -> what lstat/read/readlink report.
// Throws std::runtime_error on any failing syscall.
using TreeSnapshot = std::map<std::string, NodeInfo>;
TreeSnapshot snapshot_tree(const std::string& root);

// "" if identical, else up to `max_lines` differences, one per line.
std::string diff_snapshots(const TreeSnapshot& before, const TreeSnapshot& after, size_t max_lines = 20);

}  // namespace s3l::test
