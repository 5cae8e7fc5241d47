// libfuse3 low-level callbacks: decode the request, call the VFS, reply.
// Each callback runs on a libfuse worker thread and replies exactly once.
#include "fuse/fuse_ops.hpp"

#include <spdlog/spdlog.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include "meta/types.hpp"
#include "vfs/vfs.hpp"

namespace s3l::fuse {

namespace {

struct Ctx {
  Vfs* vfs;
  double attr_timeout;
  double entry_timeout;
  fuse_session* se = nullptr;
};

Ctx& ctx(fuse_req_t req) { return *static_cast<Ctx*>(fuse_req_userdata(req)); }
Vfs& vfs(fuse_req_t req) { return *ctx(req).vfs; }

struct stat to_stat(const meta::Attr& a) {
  struct stat st;
  std::memset(&st, 0, sizeof st);
  st.st_ino = a.ino;
  st.st_mode = a.mode;
  st.st_nlink = a.nlink;
  st.st_uid = a.uid;
  st.st_gid = a.gid;
  st.st_size = static_cast<off_t>(a.size);
  st.st_rdev = a.rdev;
  st.st_blksize = 4096;
  st.st_blocks = static_cast<blkcnt_t>((a.size + 511) / 512);
  st.st_atim.tv_sec = a.atime_ns / 1000000000;
  st.st_atim.tv_nsec = a.atime_ns % 1000000000;
  st.st_mtim.tv_sec = a.mtime_ns / 1000000000;
  st.st_mtim.tv_nsec = a.mtime_ns % 1000000000;
  st.st_ctim.tv_sec = a.ctime_ns / 1000000000;
  st.st_ctim.tv_nsec = a.ctime_ns % 1000000000;
  return st;
}

fuse_entry_param to_entry(fuse_req_t req, const meta::Attr& a) {
  fuse_entry_param e;
  std::memset(&e, 0, sizeof e);
  e.ino = a.ino;
  e.generation = 1;  // inode numbers are never reused
  e.attr = to_stat(a);
  e.attr_timeout = ctx(req).attr_timeout;
  e.entry_timeout = ctx(req).entry_timeout;
  return e;
}

void reply_err(fuse_req_t req, const Status& s) {
  if (s.err == EIO) spdlog::warn("EIO: {}", s.msg);
  else spdlog::debug("errno {}: {}", s.err, s.msg);
  fuse_reply_err(req, s.err ? s.err : EIO);
}

void reply_entry(fuse_req_t req, const Result<meta::Attr>& r) {
  if (!r.ok()) return reply_err(req, r.status);
  fuse_entry_param e = to_entry(req, r.value);
  fuse_reply_entry(req, &e);
}

bool name_ok(fuse_req_t req, const char* name) {
  if (std::strlen(name) > meta::kMaxNameLen) {
    fuse_reply_err(req, ENAMETOOLONG);
    return false;
  }
  return true;
}

int64_t ts_ns(const struct timespec& t) {
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// ---- callbacks ----

// lookup, create, mknod, mkdir and symlink reply from the callback of an
// async VFS call (on a meta actor's thread): this thread goes back to
// reading requests instead of sleeping until the answer.
// A negative entry lets the kernel cache "does not exist" for `timeout_s`.
void reply_absent(fuse_req_t req, double timeout_s) {
  fuse_entry_param e;
  std::memset(&e, 0, sizeof e);
  e.entry_timeout = timeout_s;
  fuse_reply_entry(req, &e);
}

void op_lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (!name_ok(req, name)) return;
  // Known absent from a recent listing of the directory: no database round
  // trip, and the kernel keeps the answer only for what is left of it.
  if (auto left_ns = vfs(req).known_absent(parent, name))
    return reply_absent(req, std::min(ctx(req).entry_timeout, static_cast<double>(*left_ns) / 1e9));
  // From a lookup window (a run of lookups in name order): the same, and
  // the attributes too only for what is left of their timeout.
  if (auto hit = vfs(req).lookup_from_window(parent, name)) {
    const double entry_left = std::min(ctx(req).entry_timeout, static_cast<double>(hit->entry_left_ns) / 1e9);
    if (!hit->attr) return reply_absent(req, entry_left);
    fuse_entry_param e = to_entry(req, *hit->attr);
    e.entry_timeout = entry_left;
    e.attr_timeout = std::min(ctx(req).attr_timeout, static_cast<double>(hit->attr_left_ns) / 1e9);
    fuse_reply_entry(req, &e);
    return;
  }
  vfs(req).lookup_async(parent, name, [req](Result<meta::Attr> r) {
    if (!r.ok() && r.err() == ENOENT) return reply_absent(req, ctx(req).entry_timeout);
    reply_entry(req, r);
  });
}

void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  vfs(req).forget(ino, nlookup);
  fuse_reply_none(req);
}

void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) vfs(req).forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void op_getattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  int64_t cached_valid_ns = -1;
  auto r = vfs(req).getattr(ino, &cached_valid_ns);
  if (!r.ok()) return reply_err(req, r.status);
  struct stat st = to_stat(r.value);
  // From the VFS's directory cache: the kernel may keep it only for what is
  // left of the timeout, so the answer is never older than the timeout.
  const double timeout = cached_valid_ns >= 0 ? static_cast<double>(cached_valid_ns) / 1e9 : ctx(req).attr_timeout;
  fuse_reply_attr(req, &st, timeout);
}

