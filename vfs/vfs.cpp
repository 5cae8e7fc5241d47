#include "vfs/vfs.hpp"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "actors/messages.hpp"
#include "util/clock.hpp"

namespace s3l {

using meta::Attr;

namespace {
constexpr size_t kDirAttrEntries = 65536;   // ~10 MiB at most
constexpr size_t kDirNames = 262144;        // names of all listings: ~25 MiB at most
}  // namespace

Vfs::Vfs(caf::actor_system& sys, VfsConfig cfg, caf::actor meta, StoreWorkers workers,
         uint64_t buffer_limit)
    : sys_(sys),
      cfg_(std::move(cfg)),
      meta_(std::move(meta)),
      purger_(spawn_purger(sys, meta_)),
      workers_(std::move(workers)),
      budget_(std::make_shared<WriteBudget>(buffer_limit, [this] { cut_all(); })),
      bridge_(sys),
      dir_attrs_(static_cast<int64_t>(cfg_.attr_timeout * 1e9), kDirAttrEntries),
      dir_names_(static_cast<int64_t>(cfg_.entry_timeout * 1e9), kDirNames),
      windows_(cfg_.meta_writes ? static_cast<int64_t>(cfg_.entry_timeout * 1e9) : 0,
               static_cast<int64_t>(cfg_.attr_timeout * 1e9)) {}

Vfs::~Vfs() {
  // shutdown() stops it after draining; this covers a Vfs destroyed without it.
  caf::anon_send_exit(purger_, caf::exit_reason::user_shutdown);
}

// ---- names -------------------------------------------------------------------

Result<Attr> Vfs::lookup(uint64_t parent, const std::string& name) {
  const int64_t asked = mono_ns();
  const uint64_t ticket = dir_attrs_.ticket();
  auto r = bridge_.call<Attr>(meta_, kMetaWait, msg::lookup_atom::value, parent, name);
  note_lookup(r, asked, ticket);
  // An open file's size may include bytes still buffered here.
  if (r.ok() && S_ISREG(r->mode)) {
    if (auto f = open_attr(r->ino); f.ok()) r.value = f.value;
  }
  return r;
}

void Vfs::lookup_async(uint64_t parent, const std::string& name, AttrCallback done) {
  const int64_t asked = mono_ns();
  const uint64_t ticket = dir_attrs_.ticket();
  auto k = std::make_shared<AttrDone>(tracked([this, parent, asked, ticket, done = std::move(done)](Result<Attr> r) {
    note_lookup(r, asked, ticket);
    if (r.err() == ENOENT) {
      note_miss(parent);
      windows_.missed(parent);
    }
    // An open file with a running handle: its size may include bytes still
    // buffered there, and asking the handle blocks (not on a meta thread).
    if (r.ok() && S_ISREG(r->mode) && handle_of(r->ino)) {
      run_blocking([this, r, done]() mutable {
        if (auto f = open_attr(r->ino); f.ok()) r.value = f.value;
        done(std::move(r));
      });
      return;
    }
    done(std::move(r));
  }));
  const uint64_t w_writes = cfg_.meta_writes ? cfg_.meta_writes->load(std::memory_order_acquire) : 0;
  if (!windows_.want_window(parent, name, w_writes)) {
    caf::anon_send(meta_, msg::lookup_atom::value, parent, name, std::move(k));
    return;
  }
  // Ascending run: this name and the next ones in one round trip. Whatever
  // the window does not answer for sure (the name is not its first entry:
  // missing, or the parent is not a directory) is asked the usual way.
  const int64_t w_asked = mono_ns();
  const uint64_t w_removals = windows_.removals();
  async_begin();
  auto w = std::make_shared<EntriesDone>([this, parent, name, w_asked, w_writes, w_removals,
                                          k](Result<std::vector<meta::Entry>> r) {
    if (r.ok() && !r->empty() && r->front().name == name) {
      Attr a = r->front().attr;
      windows_.put(parent, name, std::move(r.value), w_asked, w_writes, w_removals);
      (*k)(Result<Attr>(a));
    } else {
      if (r.ok()) windows_.put(parent, name, std::move(r.value), w_asked, w_writes, w_removals);
      caf::anon_send(meta_, msg::lookup_atom::value, parent, name, k);
    }
    async_end();
  });
  caf::anon_send(meta_, msg::window_atom::value, parent, name, LookupWindows::kRun, std::move(w));
}

std::optional<int64_t> Vfs::known_absent(uint64_t parent, const std::string& name) {
  const int64_t now = mono_ns();
  std::optional<uint64_t> refresh;
  auto left = dir_names_.absent(parent, name, now, &refresh);
  if (refresh) load_names(parent, now, *refresh);
  return left;
}

std::optional<LookupWindows::Hit> Vfs::lookup_from_window(uint64_t parent, const std::string& name) {
  if (!cfg_.meta_writes || name == "." || name == "..") return std::nullopt;
  auto h = windows_.find(parent, name, mono_ns(), cfg_.meta_writes->load(std::memory_order_acquire));
  if (!h) return std::nullopt;
  if (h->attr) {
    // Open here with a running handle: the handle knows the size.
    if (S_ISREG(h->attr->mode) && handle_of(h->attr->ino)) return std::nullopt;
    count_lookup(h->attr->ino);
  }
  return h;
}

void Vfs::note_miss(uint64_t parent) {
  const int64_t asked = mono_ns();
  if (auto load = dir_names_.missed(parent, asked)) load_names(parent, asked, *load);
}

void Vfs::load_names(uint64_t parent, int64_t asked, uint64_t load) {
  async_begin();   // shutdown waits for it like for any async call
  auto k = std::make_shared<NamesDone>([this, parent, asked, id = load](Result<std::vector<std::string>> r) {
    if (r.ok()) {
      dir_names_.loaded(parent, id, std::move(r.value), asked);
    } else {
      dir_names_.load_failed(parent);
    }
    async_end();
  });
  caf::anon_send(meta_, msg::names_atom::value, parent, std::move(k));
}

void Vfs::note_lookup(const Result<Attr>& r, int64_t asked, uint64_t ticket) {
  if (!r.ok()) return;
  count_lookup(r->ino);
  dir_attrs_.put(r.value, asked, ticket);
}

void Vfs::count_lookup(uint64_t ino) {
  std::lock_guard<std::mutex> lk(mu_);
  ++lookups_[ino];
}

void Vfs::forget(uint64_t ino, uint64_t nlookup) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = lookups_.find(ino);
    if (it == lookups_.end()) return;
    it->second = nlookup >= it->second ? 0 : it->second - nlookup;
    if (it->second > 0) return;
    lookups_.erase(it);
  }
  maybe_purge(ino);
}

