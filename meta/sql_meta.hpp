// The one implementation of Meta, written against SqlConn so that every SQL
// engine shares the same transaction logic. Split by concern:
//   sql_meta.cpp       open_meta, transaction runner, volume (format/settings), id allocation
//   sql_namespace.cpp  lookup .. rename, readdir, statfs
//   sql_mknod_cte.cpp  mknod in one statement, for engines that can (PostgreSQL)
//   sql_data.cpp       truncate, slices, purge
//   sql_session.cpp    sessions, dead blocks
//   sql_check.cpp      fsck support
// One SqlMeta is used by one thread at a time (the meta actor): no locking.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "meta/meta.hpp"
#include "meta/sql_conn.hpp"

// Inode columns in the order read_inode() expects.
#define S3L_INODE_COLS "ino, mode, uid, gid, nlink, size, rdev, atime, mtime, ctime, parent"
#define S3L_INODE_COLS_D "d.ino, d.mode, d.uid, d.gid, d.nlink, d.size, d.rdev, d.atime, d.mtime, d.ctime, d.parent"
#define S3L_INODE_COLS_I "i.ino, i.mode, i.uid, i.gid, i.nlink, i.size, i.rdev, i.atime, i.mtime, i.ctime, i.parent"

namespace s3l::meta {

class SqlMeta final : public Meta {
 public:
  explicit SqlMeta(std::unique_ptr<SqlConn> conn);

  Status format(const VolumeSettings& s, uint32_t root_uid, uint32_t root_gid, bool force) override;
  Result<VolumeSettings> load_settings() override;
  Result<uint32_t> upgrade_schema() override;

  Result<uint64_t> register_session(const SessionInfo& info) override;
  Status heartbeat(uint64_t session, int64_t now_ns) override;
  Status sync() override;
  Status close_session(uint64_t session) override;
  Result<std::vector<SessionInfo>> list_sessions() override;
  Result<std::vector<SessionInfo>> stale_sessions(uint64_t me, int64_t now_ns, int64_t lease_ns) override;

  Result<Attr> lookup(uint64_t parent, const std::string& name) override;
  Result<Attr> getattr(uint64_t ino) override;
  Result<Attr> setattr(uint64_t ino, const SetAttr& a) override;
  Result<Attr> mknod(uint64_t parent, const std::string& name, uint32_t mode, uint32_t uid,
                     uint32_t gid, uint64_t rdev, const std::string& target, int64_t now_ns) override;
  Result<Attr> link(uint64_t ino, uint64_t new_parent, const std::string& name, int64_t now_ns) override;
  Result<UnlinkResult> unlink(uint64_t parent, const std::string& name, uint64_t session,
                              int64_t now_ns) override;
  Status rmdir(uint64_t parent, const std::string& name, int64_t now_ns) override;
  Result<RenameResult> rename(uint64_t parent, const std::string& name, uint64_t new_parent,
                              const std::string& new_name, uint32_t flags, uint64_t session,
                              int64_t now_ns) override;
  Result<std::string> readlink(uint64_t ino) override;
  Result<std::vector<Entry>> readdir(uint64_t ino) override;
  Result<std::vector<std::string>> entry_names(uint64_t ino) override;
  Result<std::vector<Entry>> entries_from(uint64_t ino, const std::string& from, uint32_t limit) override;
  Result<FsStats> statfs() override;
  using Meta::purge;
  Status purge(const std::vector<uint64_t>& inos) override;

  Result<Attr> truncate(uint64_t ino, uint64_t size, int64_t now_ns) override;
  Result<uint64_t> begin_slice(uint64_t ino, uint64_t chunk, uint64_t session, uint64_t len = 0) override;
  Result<Attr> commit_slice(const Slice& s, uint64_t min_size, int64_t now_ns) override;
  Result<Attr> commit_append(const Slice& s, int64_t now_ns) override;
  Status abort_slice(uint64_t slice_id) override;
  Result<std::vector<ChunkRef>> fragmented_chunks(uint64_t min_slices, size_t limit) override;
  Result<Attr> commit_compaction(const Slice& merged, const std::vector<uint64_t>& replaced, int64_t now_ns) override;
  Result<std::vector<Slice>> chunk_slices(uint64_t ino, uint64_t chunk) override;

