// The VFS: POSIX semantics on top of the actors, called from FUSE worker
// threads. It keeps what the kernel protocol needs per mount — lookup counts,
// open inodes (one inode-handle actor each), directory snapshots, orphans —
// and turns every operation into requests to the meta actor or a handle.
// Every method blocks its (FUSE) thread until the actors answer, except the
// *_async ones, which return at once and hand the result to a callback.
#pragma once
#include <caf/all.hpp>

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "actors/bridge.hpp"
#include "actors/inode_handle.hpp"
#include "actors/meta_actor.hpp"
#include "actors/purger.hpp"
#include "actors/store_workers.hpp"
#include "actors/write_budget.hpp"
#include "vfs/dir_attr_cache.hpp"
#include "vfs/dir_names_cache.hpp"
#include "vfs/lookup_windows.hpp"
#include "meta/types.hpp"
#include "util/result.hpp"

namespace s3l {

struct VfsConfig {
  uint64_t session = 0;
  meta::VolumeSettings volume;
  uint32_t readahead_blocks = 2;
  bool prefetch = true;
  caf::actor compact_hints;       // where handles name fragmented chunks (may be null)
  uint64_t compact_threshold = 24;
  double attr_timeout = 1.0;      // seconds; also bounds the directory attribute cache (0: off)
  double entry_timeout = 1.0;     // seconds; also bounds the directory names cache (0: off)
  WriteCount meta_writes;         // the meta service's (meta_actor.hpp); null: no lookup windows
};

// A directory listing taken at opendir, served by offset to readdir.
struct DirSnapshot {
  uint64_t ino = 0;
  uint64_t parent = 0;
  std::vector<meta::Entry> entries;
};

class Vfs {
 public:
  // buffer_limit bounds the dirty bytes of all open files (--buffer-size).
  Vfs(caf::actor_system& sys, VfsConfig cfg, caf::actor meta, StoreWorkers workers,
      uint64_t buffer_limit);
  ~Vfs();

  // ---- names (each successful entry reply counts one kernel lookup) ----
  Result<meta::Attr> lookup(uint64_t parent, const std::string& name);
  void forget(uint64_t ino, uint64_t nlookup);
  // *valid_ns (if given) is set to how long the answer may be cached when it
  // came from the directory attribute cache (what is left of its timeout).
  Result<meta::Attr> getattr(uint64_t ino, int64_t* valid_ns = nullptr);
  // size_valid: also change the size (truncate) before the other fields.
  Result<meta::Attr> setattr(uint64_t ino, const meta::SetAttr& a, bool size_valid, uint64_t size);
  Result<meta::Attr> link(uint64_t ino, uint64_t parent, const std::string& name);
  Status rmdir(uint64_t parent, const std::string& name);
  Status rename(uint64_t parent, const std::string& name, uint64_t new_parent,
                const std::string& new_name, uint32_t flags);
  Result<std::string> readlink(uint64_t ino);
  Result<meta::FsStats> statfs();

  // ---- the same without waiting ----
  // lookup, mknod (any file type) and create (mknod of a regular file, then
  // open) for callers that must not sleep until the answer (a FUSE thread: the reply is sent from the callback, and the
  // thread goes back to reading requests, which saves it two of the four
  // sleeps and wake-ups of a call). `done` runs exactly once, on a meta
  // actor's thread, or on a thread of its own when finishing needs a
  // blocking call (run_blocking); it must not block itself.
  using AttrCallback = std::function<void(Result<meta::Attr>)>;
  void lookup_async(uint64_t parent, const std::string& name, AttrCallback done);
  // If this mount knows that `parent` has no entry `name` (a recent listing,
  // DirNamesCache): how long (ns) the kernel may remember that. No waiting.
  std::optional<int64_t> known_absent(uint64_t parent, const std::string& name);
  // The answer from a lookup window (LookupWindows), if one covers the name
  // and may be used: an entry (its kernel lookup counted here) or "absent",
  // with what is left of the timeouts. No waiting.
  std::optional<LookupWindows::Hit> lookup_from_window(uint64_t parent, const std::string& name);
  void mknod_async(uint64_t parent, const std::string& name, uint32_t mode, uint32_t uid, uint32_t gid,
                   uint64_t rdev, const std::string& symlink_target, AttrCallback done);
  void create_async(uint64_t parent, const std::string& name, uint32_t mode, uint32_t uid, uint32_t gid,
                    AttrCallback done);
  void unlink_async(uint64_t parent, const std::string& name, std::function<void(Status)> done);
  // Runs `work`, which may block, on a thread of its own (a detached actor):
  // for the rare follow-up of an async call that needs blocking calls.
  void run_blocking(std::function<void()> work);