caf::actor Vfs::handle_of(uint64_t ino) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = open_.find(ino);
  return it == open_.end() ? caf::actor{} : it->second.handle;
}

// The handle actor is spawned on the first read, write or truncate: a file
// opened and closed without I/O (every create + close) never needs one, and
// spawning, closing and reaping it cost several thread wake-ups. Until then
// nothing is buffered, and the committed attributes are the file's.
caf::actor Vfs::running_handle(uint64_t ino, OpenInode& o) {
  if (o.handle) return o.handle;
  HandleConfig hc;
  hc.ino = ino;
  hc.session = cfg_.session;
  hc.chunk_size = cfg_.volume.chunk_size;
  hc.block_size = cfg_.volume.block_size;
  hc.volume = cfg_.volume.name;
  hc.meta = meta_;
  hc.uploads = workers_.uploads;
  hc.readers = workers_.readers;
  hc.budget = budget_;
  hc.readahead_blocks = cfg_.readahead_blocks;
  hc.prefetch = cfg_.prefetch;
  hc.compact_hints = cfg_.compact_hints;
  hc.compact_threshold = cfg_.compact_threshold;
  hc.handle_buffer_limit = std::max<uint64_t>(budget_->limit() / 4, cfg_.volume.block_size);
  o.handle = spawn_inode_handle(sys_, std::move(hc), o.size);
  return o.handle;
}