  Result<std::vector<DeadBlock>> dead_blocks(size_t limit) override;
  Status forget_dead_blocks(const std::vector<uint64_t>& block_ids) override;
  Result<GcReferences> gc_references(const std::function<void(const GcBlockRef&)>& visit) override;  // sql_gc.cpp

  Result<std::vector<std::pair<uint64_t, Block>>> committed_blocks() override;
  Result<std::vector<Problem>> check_consistency(const CheckOptions& o = CheckOptions{}) override;
  Status repair_consistency(const CheckOptions& o, std::vector<RepairAction>* done) override;  // sql_repair.cpp
  std::string path_of(uint64_t ino) override;

 private:
  struct Inode {
    Attr attr;
    uint64_t parent = 0;   // directories only
    bool is_dir() const;
  };
  // Ids handed out from a range reserved in the counters table.
  struct IdBatch {
    uint64_t next = 0, end = 0;
    bool reserved_in_tx = false;   // reserved by the open transaction: void on rollback
  };
  enum class Tx { kNone, kRead, kWrite };

  // Runs body (returning Status or Result<T>) as one transaction: commits if
  // it returns ok (or commit_on_error_ was set), rolls back otherwise; reruns
  // it on retryable database errors; turns DbError into Status naming `what`.
  template <class F>
  auto run(const char* what, Tx tx, F&& body) -> decltype(body()) {
    return run(what, tx, Keys{}, std::forward<F>(body));
  }
  // The same for a write transaction that updates the rows of the inodes in
  // `keys` (parent directories, the file): engines with concurrent writers
  // make such transactions wait for each other instead of failing and
  // retrying (SqlConn::lock_keys).
  using Keys = std::vector<uint64_t>;
  template <class F>
  auto run(const char* what, Tx tx, const Keys& keys, F&& body) -> decltype(body());

  void after_rollback();

  // ---- helpers; all run inside run() and may throw DbError ----------------
  static Inode read_inode(Query& q, int col);
  std::optional<Inode> load_inode(uint64_t ino);
  // The inode if it exists and is a directory; ENOENT / ENOTDIR otherwise.
  Result<Inode> load_dir(uint64_t ino, const char* role);
  // load_dir and find_entry(ino, name) in one statement: *entry is the
  // inode `name` points to, if any; *target (if given) that inode's row, if
  // it exists.
  Result<Inode> load_dir_entry(uint64_t ino, const std::string& name, const char* role,
                               std::optional<uint64_t>* entry, std::optional<Inode>* target = nullptr);
  std::optional<uint64_t> find_entry(uint64_t parent, const std::string& name);
  uint64_t alloc_id(IdBatch& b, const char* counter, uint64_t batch);
  // add_counter, touch_dir and set_ctime_nlink run their statement with
  // Query::later(): call them only inside a write transaction (or outside
  // any), never where a statement's effect must be checked.
  void add_counter(const char* name, int64_t delta);
  // The counters row a change of statistic `name` goes to (one of
  // counter_shards() rows, chosen at random).
  std::string counter_row(const char* name);
  // mknod as one data-modifying statement (engines with writable_ctes()):
  // sql_mknod_cte.cpp. `mode` carries the file type.
  Result<Attr> mknod_one_statement(uint64_t parent, const std::string& name, uint32_t mode, uint32_t uid,
                                   uint32_t gid, uint64_t rdev, const std::string& target, int64_t now);
  // nlink += delta, mtime = ctime = now (a directory whose entries changed).
  void touch_dir(uint64_t ino, int64_t nlink_delta, int64_t now);
  void set_ctime_nlink(uint64_t ino, int64_t nlink_delta, int64_t now);
  bool is_descendant(uint64_t ino, uint64_t ancestor);
  // The commit order (slices.ord) the next committed slice of a chunk gets.
  uint64_t next_ord(uint64_t ino, uint64_t chunk);
  // Deletes the slices selected by `slice_ids_sql` (a SELECT of slice ids with
  // one parameter $1 = key), their slice_blocks, and drops one reference per
  // slice_blocks row; blocks left without references move to dead_blocks.
  void release_slices(const std::string& slice_ids_sql, int64_t key, int64_t now);
  // The same with several parameters: $1..$N = keys, and then $N+1 is free.
  void release_slices(const std::string& slice_ids_sql, const std::vector<int64_t>& keys, int64_t now);
  // Commit steps shared by commit_slice and commit_append (sql_data.cpp).
  Result<Inode> pending_slice_inode(const Slice& s, bool check_chunk, int64_t now);
  void insert_blocks(const Slice& s, const std::vector<uint64_t>& slice_ids);
  void count_chunk_slice(uint64_t ino, uint64_t chunk);
  Attr grow_to(Inode& n, uint64_t min_size, int64_t now);
  // Records blocks that were uploaded but will never be referenced.
  void bury_blocks(const std::vector<Block>& blocks, uint64_t slice_id, int64_t now);
  // purge() without its own transaction.
  void purge_in_tx(uint64_t ino, int64_t now);
  void purge_in_tx(const std::vector<uint64_t>& inos, int64_t now);
  const VolumeSettings& settings();   // cached; throws DbError(ENODATA) if not formatted
  Result<VolumeSettings> read_settings();
  std::string path_in_tx(uint64_t ino);
  // fsck --repair steps (sql_repair.cpp); each runs inside run().
  std::vector<RepairAction> repair_entries_in_tx(int64_t now);
  std::vector<RepairAction> repair_unreachable_in_tx(int64_t now);
  std::vector<RepairAction> repair_links_in_tx(int64_t now);
  std::vector<RepairAction> repair_blocks_in_tx(int64_t now);
  std::vector<RepairAction> repair_counts_in_tx();
  std::optional<uint64_t> lost_found_in_tx(int64_t now, std::vector<RepairAction>& out);