  // ---- files ----
  Status open(uint64_t ino);
  Result<std::string> read(uint64_t ino, uint64_t off, uint64_t len);
  // append: ignore `off`, the bytes land at the end of the file when they
  // are committed (atomic O_APPEND across clients).
  Result<uint64_t> write(uint64_t ino, uint64_t off, const char* data, size_t len, bool append = false);
  Status flush(uint64_t ino);
  // flush, then make the metadata durable (fsync(2)); ino 0: metadata only (fsyncdir).
  Status fsync(uint64_t ino);
  Status release(uint64_t ino);

  // ---- directories ----
  Result<DirSnapshot*> opendir(uint64_t ino);
  void releasedir(DirSnapshot* d);
  // Counts one lookup for an entry handed to the kernel by readdirplus.
  void count_lookup(uint64_t ino);

  // Asks every open handle to start uploading (memory pressure).
  void cut_all();
  // Waits for the async calls still under way, flushes every open handle,
  // drains deletions, closes the session. Call once, after the FUSE loop
  // ended and before the actor system goes away.
  Status shutdown();

  const VfsConfig& config() const { return cfg_; }

 private:
  struct OpenInode {
    caf::actor handle;      // spawned on first I/O (running_handle)
    uint32_t opens = 0;
    bool changed = false;   // written or truncated through since it was opened
    uint64_t size = 0;      // committed size at the last open, for the handle
  };
  // The handle if it runs (nullptr: not open, or no I/O since the open).
  caf::actor handle_of(uint64_t ino);
  // The handle, spawned if needed (mu_ held).
  caf::actor running_handle(uint64_t ino, OpenInode& o);
  // The handle for a read, spawned if needed; nullptr if not open.
  caf::actor handle_for_io(uint64_t ino);
  // handle_for_io, marking the inode as changed (write, truncate).
  caf::actor handle_for_change(uint64_t ino);
  // The handle only if the inode was changed since it was opened.
  caf::actor changed_handle_of(uint64_t ino);
  // open() with the committed attributes already known.
  Status open_as(uint64_t ino, const meta::Attr& a);
  // What every lookup / mknod answer updates (lookup counts, the directory
  // attribute cache); no blocking calls.
  void note_lookup(const Result<meta::Attr>& r, int64_t asked, uint64_t ticket);
  // now: the wall-clock times the change wrote; asked: mono_ns() when it was sent.
  void note_mknod(const Result<meta::Attr>& r, uint64_t parent, const std::string& name, int64_t now,
                  int64_t asked);
  void note_unlink(const Result<meta::UnlinkResult>& r, uint64_t parent, const std::string& name, int64_t now);
  // The database had no entry in `parent`: maybe read its listing now.
  void note_miss(uint64_t parent);
  // Reads the names of `parent` for the names cache (load id `load`).
  void load_names(uint64_t parent, int64_t asked, uint64_t load);
  // Counts an async call under way until the callback it returns has run.
  AttrCallback tracked(AttrCallback done);
  void async_begin();
  void async_end();
  Result<meta::Attr> open_attr(uint64_t ino);
  void became_orphan(uint64_t ino);
  void maybe_purge(uint64_t ino);

  caf::actor_system& sys_;
  VfsConfig cfg_;
  caf::actor meta_;
  caf::actor purger_;   // frees orphans in batches (actors/purger.hpp)
  StoreWorkers workers_;
  std::shared_ptr<WriteBudget> budget_;
  Bridge bridge_;
  DirAttrCache dir_attrs_;
  DirNamesCache dir_names_;
  LookupWindows windows_;

  std::mutex mu_;  // guards the three tables below
  std::map<uint64_t, OpenInode> open_;
  std::map<uint64_t, uint64_t> lookups_;
  std::set<uint64_t> orphans_;  // nlink reached 0; purge when not open and forgotten

  std::mutex async_mu_;   // async calls under way (shutdown waits for them)
  std::condition_variable async_idle_;
  uint64_t async_calls_ = 0;
};

}  // namespace s3l
