#include "fuse/session.hpp"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "fuse/fuse_ops.hpp"

namespace s3l::fuse {

namespace {
// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mountinfo(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (int k = 1; k <= 3; ++k) {
        char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out.push_back(static_cast<char>(v));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}
}  // namespace

bool is_mounted(const std::string& path) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string id, parent, dev, root, mnt;
    if (ls >> id >> parent >> dev >> root >> mnt && unescape_mountinfo(mnt) == path) return true;
  }
  return false;
}

Result<std::unique_ptr<Session>> Session::mount(const SessionOptions& o) {
  std::unique_ptr<Session> s(new Session());
  s->opts_ = o;
  std::string mopts = "fsname=" + o.fsname + ",subtype=s3layerfs";
  if (o.default_permissions) mopts += ",default_permissions";
  if (o.allow_other) mopts += ",allow_other";
  std::vector<std::string> argv_s = {"s3layerfs-daemon", "-o", mopts};
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  fuse_lowlevel_ops ops = make_ops();
  s->userdata_ = make_userdata(nullptr, o.attr_timeout, o.entry_timeout);
  s->se_ = fuse_session_new(&args, &ops, sizeof ops, s->userdata_);
  if (!s->se_) return Status::Error(EINVAL, "cannot create the FUSE session (bad mount options?)");
  set_session(s->userdata_, s->se_);
  if (fuse_set_signal_handlers(s->se_) != 0)
    return Status::Error(EIO, "cannot install signal handlers");
  s->signals_ = true;
  if (fuse_session_mount(s->se_, o.mountpoint.c_str()) != 0)
    return Status::Error(EIO, "cannot mount on " + o.mountpoint +
                                  " (is /dev/fuse available and fusermount3 installed?)");
  s->mounted_ = true;
  return s;
}

void Session::attach(Vfs* vfs) { set_vfs(userdata_, vfs); }

int Session::run() {
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  fuse_loop_cfg_set_max_threads(cfg, opts_.threads);
  fuse_loop_cfg_set_idle_threads(cfg, opts_.threads / 2 + 1);
  int rc = fuse_session_loop_mt(se_, cfg);
  fuse_loop_cfg_destroy(cfg);
  return rc;
}

void Session::unmount() {
  if (se_ && mounted_) {
    fuse_session_unmount(se_);
    mounted_ = false;
  }
}

Session::~Session() {
  unmount();
  if (se_) {
    if (signals_) fuse_remove_signal_handlers(se_);
    fuse_session_destroy(se_);
  }
  if (userdata_) free_userdata(userdata_);
}

}  // namespace s3l::fuse