  std::unique_ptr<SqlConn> conn_;
  IdBatch inode_ids_, slice_ids_;
  std::optional<VolumeSettings> settings_;
  bool commit_on_error_ = false;
};

Status check_name(const std::string& name);
// Retry policy of run(): a random pause that grows with the attempt (jitter
// keeps two clients from colliding again in lockstep), and the EIO plus log
// line once the attempts are used up.
void retry_pause(const char* what, int attempt, const DbError& e);
Status gave_up(const char* what, int attempts, const DbError& e);

template <class F>
auto SqlMeta::run(const char* what, Tx tx, const Keys& keys, F&& body) -> decltype(body()) {
  using R = decltype(body());
  const int attempts = conn_->max_attempts();
  std::vector<int64_t> locks;
  for (uint64_t k : keys)
    if (k != 0 && k <= static_cast<uint64_t>(INT64_MAX)) locks.push_back(static_cast<int64_t>(k));
  std::sort(locks.begin(), locks.end());   // one order for everyone: no deadlock
  locks.erase(std::unique(locks.begin(), locks.end()), locks.end());
  for (int attempt = 1;; ++attempt) {
    commit_on_error_ = false;
    try {
      if (tx == Tx::kWrite && !locks.empty()) conn_->lock_keys(locks);
      if (tx != Tx::kNone) conn_->begin(tx == Tx::kWrite);
      R r = body();
      if (tx != Tx::kNone) {
        if (r.ok() || commit_on_error_) {
          conn_->commit();
          inode_ids_.reserved_in_tx = slice_ids_.reserved_in_tx = false;
        } else {
          conn_->rollback();
          after_rollback();
        }
      }
      return r;
    } catch (const DbError& e) {
      conn_->rollback();
      after_rollback();
      if (e.retryable && attempt < attempts) {
        retry_pause(what, attempt, e);
        continue;
      }
      if (e.retryable) return R(gave_up(what, attempt, e));
      return R(Status::Error(e.err, std::string(what) + ": " + e.what()));
    } catch (const std::bad_alloc&) {
      conn_->rollback();
      after_rollback();
      return R(Status::Error(ENOMEM, std::string(what) + ": out of memory"));
    } catch (const std::exception& e) {
      conn_->rollback();
      after_rollback();
      return R(Status::Error(EIO, std::string(what) + ": internal error: " + e.what()));
    }
  }
}

}  // namespace s3l::meta