void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  meta::SetAttr a;
  if (to_set & FUSE_SET_ATTR_MODE) {
    a.mask |= meta::kSetMode;
    a.mode = attr->st_mode & 07777;
  }
  if (to_set & FUSE_SET_ATTR_UID) {
    a.mask |= meta::kSetUid;
    a.uid = attr->st_uid;
  }
  if (to_set & FUSE_SET_ATTR_GID) {
    a.mask |= meta::kSetGid;
    a.gid = attr->st_gid;
  }
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) a.mask |= meta::kSetAtimeNow;
  else if (to_set & FUSE_SET_ATTR_ATIME) {
    a.mask |= meta::kSetAtime;
    a.atime_ns = ts_ns(attr->st_atim);
  }
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) a.mask |= meta::kSetMtimeNow;
  else if (to_set & FUSE_SET_ATTR_MTIME) {
    a.mask |= meta::kSetMtime;
    a.mtime_ns = ts_ns(attr->st_mtim);
  }
  if (to_set & FUSE_SET_ATTR_CTIME) {
    a.mask |= meta::kSetCtime;
    a.ctime_ns = ts_ns(attr->st_ctim);
  }
  bool size_valid = (to_set & FUSE_SET_ATTR_SIZE) != 0;
  if (size_valid && attr->st_size < 0) { fuse_reply_err(req, EINVAL); return; }
  auto r = vfs(req).setattr(ino, a, size_valid, static_cast<uint64_t>(attr->st_size));
  if (!r.ok()) return reply_err(req, r.status);
  struct stat st = to_stat(r.value);
  fuse_reply_attr(req, &st, ctx(req).attr_timeout);
}

void op_readlink(fuse_req_t req, fuse_ino_t ino) {
  auto r = vfs(req).readlink(ino);
  if (!r.ok()) return reply_err(req, r.status);
  fuse_reply_readlink(req, r->c_str());
}

void mknod_and_reply(fuse_req_t req, fuse_ino_t parent, const char* name, uint32_t mode, dev_t rdev,
                     const std::string& target) {
  const fuse_ctx* c = fuse_req_ctx(req);
  vfs(req).mknod_async(parent, name, mode, c->uid, c->gid, rdev, target,
                       [req](Result<meta::Attr> r) { reply_entry(req, r); });
}

void op_mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  if (!name_ok(req, name)) return;
  mknod_and_reply(req, parent, name, mode, rdev, "");
}

void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  if (!name_ok(req, name)) return;
  mknod_and_reply(req, parent, name, (mode & 07777) | S_IFDIR, 0, "");
}

void op_symlink(fuse_req_t req, const char* target, fuse_ino_t parent, const char* name) {
  if (!name_ok(req, name)) return;
  if (std::strlen(target) >= PATH_MAX) { fuse_reply_err(req, ENAMETOOLONG); return; }
  mknod_and_reply(req, parent, name, S_IFLNK | 0777, 0, target);
}

