// The FUSE session of a mount: mount the kernel filesystem, run the
// multi-threaded request loop until unmount or a signal, unmount.
#pragma once
#include <memory>
#include <string>

#include "util/result.hpp"

struct fuse_session;

namespace s3l { class Vfs; }

namespace s3l::fuse {

struct SessionOptions {
  std::string mountpoint;     // absolute
  std::string fsname;         // shown in /proc/mounts, e.g. "s3layerfs:vol"
  bool allow_other = false;
  bool default_permissions = true;
  unsigned threads = 16;
  double attr_timeout = 1.0;
  double entry_timeout = 1.0;
};

class Session {
 public:
  // Creates the session and mounts it. The Vfs may be attached later, but
  // before run(): requests wait in the kernel until the loop starts.
  static Result<std::unique_ptr<Session>> mount(const SessionOptions& o);
  ~Session();
  void attach(Vfs* vfs);
  // Serves requests until the filesystem is unmounted (fusermount3 -u) or
  // SIGINT/SIGTERM/SIGHUP arrives. Returns the loop's status.
  int run();
  // Unmounts if still mounted (after a signal). Idempotent.
  void unmount();

 private:
  Session() = default;
  SessionOptions opts_;
  ::fuse_session* se_ = nullptr;
  void* userdata_ = nullptr;
  bool mounted_ = false;
  bool signals_ = false;
};

// Is `path` currently a mount point (listed in /proc/self/mountinfo)?
bool is_mounted(const std::string& path);

}  // namespace s3l::fuse