caf::actor Vfs::handle_for_io(uint64_t ino) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = open_.find(ino);
  return it == open_.end() ? caf::actor{} : running_handle(ino, it->second);
}

caf::actor Vfs::handle_for_change(uint64_t ino) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = open_.find(ino);
  if (it == open_.end()) return caf::actor{};
  it->second.changed = true;
  return running_handle(ino, it->second);
}

caf::actor Vfs::changed_handle_of(uint64_t ino) {
  std::lock_guard<std::mutex> lk(mu_);
  auto it = open_.find(ino);
  return it == open_.end() || !it->second.changed ? caf::actor{} : it->second.handle;
}

// Attributes through the open handle (buffered size included). ENOENT-free
// fallbacks: ESTALE when not open, or when the handle exited meanwhile (a
// release racing with this call).
Result<Attr> Vfs::open_attr(uint64_t ino) {
  auto h = handle_of(ino);
  if (!h) return Status::Error(ESTALE, "not open");
  return bridge_.call<Attr>(h, kMetaWait, msg::fattr_atom::value);
}

Result<Attr> Vfs::getattr(uint64_t ino, int64_t* valid_ns) {
  const int64_t asked = mono_ns();
  if (auto hit = dir_attrs_.get(ino, asked)) {
    if (valid_ns) *valid_ns = hit->valid_ns;
    return hit->attr;
  }
  const uint64_t ticket = dir_attrs_.ticket();
  auto r = open_attr(ino);
  if (r.ok() || r.err() != ESTALE) return r;
  r = bridge_.call<Attr>(meta_, kMetaWait, msg::getattr_atom::value, ino);
  if (r.ok()) dir_attrs_.put(r.value, asked, ticket);
  return r;
}

Result<Attr> Vfs::setattr(uint64_t ino, const meta::SetAttr& a, bool size_valid, uint64_t size) {
  struct DropAfter {   // also when the change fails half way: read it again
    DirAttrCache& c;
    uint64_t ino;
    ~DropAfter() { c.drop(ino); }
  } drop_after{dir_attrs_, ino};
  Result<Attr> r;
  if (size_valid) {
    // Through the open handle, if any: it commits buffered writes first so the
    // truncate lands after them.
    auto h = handle_for_change(ino);
    if (h) r = bridge_.call<Attr>(h, kDataWait, msg::ftrunc_atom::value, size);
    if (!h || r.err() == ESTALE)
      r = bridge_.call<Attr>(meta_, kMetaWait, msg::truncate_atom::value, ino, size, now_ns());
    if (!r.ok() || a.mask == 0) return r;
  }
  if (a.mask == 0) return getattr(ino);
  r = bridge_.call<Attr>(meta_, kMetaWait, msg::setattr_atom::value, ino, a);
  if (r.ok() && S_ISREG(r->mode)) {
    if (auto f = open_attr(ino); f.ok()) return f;
  }
  return r;
}

void Vfs::mknod_async(uint64_t parent, const std::string& name, uint32_t mode, uint32_t uid, uint32_t gid,
                      uint64_t rdev, const std::string& symlink_target, AttrCallback done) {
  const int64_t now = now_ns();      // the times the new entry gets
  const int64_t asked = mono_ns();   // when its attributes start to age
  auto k = std::make_shared<AttrDone>(tracked([this, parent, name, now, asked, done = std::move(done)](Result<Attr> r) {
    note_mknod(r, parent, name, now, asked);
    done(std::move(r));
  }));
  caf::anon_send(meta_, msg::mknod_atom::value, parent, name, mode, uid, gid, rdev, symlink_target, now,
                 std::move(k));
}

