// The one metadata interface. Callers above meta/ never know which engine
// (SQLite now, PostgreSQL next) they talk to: open_meta() picks it from the URL.
//
// Every method is synchronous and may block on the database; call it only from
// a detached actor or a thread outside the CAF scheduler (see actors/meta_actor).
// Every method that changes visible state runs as exactly ONE transaction.
// Errors come back as Status{errno, message}: ENOENT, EEXIST, ENOTEMPTY,
// ENOTDIR, EISDIR, EINVAL, ENAMETOOLONG, EIO (database failure; message says why).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "meta/types.hpp"
#include "util/result.hpp"

namespace s3l::meta {

// gc (meta/sql_gc.cpp): one object key the metadata references, from a row of
// blocks (dead = false) or of the dead-block queue (dead = true).
struct GcBlockRef {
  uint64_t slice_id = 0;
  uint32_t index = 0;
  uint32_t size = 0;
  bool dead = false;
};
// The rest of gc's snapshot of the references.
struct GcReferences {
  std::vector<uint64_t> pending_slices;   // ids of pending slices (uploads in flight), sorted
  uint64_t next_slice_id = 0;             // slice ids >= this were never handed out
  uint64_t blocks = 0;                    // rows of blocks visited
  uint64_t dead_blocks = 0;               // rows of dead_blocks visited
};

// fsck: what a check needs to know about time. A session is live while its
// last heartbeat is newer than now minus the longer of session_expiry_ns and
// the expiry the session registered; orphans and pending slices of other
// sessions are reported as stale.
struct CheckOptions {
  int64_t now_ns = 0;                             // 0 = the clock
  int64_t session_expiry_ns = 60'000'000'000;     // 5 x the default 12 s heartbeat
};
// fsck --repair: one change made (done = true), or one problem it declined
// to touch, with the reason in `action`.
struct RepairAction {
  std::string kind;     // the Problem kind it addresses
  std::string where;    // path or object, as in Problem
  std::string action;   // what was done, or why not
  bool done = true;
};

class Meta {
 public:
  virtual ~Meta() = default;

  // ---- volume ------------------------------------------------------------
  // Creates the schema if needed and writes the settings plus the root inode
  // (mode 0755|S_IFDIR owned by uid/gid given). EEXIST if already formatted
  // and !force; with force the old content is dropped.
  virtual Status format(const VolumeSettings& s, uint32_t root_uid, uint32_t root_gid,
                        bool force) = 0;
  // ENODATA (with a clear message) if the database holds no formatted volume;
  // EPROTO if its schema version is not the one this binary uses (newer: a
  // newer binary is needed; older: run `s3layerfs-daemon upgrade`).
  virtual Result<VolumeSettings> load_settings() = 0;
  // Brings an older schema up to kSchemaVersion in one transaction (the
  // explicit `upgrade` command; nothing upgrades implicitly). Returns the
  // version found. EPROTO for a newer schema, ENODATA for no volume.
  virtual Result<uint32_t> upgrade_schema() = 0;

  // ---- sessions (each mount is one) -----------------------------------------
  virtual Result<uint64_t> register_session(const SessionInfo& info) = 0;
  virtual Status heartbeat(uint64_t session, int64_t now_ns) = 0;
  // End of a session, clean or not: purges its orphan inodes, drops its
  // pending slices (the objects their uploads may have created, named from
  // the planned length, go to the dead-block queue) and locks, then deletes
  // the session row. A later commit of one of its slices fails (EINVAL).
  virtual Status close_session(uint64_t session) = 0;
  virtual Result<std::vector<SessionInfo>> list_sessions() = 0;
  // The session cleaner's step, one transaction: takes or renews the
  // "cleaner" lease for session `me` until now + lease_ns (only one session
  // holds it at a time; an expired lease is taken over), and if `me` holds it
  // returns the other sessions whose heartbeat is older than their expiry.
  // Empty if another session holds the lease. Each is then ended with
  // close_session(), which works the same for a dead session.
  virtual Result<std::vector<SessionInfo>> stale_sessions(uint64_t me, int64_t now_ns, int64_t lease_ns) = 0;