void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char* name) {
  if (!name_ok(req, name)) return;
  reply_entry(req, vfs(req).link(ino, parent, name));
}

void op_unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  vfs(req).unlink_async(parent, name, [req](Status s) {
    if (!s.ok()) return reply_err(req, s);
    fuse_reply_err(req, 0);
  });
}

void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Status s = vfs(req).rmdir(parent, name);
  if (!s.ok()) return reply_err(req, s);
  fuse_reply_err(req, 0);
}

void op_rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
               const char* newname, unsigned int flags) {
  if (!name_ok(req, newname)) return;
  uint32_t f = 0;
  if (flags & RENAME_NOREPLACE) f |= meta::kRenameNoReplace;
  if (flags & RENAME_EXCHANGE) f |= meta::kRenameExchange;
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) { fuse_reply_err(req, EINVAL); return; }
  Status s = vfs(req).rename(parent, name, newparent, newname, f);
  if (!s.ok()) return reply_err(req, s);
  fuse_reply_err(req, 0);
}

void op_open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Status s = vfs(req).open(ino);
  if (!s.ok()) return reply_err(req, s);
  fi->keep_cache = 0;  // close-to-open: drop the kernel's pages on every open
  // Close-to-open for the size too: the kernel may hold attributes from before
  // another client's commit for --attr-timeout and would stop reading at the
  // old size. Offset -1 drops only the cached attributes, not the pages.
  if (ctx(req).se) fuse_lowlevel_notify_inval_inode(ctx(req).se, ino, -1, 0);
  Vfs& v = vfs(req);   // req is freed by the reply
  if (fuse_reply_open(req, fi) == -ENOENT) v.release(ino);  // interrupted open
}

// May the caller open this existing file with these flags? The kernel checks
// this for open(2) but not when create finds the file: it believes it made it.
bool may_open(fuse_req_t req, const meta::Attr& a, int flags) {
  const fuse_ctx* c = fuse_req_ctx(req);
  if (c->uid == 0) return true;
  uint32_t want = 0;
  int acc = flags & O_ACCMODE;
  if (acc == O_RDONLY || acc == O_RDWR) want |= 4;
  if (acc == O_WRONLY || acc == O_RDWR || (flags & O_TRUNC)) want |= 2;
  uint32_t bits = a.mode & 7;
  if (a.uid == c->uid) {
    bits = (a.mode >> 6) & 7;
  } else {
    bool in_group = a.gid == c->gid;
    gid_t groups[64];
    int n = in_group ? 0 : fuse_req_getgroups(req, 64, groups);
    for (int i = 0; i < n && i < 64 && !in_group; ++i) in_group = groups[i] == a.gid;
    if (in_group) bits = (a.mode >> 3) & 7;
  }
  return (bits & want) == want;
}

// create(2) without O_EXCL on a name another client created since this
// kernel looked it up: open the existing file, as open(2) would have.
Result<meta::Attr> open_existing(fuse_req_t req, fuse_ino_t parent, const char* name, int flags) {
  auto a = vfs(req).lookup(parent, name);   // counts the lookup the entry reply hands over
  if (!a.ok()) return a;
  Status err;
  if (S_ISDIR(a->mode)) err = Status::Error(EISDIR, "is a directory");
  else if (!S_ISREG(a->mode)) err = Status::Error(EEXIST, "exists and is not a regular file");
  else if (!may_open(req, a.value, flags)) err = Status::Error(EACCES, "permission denied");
  if (err.ok()) err = vfs(req).open(a->ino);
  if (!err.ok()) {
    vfs(req).forget(a->ino, 1);
    return err;
  }
  if (flags & O_TRUNC) {
    auto t = vfs(req).setattr(a->ino, meta::SetAttr{}, true, 0);
    if (!t.ok()) {
      vfs(req).release(a->ino);
      vfs(req).forget(a->ino, 1);
    }
    return t;
  }
  return a;
}