void Vfs::note_mknod(const Result<Attr>& r, uint64_t parent, const std::string& name, int64_t now, int64_t asked) {
  // Whatever the outcome: EEXIST means another client made it since the
  // names were read, and after an error (EIO after a lost connection) it may
  // exist. A name that does not exist only costs a database lookup.
  dir_names_.added(parent, name);
  if (r.ok()) {
    count_lookup(r->ino);
    const uint64_t ticket = dir_attrs_.ticket();   // the new directory itself: nothing raced with it
    dir_attrs_.entries_changed(parent, now, S_ISDIR(r->mode) ? 1 : 0);
    dir_attrs_.put(r.value, asked, ticket);
  } else {
    dir_attrs_.drop(parent);   // e.g. EEXIST: the directory is not what was cached
  }
}

Result<Attr> Vfs::link(uint64_t ino, uint64_t parent, const std::string& name) {
  const int64_t now = now_ns();
  auto r = bridge_.call<Attr>(meta_, kMetaWait, msg::link_atom::value, ino, parent, name, now);
  dir_names_.added(parent, name);   // whatever the outcome (see note_mknod)
  if (r.ok()) {
    count_lookup(r->ino);
    dir_attrs_.entries_changed(parent, now, 0);
  } else {
    dir_attrs_.drop(parent);
  }
  return r;
}

void Vfs::unlink_async(uint64_t parent, const std::string& name, std::function<void(Status)> done) {
  const int64_t now = now_ns();
  async_begin();
  auto k = std::make_shared<UnlinkDone>([this, parent, name, now, done = std::move(done)](Result<meta::UnlinkResult> r) {
    note_unlink(r, parent, name, now);
    done(r.status);
    async_end();
  });
  caf::anon_send(meta_, msg::unlink_atom::value, parent, name, cfg_.session, now, std::move(k));
}

// No blocking calls: runs on a meta actor's thread after unlink_async.
void Vfs::note_unlink(const Result<meta::UnlinkResult>& r, uint64_t parent, const std::string& name, int64_t now) {
  if (r.ok()) dir_attrs_.entries_changed(parent, now, 0);
  else dir_attrs_.drop(parent);
  if (r.ok()) dir_names_.removed(parent, name);
  // The meta actors do not count unlinks as writes (meta_actor.cpp): the
  // windows learn of them here. After an error that may have half happened
  // (a lost connection), forget them all.
  if (r.ok()) windows_.removed(parent, name, r->ino, mono_ns());
  else if (r.err() != ENOENT && r.err() != EISDIR && r.err() != ENOTDIR) windows_.clear();
  if (r.ok() && r->nlink == 0) became_orphan(r->ino);
}

Status Vfs::rmdir(uint64_t parent, const std::string& name) {
  Status s = bridge_.call_void(meta_, kMetaWait, msg::rmdir_atom::value, parent, name, now_ns());
  dir_attrs_.clear();   // the parent and the removed directory (its inode is not known here)
  if (s.ok()) dir_names_.removed(parent, name);
  return s;
}

Status Vfs::rename(uint64_t parent, const std::string& name, uint64_t new_parent,
                   const std::string& new_name, uint32_t flags) {
  auto r = bridge_.call<meta::RenameResult>(meta_, kMetaWait, msg::rename_atom::value, parent,
                                            name, new_parent, new_name, flags, cfg_.session,
                                            now_ns());
  dir_attrs_.clear();   // both parents, a moved or replaced directory: rare enough to forget all
  // The new name whatever the outcome (see note_mknod); the old one goes
  // only after a rename that surely happened (exchange: both names stay).
  if (r.ok() && !(flags & meta::kRenameExchange)) dir_names_.removed(parent, name);
  dir_names_.added(new_parent, new_name);
  if (r.ok() && r->replaced_ino && r->replaced_nlink == 0) became_orphan(r->replaced_ino);
  return r.status;
}

Result<std::string> Vfs::readlink(uint64_t ino) {
  return bridge_.call<std::string>(meta_, kMetaWait, msg::readlink_atom::value, ino);
}

Result<meta::FsStats> Vfs::statfs() {
  return bridge_.call<meta::FsStats>(meta_, kMetaWait, msg::statfs_atom::value);
}

void Vfs::became_orphan(uint64_t ino) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    orphans_.insert(ino);
  }
  maybe_purge(ino);
}

