// The actor layer's message vocabulary: every atom and every type that
// crosses an actor boundary. Atoms live in s3l::msg (<= 10 chars each).
#pragma once
#include <caf/all.hpp>

#include <cerrno>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "meta/types.hpp"
#include "util/result.hpp"

namespace s3l::msg {
// meta actor: one atom per Meta method
using lookup_atom = caf::atom_constant<caf::atom("lookup")>;
using getattr_atom = caf::atom_constant<caf::atom("getattr")>;
using setattr_atom = caf::atom_constant<caf::atom("setattr")>;
using mknod_atom = caf::atom_constant<caf::atom("mknod")>;
using link_atom = caf::atom_constant<caf::atom("link")>;
using unlink_atom = caf::atom_constant<caf::atom("unlink")>;
using rmdir_atom = caf::atom_constant<caf::atom("rmdir")>;
using rename_atom = caf::atom_constant<caf::atom("rename")>;
using readlink_atom = caf::atom_constant<caf::atom("readlink")>;
using readdir_atom = caf::atom_constant<caf::atom("readdir")>;
using names_atom = caf::atom_constant<caf::atom("names")>;
using window_atom = caf::atom_constant<caf::atom("lwindow")>;
using statfs_atom = caf::atom_constant<caf::atom("statfs")>;
using purge_atom = caf::atom_constant<caf::atom("purge")>;
using truncate_atom = caf::atom_constant<caf::atom("truncate")>;
using begin_atom = caf::atom_constant<caf::atom("begin")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using commit_append_atom = caf::atom_constant<caf::atom("cappend")>;
using abort_atom = caf::atom_constant<caf::atom("abort")>;
using slices_atom = caf::atom_constant<caf::atom("slices")>;
using dead_atom = caf::atom_constant<caf::atom("dead")>;
using forget_atom = caf::atom_constant<caf::atom("forget")>;
using heartbeat_atom = caf::atom_constant<caf::atom("heartbeat")>;
using close_sess_atom = caf::atom_constant<caf::atom("closesess")>;
using stale_atom = caf::atom_constant<caf::atom("stale")>;
using sync_atom = caf::atom_constant<caf::atom("sync")>;

// store workers
using put_block_atom = caf::atom_constant<caf::atom("putblock")>;
using get_block_atom = caf::atom_constant<caf::atom("getblock")>;
using prefetch_atom = caf::atom_constant<caf::atom("prefetch")>;
using del_objs_atom = caf::atom_constant<caf::atom("delobjs")>;

// inode handle
using write_atom = caf::atom_constant<caf::atom("write")>;
using append_atom = caf::atom_constant<caf::atom("append")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using cut_atom = caf::atom_constant<caf::atom("cut")>;
using fattr_atom = caf::atom_constant<caf::atom("fattr")>;
using ftrunc_atom = caf::atom_constant<caf::atom("ftrunc")>;
using reopen_atom = caf::atom_constant<caf::atom("reopen")>;
using close_atom = caf::atom_constant<caf::atom("hclose")>;
using reap_atom = caf::atom_constant<caf::atom("hreap")>;

// background
using tick_atom = caf::atom_constant<caf::atom("s3ltick")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
// compactor: (compact_hint_atom, ino, chunk) one-way: this chunk was just fragmented
using compact_hint_atom = caf::atom_constant<caf::atom("chint")>;
}  // namespace s3l::msg

namespace s3l {
// Immutable block bytes shared between an inode handle (which must keep them
// readable until commit) and the upload worker. Local messages only.
using SharedBytes = std::shared_ptr<const std::string>;

// errno carried in a caf::error of category "s3l"; the context holds the message.
caf::error to_caf_error(const Status& st);
Status from_caf_error(const caf::error& e);

template <class T>
caf::result<T> to_caf_result(Result<T>&& r) {
  if (!r.ok()) return to_caf_error(r.status);
  return std::move(r.value);
}
inline caf::result<void> to_caf_result(Status&& s) {
  if (!s.ok()) return to_caf_error(s);
  return caf::unit;
}
}  // namespace s3l