// Replies to a create; an interrupted one (the kernel gave up on it) is
// released again, which may block: on a thread of its own.
void reply_create(fuse_req_t req, const Result<meta::Attr>& r, fuse_file_info* fi) {
  if (!r.ok()) return reply_err(req, r.status);
  Vfs* v = &vfs(req);
  fuse_entry_param e = to_entry(req, r.value);
  if (fuse_reply_create(req, &e, fi) == -ENOENT) {
    const uint64_t ino = r->ino;
    v->run_blocking([v, ino] { v->release(ino); });
  }
}

void op_create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
               fuse_file_info* fi) {
  if (!name_ok(req, name)) return;
  const fuse_ctx* c = fuse_req_ctx(req);
  // *fi lives in the caller's frame: the callback, which runs later, gets a copy.
  fuse_file_info info = *fi;
  std::string n = name;
  vfs(req).create_async(parent, n, (mode & 07777) | S_IFREG, c->uid, c->gid,
                        [req, parent, n, info](Result<meta::Attr> r) mutable {
    if (!r.ok() && r.err() == EEXIST && !(info.flags & O_EXCL)) {
      // Open the existing file instead: blocking calls, not on this thread.
      vfs(req).run_blocking([req, parent, n, info]() mutable {
        auto e = open_existing(req, parent, n.c_str(), info.flags);
        info.keep_cache = 0;
        reply_create(req, e, &info);
      });
      return;
    }
    reply_create(req, r, &info);
  });
}

void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  auto r = vfs(req).read(ino, static_cast<uint64_t>(off), size);
  if (!r.ok()) return reply_err(req, r.status);
  fuse_reply_buf(req, r->data(), r->size());
}

void op_write(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off,
              fuse_file_info* fi) {
  // O_APPEND (fi->flags are the file's current flags): the kernel's offset is
  // its cached size, possibly stale when other clients append too; the data
  // goes at the end of the file as of its commit instead.
  const bool append = fi && (fi->flags & O_APPEND);
  auto r = vfs(req).write(ino, static_cast<uint64_t>(off), buf, size, append);
  if (!r.ok()) return reply_err(req, r.status);
  fuse_reply_write(req, r.value);
}

void op_flush(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Status s = vfs(req).flush(ino);
  fuse_reply_err(req, s.ok() ? 0 : (s.err ? s.err : EIO));
}

void op_release(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Status s = vfs(req).release(ino);
  fuse_reply_err(req, s.ok() ? 0 : (s.err ? s.err : EIO));
}

void op_fsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  Status s = vfs(req).fsync(ino);
  fuse_reply_err(req, s.ok() ? 0 : (s.err ? s.err : EIO));
}

void op_opendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto r = vfs(req).opendir(ino);
  if (!r.ok()) return reply_err(req, r.status);
  fi->fh = reinterpret_cast<uint64_t>(r.value);
  Vfs& v = vfs(req);   // req is freed by the reply
  if (fuse_reply_open(req, fi) == -ENOENT) v.releasedir(r.value);
}

// Offsets: 1 = after ".", 2 = after "..", 2+i+1 = after entries[i].
void readdir_common(fuse_req_t req, size_t size, off_t off, fuse_file_info* fi, bool plus) {
  auto* d = reinterpret_cast<DirSnapshot*>(fi->fh);
  std::string buf(size, '\0');
  size_t used = 0;
  auto add = [&](const char* name, const meta::Attr* a, uint64_t ino, uint32_t mode,
                 off_t next) -> bool {
    size_t room = size - used;
    size_t n;
    if (plus) {
      fuse_entry_param e;
      std::memset(&e, 0, sizeof e);
      if (a) e = to_entry(req, *a);
      else {
        e.attr.st_ino = ino;
        e.attr.st_mode = mode;
      }
      n = fuse_add_direntry_plus(req, &buf[used], room, name, &e, next);
    } else {
      struct stat st;
      std::memset(&st, 0, sizeof st);
      st.st_ino = ino;
      st.st_mode = mode;
      n = fuse_add_direntry(req, &buf[used], room, name, &st, next);
    }
    if (n > room) return false;
    used += n;
    return true;
  };
  off_t pos = off;
  if (pos == 0) {
    if (!add(".", nullptr, d->ino, S_IFDIR, 1)) goto done;
    pos = 1;
  }
  if (pos == 1) {
    if (!add("..", nullptr, d->parent, S_IFDIR, 2)) goto done;
    pos = 2;
  }
  for (size_t i = static_cast<size_t>(pos - 2); i < d->entries.size(); ++i) {
    const meta::Entry& e = d->entries[i];
    if (!add(e.name.c_str(), &e.attr, e.attr.ino, e.attr.mode, static_cast<off_t>(i + 3))) break;
    if (plus) vfs(req).count_lookup(e.attr.ino);  // the kernel now holds a reference
  }
done:
  fuse_reply_buf(req, buf.data(), used);
}