// An orphan's data goes once nobody can reach it: no open handle here and no
// kernel reference. Otherwise the last release/forget comes back here; a crash
// leaves it to the session cleaner (the orphan row names this session). The
// purger batches it with others; this thread does not wait for it.
void Vfs::maybe_purge(uint64_t ino) {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (!orphans_.count(ino) || open_.count(ino) || lookups_.count(ino)) return;
    orphans_.erase(ino);
  }
  caf::anon_send(purger_, msg::purge_atom::value, ino);
}

// ---- files -------------------------------------------------------------------

Status Vfs::open(uint64_t ino) {
  // Close-to-open: every open starts from the committed size and slice lists.
  auto a = bridge_.call<Attr>(meta_, kMetaWait, msg::getattr_atom::value, ino);
  if (!a.ok()) return a.status;
  return open_as(ino, a.value);
}

Status Vfs::open_as(uint64_t ino, const Attr& a) {
  if (S_ISDIR(a.mode)) return Status::Error(EISDIR, "is a directory");
  caf::actor existing;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = open_.find(ino);
    if (it != open_.end()) {
      ++it->second.opens;
      it->second.size = a.size;
      existing = it->second.handle;
    } else {
      OpenInode o;
      o.opens = 1;
      o.size = a.size;
      open_[ino] = o;
    }
  }
  if (existing) caf::anon_send(existing, msg::reopen_atom::value, a.size);
  return Status::Ok();
}

void Vfs::create_async(uint64_t parent, const std::string& name, uint32_t mode, uint32_t uid, uint32_t gid,
                       AttrCallback done) {
  mknod_async(parent, name, mode, uid, gid, 0, "", [this, done = std::move(done)](Result<Attr> r) {
    if (r.ok()) {
      Status s = open_as(r->ino, r.value);   // no blocking call: a new file has no handle yet
      if (!s.ok()) r = Result<Attr>(s);
    }
    done(std::move(r));
  });
}

// ---- async bookkeeping -----------------------------------------------------------

Vfs::AttrCallback Vfs::tracked(AttrCallback done) {
  async_begin();
  return [this, done = std::move(done)](Result<Attr> r) {
    done(std::move(r));
    async_end();
  };
}

void Vfs::async_begin() {
  std::lock_guard<std::mutex> lk(async_mu_);
  ++async_calls_;
}

void Vfs::async_end() {
  std::lock_guard<std::mutex> lk(async_mu_);
  if (--async_calls_ == 0) async_idle_.notify_all();
}

void Vfs::run_blocking(std::function<void()> work) {
  async_begin();
  sys_.spawn<caf::detached>([this, work = std::move(work)](caf::blocking_actor*) {
    work();
    Bridge::release_this_thread();   // the thread ends with this actor
    async_end();
  });
}

Result<std::string> Vfs::read(uint64_t ino, uint64_t off, uint64_t len) {
  auto h = handle_for_io(ino);
  if (!h) return Status::Error(EBADF, "inode not open");
  return bridge_.call<std::string>(h, kDataWait, msg::read_atom::value, off, len);
}

Result<uint64_t> Vfs::write(uint64_t ino, uint64_t off, const char* data, size_t len, bool append) {
  auto h = handle_for_change(ino);
  if (!h) return Status::Error(EBADF, "inode not open");
  budget_->acquire(len);  // the handle releases what it does not keep
  if (append)
    return bridge_.call<uint64_t>(h, kDataWait, msg::append_atom::value, std::string(data, len));
  return bridge_.call<uint64_t>(h, kDataWait, msg::write_atom::value, off,
                                std::string(data, len));
}

Status Vfs::flush(uint64_t ino) {
  // A handle this mount never wrote or truncated through holds nothing to
  // commit and no error to report: no need to ask it (every create + close
  // would otherwise cost three calls to it).
  auto h = changed_handle_of(ino);
  if (!h) return Status::Ok();
  Status s = bridge_.call_void(h, kDataWait, msg::flush_atom::value);
  return s.err == ESTALE ? Status::Ok() : s;  // released meanwhile: it flushed everything
}

