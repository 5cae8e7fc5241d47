#include "actors/meta_actor.hpp"

#include "actors/messages.hpp"

namespace s3l {

namespace {
caf::behavior meta_actor(caf::event_based_actor*, std::shared_ptr<meta::Meta> m, WriteCount writes) {
  using namespace s3l::msg;
  using meta::Attr;
  // Raised after every call that may change what a lookup answers, before
  // the answer goes out (also when it failed: it may have half happened
  // from the caller's point of view, e.g. a lost connection).
  auto wrote = [writes](auto&& r) {
    if (writes) writes->fetch_add(1, std::memory_order_release);
    return std::forward<decltype(r)>(r);
  };
  return {
      [=](lookup_atom, uint64_t parent, const std::string& name) {
        return to_caf_result(m->lookup(parent, name));
      },
      // Sent without waiting (anon_send): the answer goes to `done`.
      [=](lookup_atom, uint64_t parent, const std::string& name, const AttrDonePtr& done) {
        (*done)(m->lookup(parent, name));
      },
      [=](getattr_atom, uint64_t ino) { return to_caf_result(m->getattr(ino)); },
      [=](setattr_atom, uint64_t ino, const meta::SetAttr& a) {
        return to_caf_result(wrote(m->setattr(ino, a)));
      },
      [=](mknod_atom, uint64_t parent, const std::string& name, uint32_t mode, uint32_t uid,
          uint32_t gid, uint64_t rdev, const std::string& target, int64_t now) {
        return to_caf_result(wrote(m->mknod(parent, name, mode, uid, gid, rdev, target, now)));
      },
      [=](mknod_atom, uint64_t parent, const std::string& name, uint32_t mode, uint32_t uid,
          uint32_t gid, uint64_t rdev, const std::string& target, int64_t now, const AttrDonePtr& done) {
        (*done)(wrote(m->mknod(parent, name, mode, uid, gid, rdev, target, now)));
      },
      [=](link_atom, uint64_t ino, uint64_t parent, const std::string& name, int64_t now) {
        return to_caf_result(wrote(m->link(ino, parent, name, now)));
      },
      // Not counted: the VFS applies its unlinks to the lookup windows itself
      // (LookupWindows::removed), so that rm -r keeps its windows.
      [=](unlink_atom, uint64_t parent, const std::string& name, uint64_t session, int64_t now) {
        return to_caf_result(m->unlink(parent, name, session, now));
      },
      [=](unlink_atom, uint64_t parent, const std::string& name, uint64_t session, int64_t now,
          const UnlinkDonePtr& done) {
        (*done)(m->unlink(parent, name, session, now));
      },
      [=](rmdir_atom, uint64_t parent, const std::string& name, int64_t now) {
        return to_caf_result(wrote(m->rmdir(parent, name, now)));
      },
      [=](rename_atom, uint64_t parent, const std::string& name, uint64_t new_parent,
          const std::string& new_name, uint32_t flags, uint64_t session, int64_t now) {
        return to_caf_result(wrote(m->rename(parent, name, new_parent, new_name, flags, session, now)));
      },
      [=](readlink_atom, uint64_t ino) { return to_caf_result(m->readlink(ino)); },
      [=](readdir_atom, uint64_t ino) { return to_caf_result(m->readdir(ino)); },
      [=](window_atom, uint64_t ino, const std::string& from, uint32_t limit, const EntriesDonePtr& done) {
        (*done)(m->entries_from(ino, from, limit));
      },
      [=](names_atom, uint64_t ino, const NamesDonePtr& done) { (*done)(m->entry_names(ino)); },
      [=](statfs_atom) { return to_caf_result(m->statfs()); },
      // Not counted either: a purged inode has no entry left for a lookup to find.
      [=](purge_atom, const std::vector<uint64_t>& inos) { return to_caf_result(m->purge(inos)); },
      [=](truncate_atom, uint64_t ino, uint64_t size, int64_t now) {
        return to_caf_result(wrote(m->truncate(ino, size, now)));
      },
      [=](begin_atom, uint64_t ino, uint64_t chunk, uint64_t session, uint64_t len) {
        return to_caf_result(m->begin_slice(ino, chunk, session, len));
      },
      [=](commit_atom, const meta::Slice& s, uint64_t min_size, int64_t now) {
        return to_caf_result(wrote(m->commit_slice(s, min_size, now)));
      },
      [=](commit_append_atom, const meta::Slice& s, int64_t now) {
        return to_caf_result(wrote(m->commit_append(s, now)));
      },
      [=](abort_atom, uint64_t slice_id) { return to_caf_result(m->abort_slice(slice_id)); },
      [=](slices_atom, uint64_t ino, uint64_t chunk) {
        return to_caf_result(m->chunk_slices(ino, chunk));
      },
      [=](dead_atom, uint64_t limit) { return to_caf_result(m->dead_blocks(limit)); },
      [=](forget_atom, const std::vector<uint64_t>& ids) {
        return to_caf_result(m->forget_dead_blocks(ids));
      },
      [=](heartbeat_atom, uint64_t session, int64_t now) {
        return to_caf_result(m->heartbeat(session, now));
      },
      [=](close_sess_atom, uint64_t session) { return to_caf_result(m->close_session(session)); },
      [=](stale_atom, uint64_t me, int64_t now, int64_t lease_ns) {
        return to_caf_result(m->stale_sessions(me, now, lease_ns));
      },
      [=](sync_atom) { return to_caf_result(m->sync()); },
  };
}
}  // namespace

caf::actor spawn_meta_actor(caf::actor_system& sys, std::shared_ptr<meta::Meta> m, WriteCount writes) {
  return sys.spawn<caf::detached>(meta_actor, std::move(m), std::move(writes));
}

}  // namespace s3l