  // ---- namespace -----------------------------------------------------------
  virtual Result<Attr> lookup(uint64_t parent, const std::string& name) = 0;
  virtual Result<Attr> getattr(uint64_t ino) = 0;
  virtual Result<Attr> setattr(uint64_t ino, const SetAttr& a) = 0;
  // Creates an inode of any type (regular, dir, symlink, fifo, socket, device)
  // and its entry. mode includes the type bits. For S_IFLNK `target` is stored.
  // Directories start with nlink 2 and bump the parent's nlink.
  virtual Result<Attr> mknod(uint64_t parent, const std::string& name, uint32_t mode,
                             uint32_t uid, uint32_t gid, uint64_t rdev,
                             const std::string& target, int64_t now_ns) = 0;
  virtual Result<Attr> link(uint64_t ino, uint64_t new_parent, const std::string& name,
                            int64_t now_ns) = 0;
  // Removes a non-directory entry. If the inode's nlink drops to 0 it becomes an
  // orphan held by `session` (recorded in the `orphans` table): its data stays
  // until purge() is called (after the last close) or the session ends.
  virtual Result<UnlinkResult> unlink(uint64_t parent, const std::string& name,
                                      uint64_t session, int64_t now_ns) = 0;
  virtual Status rmdir(uint64_t parent, const std::string& name, int64_t now_ns) = 0;
  // POSIX rename; flags from RenameFlags. A replaced non-directory whose nlink
  // drops to 0 becomes an orphan of `session` exactly like unlink.
  virtual Result<RenameResult> rename(uint64_t parent, const std::string& name,
                                      uint64_t new_parent, const std::string& new_name,
                                      uint32_t flags, uint64_t session, int64_t now_ns) = 0;
  virtual Result<std::string> readlink(uint64_t ino) = 0;
  // All entries of a directory, ordered by name, without "." and "..".
  virtual Result<std::vector<Entry>> readdir(uint64_t ino) = 0;
  // Just the names of a directory's entries, in no order, in one statement
  // without a transaction (for the VFS's directory names cache: far cheaper
  // than readdir on a large directory). Empty if `ino` has no entries, also
  // if it is not a directory or does not exist.
  virtual Result<std::vector<std::string>> entry_names(uint64_t ino) = 0;
  // Up to `limit` entries of directory `ino` whose names are >= `from`,
  // ordered by name, with attributes, in one statement (the VFS's lookup
  // windows: one round trip answers a run of lookups in name order). Empty
  // if there are none, also if `ino` is not a directory or does not exist.
  virtual Result<std::vector<Entry>> entries_from(uint64_t ino, const std::string& from, uint32_t limit) = 0;
  virtual Result<FsStats> statfs() = 0;
  // Frees an inode whose nlink is 0: deletes its slices (blocks whose refcount
  // reaches 0 go to the dead-block queue), its row and its orphan record.
  // A no-op (Ok) if nlink > 0 or the inode is already gone.
  Status purge(uint64_t ino) { return purge(std::vector<uint64_t>{ino}); }
  // The same for several inodes in one transaction (the VFS batches the
  // purges of a burst of unlinks: one commit instead of one per file).
  virtual Status purge(const std::vector<uint64_t>& inos) = 0;