void op_readdir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  readdir_common(req, size, off, fi, false);
}

void op_readdirplus(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  readdir_common(req, size, off, fi, true);
}

void op_releasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  vfs(req).releasedir(reinterpret_cast<DirSnapshot*>(fi->fh));
  fuse_reply_err(req, 0);
}

void op_fsyncdir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
  Status s = vfs(req).fsync(0);  // directory changes are committed; make them durable
  fuse_reply_err(req, s.ok() ? 0 : (s.err ? s.err : EIO));
}

void op_statfs(fuse_req_t req, fuse_ino_t) {
  auto r = vfs(req).statfs();
  if (!r.ok()) return reply_err(req, r.status);
  struct statvfs sv;
  std::memset(&sv, 0, sizeof sv);
  const uint64_t bsize = 4096;
  const uint64_t capacity = 1ull << 50;  // an object store has no fixed size: report 1 PiB
  uint64_t used = std::min(r->used_bytes, capacity);
  sv.f_bsize = bsize;
  sv.f_frsize = bsize;
  sv.f_blocks = capacity / bsize;
  sv.f_bfree = sv.f_bavail = (capacity - used) / bsize;
  sv.f_files = r->inodes + (1ull << 32);
  sv.f_ffree = sv.f_favail = 1ull << 32;
  sv.f_namemax = meta::kMaxNameLen;
  fuse_reply_statfs(req, &sv);
}

void op_init(void* userdata, fuse_conn_info* conn) {
  (void)userdata;
  // Large requests: fewer round trips for sequential I/O.
  conn->max_write = 1u << 20;
  conn->max_readahead = 1u << 20;
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;  // writes must reach the handle in order
  // libfuse enables atomic O_TRUNC by default; without it the kernel sends the
  // truncate as a setattr after open, which goes through the inode handle.
  conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
}

}  // namespace

fuse_lowlevel_ops make_ops() {
  fuse_lowlevel_ops ops;
  std::memset(&ops, 0, sizeof ops);
  ops.init = op_init;
  ops.lookup = op_lookup;
  ops.forget = op_forget;
  ops.forget_multi = op_forget_multi;
  ops.getattr = op_getattr;
  ops.setattr = op_setattr;
  ops.readlink = op_readlink;
  ops.mknod = op_mknod;
  ops.mkdir = op_mkdir;
  ops.symlink = op_symlink;
  ops.link = op_link;
  ops.unlink = op_unlink;
  ops.rmdir = op_rmdir;
  ops.rename = op_rename;
  ops.open = op_open;
  ops.create = op_create;
  ops.read = op_read;
  ops.write = op_write;
  ops.flush = op_flush;
  ops.release = op_release;
  ops.fsync = op_fsync;
  ops.opendir = op_opendir;
  ops.readdir = op_readdir;
  ops.readdirplus = op_readdirplus;
  ops.releasedir = op_releasedir;
  ops.fsyncdir = op_fsyncdir;
  ops.statfs = op_statfs;
  return ops;
}

void set_session(void* u, fuse_session* se) { static_cast<Ctx*>(u)->se = se; }
void* make_userdata(Vfs* vfs, double attr_timeout, double entry_timeout) {
  return new Ctx{vfs, attr_timeout, entry_timeout, nullptr};
}

void set_vfs(void* p, Vfs* vfs) { static_cast<Ctx*>(p)->vfs = vfs; }

void free_userdata(void* p) { delete static_cast<Ctx*>(p); }

}  // namespace s3l::fuse