namespace s3l {
// Where the answer of a metadata request sent without waiting goes (the
// Vfs's *_async calls, which let a FUSE thread return to reading requests
// instead of sleeping until the answer): the meta actor calls it with the
// result, on its own thread. Called exactly once: if the request is dropped
// unanswered (the actor is gone), the destructor answers EIO, so that no
// FUSE request is left without a reply. Local messages only.
template <class T>
class Done {
 public:
  using Fn = std::function<void(Result<T>)>;
  explicit Done(Fn fn) : fn_(std::move(fn)) {}
  Done(const Done&) = delete;
  Done& operator=(const Done&) = delete;
  ~Done() {
    if (!fn_) return;
    try {
      fn_(Result<T>(Status::Error(EIO, "the metadata service dropped the request")));
    } catch (...) {
    }
  }
  void operator()(Result<T> r) {
    Fn fn = std::move(fn_);
    fn_ = nullptr;
    if (fn) fn(std::move(r));
  }

 private:
  Fn fn_;
};
using AttrDone = Done<meta::Attr>;
using NamesDone = Done<std::vector<std::string>>;
using EntriesDone = Done<std::vector<meta::Entry>>;
using UnlinkDone = Done<meta::UnlinkResult>;
using AttrDonePtr = std::shared_ptr<AttrDone>;
using NamesDonePtr = std::shared_ptr<NamesDone>;
using EntriesDonePtr = std::shared_ptr<EntriesDone>;
using UnlinkDonePtr = std::shared_ptr<UnlinkDone>;
}  // namespace s3l

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(s3l::SharedBytes)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(s3l::AttrDonePtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(s3l::NamesDonePtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(s3l::EntriesDonePtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(s3l::UnlinkDonePtr)

// Inspectors for the metadata structs: what makes them legal CAF message types.
namespace s3l::meta {
template <class I>
typename I::result_type inspect(I& f, Attr& x) {
  return f(caf::meta::type_name("Attr"), x.ino, x.mode, x.uid, x.gid, x.nlink, x.size, x.rdev,
           x.atime_ns, x.mtime_ns, x.ctime_ns);
}
template <class I>
typename I::result_type inspect(I& f, Entry& x) {
  return f(caf::meta::type_name("Entry"), x.name, x.attr);
}
template <class I>
typename I::result_type inspect(I& f, SetAttr& x) {
  return f(caf::meta::type_name("SetAttr"), x.mask, x.mode, x.uid, x.gid, x.atime_ns, x.mtime_ns,
           x.ctime_ns);
}
template <class I>
typename I::result_type inspect(I& f, Block& x) {
  return f(caf::meta::type_name("Block"), x.id, x.slice_id, x.index, x.size, x.checksum);
}
template <class I>
typename I::result_type inspect(I& f, Slice& x) {
  return f(caf::meta::type_name("Slice"), x.id, x.ino, x.chunk, x.pos, x.len, x.off, x.zero, x.blocks);
}
template <class I>
typename I::result_type inspect(I& f, FsStats& x) {
  return f(caf::meta::type_name("FsStats"), x.used_bytes, x.inodes);
}
template <class I>
typename I::result_type inspect(I& f, SessionInfo& x) {
  return f(caf::meta::type_name("SessionInfo"), x.id, x.host, x.pid, x.mountpoint, x.version, x.started_ns,
           x.heartbeat_ns, x.expiry_ns);
}
template <class I>
typename I::result_type inspect(I& f, DeadBlock& x) {
  return f(caf::meta::type_name("DeadBlock"), x.id, x.slice_id, x.index, x.size, x.dead_since_ns);
}
template <class I>
typename I::result_type inspect(I& f, RenameResult& x) {
  return f(caf::meta::type_name("RenameResult"), x.moved_ino, x.replaced_ino, x.replaced_nlink);
}
template <class I>
typename I::result_type inspect(I& f, UnlinkResult& x) {
  return f(caf::meta::type_name("UnlinkResult"), x.ino, x.nlink);
}
}  // namespace s3l::meta