Status Vfs::fsync(uint64_t ino) {
  if (ino) {
    Status s = flush(ino);
    if (!s.ok()) return s;
  }
  return bridge_.call_void(meta_, kMetaWait, msg::sync_atom::value);
}

Status Vfs::release(uint64_t ino) {
  Status s = flush(ino);
  caf::actor done;
  bool last = false, changed = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    auto it = open_.find(ino);
    if (it == open_.end()) return s;
    if (--it->second.opens == 0) {
      last = true;
      done = it->second.handle;
      changed = it->second.changed;
      open_.erase(it);
    }
  }
  if (!last) return s;
  if (done) {
    // Anything written between the flush above and now is committed before
    // the handle goes away.
    if (changed) {
      Status f = bridge_.call_void(done, kDataWait, msg::flush_atom::value);
      if (s.ok()) s = f;
    }
    caf::anon_send(done, msg::close_atom::value);
  }
  maybe_purge(ino);
  return s;
}

// ---- directories ---------------------------------------------------------------

Result<DirSnapshot*> Vfs::opendir(uint64_t ino) {
  auto a = bridge_.call<Attr>(meta_, kMetaWait, msg::getattr_atom::value, ino);
  if (!a.ok()) return a.status;
  if (!S_ISDIR(a->mode)) return Status::Error(ENOTDIR, "not a directory");
  auto r = bridge_.call<std::vector<meta::Entry>>(meta_, kMetaWait, msg::readdir_atom::value,
                                                  ino);
  if (!r.ok()) return r.status;
  auto d = std::make_unique<DirSnapshot>();
  d->ino = ino;
  d->parent = ino;  // ".." is answered with the dir itself when unknown; the kernel fixes it
  d->entries = std::move(r.value);
  return d.release();
}

void Vfs::releasedir(DirSnapshot* d) { delete d; }

// ---- lifecycle -------------------------------------------------------------------

void Vfs::cut_all() {
  std::vector<caf::actor> hs;
  {
    std::lock_guard<std::mutex> lk(mu_);
    for (auto& kv : open_)
      if (kv.second.handle) hs.push_back(kv.second.handle);
  }
  for (auto& h : hs) caf::anon_send(h, msg::cut_atom::value);
}

Status Vfs::shutdown() {
  {
    // Their callbacks use this Vfs (and reply to FUSE requests).
    std::unique_lock<std::mutex> lk(async_mu_);
    while (!async_idle_.wait_for(lk, std::chrono::seconds(30), [this] { return async_calls_ == 0; }))
      spdlog::warn("unmount: waiting for {} metadata calls still under way", async_calls_);
  }
  Status first;
  std::map<uint64_t, OpenInode> open;
  {
    std::lock_guard<std::mutex> lk(mu_);
    open.swap(open_);
  }
  for (auto& kv : open) {
    if (!kv.second.handle) continue;   // never read or written: nothing to commit
    Status s = bridge_.call_void(kv.second.handle, kDataWait, msg::flush_atom::value);
    if (!s.ok()) {
      spdlog::error("inode {}: dirty data could not be committed at unmount: {}", kv.first, s.msg);
      if (first.ok()) first = s;
    }
    caf::anon_send_exit(kv.second.handle, caf::exit_reason::user_shutdown);
  }
  // Purges still queued would be done by closing the session too; draining
  // first keeps the two from racing for the same rows.
  if (Status p = bridge_.call_void(purger_, kMetaWait, msg::drain_atom::value); !p.ok())
    spdlog::warn("unmount: orphan purges still queued: {}", p.msg);
  caf::anon_send_exit(purger_, caf::exit_reason::user_shutdown);
  Status c = bridge_.call_void(meta_, kMetaWait, msg::close_sess_atom::value, cfg_.session);
  if (!c.ok()) {
    spdlog::error("closing session {} failed: {}", cfg_.session, c.msg);
    if (first.ok()) first = c;
  }
  Bridge::release_this_thread();
  return first;
}

}  // namespace s3l
