// Reading /proc/self/mountinfo and removing FUSE mounts, including hung ones.
// Nothing here touches the mountpoint itself (no stat, no realpath of it): on a
// hung FUSE mount that would block forever.
#pragma once
#include <optional>
#include <string>

namespace s3l::test {

struct MountEntry {
  std::string mountpoint;   // unescaped
  unsigned major = 0, minor = 0;
  std::string fstype;       // e.g. "fuse.s3layerfs" or "fuse"
  std::string source;
  bool is_fuse() const { return fstype == "fuse" || fstype.rfind("fuse.", 0) == 0; }
};

// `path` with its parent directory resolved (the last component is kept as is,
// so this never looks at a possibly hung mount).
std::string canonical_mount_path(const std::string& path);
// The topmost mount at `path`, if any.
std::optional<MountEntry> find_mount(const std::string& path);
// Writes 1 to /sys/fs/fuse/connections/<dev>/abort (mounting fusectl there
// first if needed): every pending and future request fails with ENOTCONN, so
// processes stuck on the mount are released. Returns false with a reason.
bool abort_fuse_connection(const MountEntry& m, std::string* why = nullptr);
// Removes the mount at `path` whatever state it is in: `fusermount3 -u`, and
// if that fails or hangs, abort the connection and `fusermount3 -uz`, finally
// umount2(MNT_DETACH). Returns true if nothing is mounted there afterwards.
bool force_unmount(const std::string& path, std::string* log = nullptr);

}  // namespace s3l::test