  // ---- file data -----------------------------------------------------------
  // Sets the size. Shrinking drops slices wholly beyond the new size and adds a
  // zero slice over the cut part of the boundary chunk, so old bytes never
  // reappear when the file is extended again. Updates mtime/ctime.
  virtual Result<Attr> truncate(uint64_t ino, uint64_t size, int64_t now_ns) = 0;
  // Allocates a slice id and records the slice as pending (owned by session)
  // before any of its blocks is uploaded.
  // `len` is the slice's planned length: with the block size it names every
  // object the upload may create, so a session cleaner can delete them after
  // a crash (the pending row is all that is left then).
  virtual Result<uint64_t> begin_slice(uint64_t ino, uint64_t chunk, uint64_t session, uint64_t len = 0) = 0;
  // THE write commit, one transaction: inserts the slice's blocks and
  // slice_blocks, marks the slice committed with its pos/len, and raises the
  // inode size to at least `min_size` and sets mtime/ctime. ENOENT if the
  // inode is gone (the blocks then go straight to the dead-block queue).
  virtual Result<Attr> commit_slice(const Slice& s, uint64_t min_size, int64_t now_ns) = 0;
  // The append commit (O_APPEND writes), one transaction: places the slice at
  // the file's size as of this transaction, whatever s.chunk and s.pos say, so
  // appends from several clients never overwrite each other. The blocks are
  // laid out from offset 0 as for a slice at pos 0. A slice that lands across
  // a chunk end becomes two slice rows sharing the blocks (the second with
  // off > 0). Returns the new attributes: the data landed at size - s.len.
  virtual Result<Attr> commit_append(const Slice& s, int64_t now_ns) = 0;
  // Compaction. Chunks with at least min_slices committed slices, most
  // fragmented first.
  virtual Result<std::vector<ChunkRef>> fragmented_chunks(uint64_t min_slices, size_t limit) = 0;
  // Swaps the chunk's committed slices `replaced` for `merged` (a pending
  // slice of that chunk, begun like any other, holding the same visible
  // bytes) in one transaction, only if `replaced` is exactly the chunk's
  // committed slice list now: EAGAIN otherwise (the caller drops its upload).
  // The replaced slices' blocks go to the dead-block queue (deleted after the
  // deleter's delay, so reads in flight still find them). Size and times stay.
  virtual Result<Attr> commit_compaction(const Slice& merged, const std::vector<uint64_t>& replaced,
                                         int64_t now_ns) = 0;
  // Drops a pending slice that will not be committed (upload failed).
  virtual Status abort_slice(uint64_t slice_id) = 0;
  // Committed slices of one chunk in commit order (the last one wins where
  // slices overlap), each with its blocks.
  virtual Result<std::vector<Slice>> chunk_slices(uint64_t ino, uint64_t chunk) = 0;

  // Makes every change committed so far durable (fsync, fsyncdir). Commits
  // are atomic either way; this is about surviving power loss.
  virtual Status sync() = 0;

  // ---- garbage -------------------------------------------------------------
  virtual Result<std::vector<DeadBlock>> dead_blocks(size_t limit) = 0;
  virtual Status forget_dead_blocks(const std::vector<uint64_t>& block_ids) = 0;
  // Everything that keeps an object of the store alive, read in ONE read
  // transaction (one snapshot): every row of blocks and of dead_blocks goes to
  // `visit` (fetched in batches: memory stays bounded), plus the pending
  // slices and the slice id counter. `visit` must not call into Meta, and may
  // see a row again if the transaction is rerun after a conflict.
  virtual Result<GcReferences> gc_references(const std::function<void(const GcBlockRef&)>& visit) {
    (void)visit;
    return Status::Error(ENOTSUP, "gc: not supported by this metadata engine");
  }

  // ---- checks (fsck) -------------------------------------------------------
  // Every block referenced by a committed slice, with the slice's inode.
  virtual Result<std::vector<std::pair<uint64_t, Block>>> committed_blocks() = 0;
  // Metadata-only consistency, in one read transaction (kinds: docs/metadata.md
  // "check_consistency"): entries to missing inodes, nlink vs entries,
  // reachability from the root, stale sessions' leftovers, sizes, block
  // refcounts vs references, statfs counters.
  virtual Result<std::vector<Problem>> check_consistency(const CheckOptions& o = CheckOptions{}) = 0;
  // fsck --repair (meta/sql_repair.cpp): the safe fixes only, each step in its
  // own write transaction that finds its problems again itself: drop entries
  // to missing inodes or in non-directories, end the leftovers of sessions
  // whose row is gone (close_session), move unreachable inodes into
  // /lost+found (created 0700 if missing) as "#<ino>", recompute nlink, block
  // refcounts (unreferenced blocks of vanished slices go to dead_blocks),
  // chunk slice counts and the statfs counters. Never touches file data.
  // Appends to *done as each step commits, so a failing step leaves the list
  // of what was already changed.
  virtual Status repair_consistency(const CheckOptions& o, std::vector<RepairAction>* done) {
    (void)o;
    (void)done;
    return Status::Error(ENOTSUP, "repair: not supported by this metadata engine");
  }
  // One path of an inode (for messages), or "<ino N>" if unreachable.
  virtual std::string path_of(uint64_t ino) = 0;
};

// Opens the engine named by the URL: sqlite3://PATH. `create` allows creating
// a new database file (format); otherwise a missing file is ENOENT.
Result<std::unique_ptr<Meta>> open_meta(const std::string& url, bool create);

}  // namespace s3l::meta
