// The libfuse3 low-level operation table, bound to a Vfs.
#pragma once
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

namespace s3l { class Vfs; }

namespace s3l::fuse {
fuse_lowlevel_ops make_ops();
// The userdata given to fuse_session_new: which Vfs, and the cache timeouts.
// The Vfs pointer may be set later (set_vfs), before the loop starts.
void* make_userdata(Vfs* vfs, double attr_timeout, double entry_timeout);
void set_vfs(void* userdata, Vfs* vfs);
void free_userdata(void* userdata);
void set_session(void* userdata, fuse_session* se);
}  // namespace s3l::fuse
