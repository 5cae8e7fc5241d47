// SqlMeta: sessions (one per mount) and the dead-block queue.
#include <cerrno>

#include "meta/sql_meta.hpp"
#include "util/clock.hpp"

namespace s3l::meta {

namespace {
// The columns session_row() reads, in its order.
constexpr const char* kSessionCols = "id, host, pid, mountpoint, version, started, heartbeat, expiry";

SessionInfo session_row(Query& q) {
  SessionInfo s;
  s.id = q.u64(0);
  s.host = q.str(1);
  s.pid = q.i64(2);
  s.mountpoint = q.str(3);
  s.version = q.str(4);
  s.started_ns = q.i64(5);
  s.heartbeat_ns = q.i64(6);
  s.expiry_ns = q.i64(7);
  return s;
}
}  // namespace

Result<uint64_t> SqlMeta::register_session(const SessionInfo& info) {
  return run("register session", Tx::kWrite, [&]() -> Result<uint64_t> {
    IdBatch one;   // sessions are rare: no batching, ids stay dense
    uint64_t id = alloc_id(one, "next_session", 1);
    int64_t started = info.started_ns ? info.started_ns : now_ns();
    Query(*conn_, "INSERT INTO sessions (id, host, pid, mountpoint, version, started, heartbeat, expiry) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(1, id)
        .text(2, info.host)
        .bind(3, info.pid)
        .text(4, info.mountpoint)
        .text(5, info.version)
        .bind(6, started)
        .bind(7, info.heartbeat_ns ? info.heartbeat_ns : started)
        .bind(8, info.expiry_ns > 0 ? info.expiry_ns : kDefaultSessionExpiryNs)
        .run();
    return id;
  });
}

Status SqlMeta::heartbeat(uint64_t session, int64_t now) {
  return run("heartbeat", Tx::kWrite, [&]() -> Status {
    if (Query(*conn_, "UPDATE sessions SET heartbeat = $2 WHERE id = $1").bind(1, session).bind(2, now).run() == 0)
      return Status::Error(ENOENT, "session " + std::to_string(session) +
                                       " does not exist (closed, or cleaned up as stale)");
    return Status::Ok();
  });
}

Status SqlMeta::sync() {
  try {
    conn_->sync();
    return Status::Ok();
  } catch (const DbError& e) {
    return Status::Error(e.err, std::string("sync: ") + e.what());
  }
}

Status SqlMeta::close_session(uint64_t session) {
  return run("close session", Tx::kWrite, [&]() -> Status {
    int64_t now = now_ns();
    std::vector<uint64_t> orphans;
    {
      Query q(*conn_, "SELECT ino FROM orphans WHERE session = $1");
      q.bind(1, session);
      while (q.next()) orphans.push_back(q.u64(0));
    }
    purge_in_tx(orphans, now);
    // Rows purge left (an orphan that was linked again) are no longer this session's.
    Query(*conn_, "DELETE FROM orphans WHERE session = $1").bind(1, session).run();
    // Pending slices: the objects their uploads may have stored are named by
    // (id, planned length); queue them all (deleting a missing one is fine).
    {
      std::vector<std::pair<uint64_t, uint64_t>> pending;
      {
        Query q(*conn_, "SELECT id, len FROM slices WHERE session = $1 AND status = 0");
        q.bind(1, session);
        while (q.next()) pending.emplace_back(q.u64(0), q.u64(1));
      }
      const uint64_t bs = settings().block_size;
      for (auto& [id, len] : pending) {
        std::vector<Block> blocks;
        uint32_t idx = 0;
        for (uint64_t off = 0; off < len; off += bs, ++idx)
          blocks.push_back(Block{0, id, idx, static_cast<uint32_t>(std::min(bs, len - off)), ""});
        bury_blocks(blocks, id, now);
      }
    }
    release_slices("SELECT id FROM slices WHERE session = $1 AND status = 0", static_cast<int64_t>(session), now);
    Query(*conn_, "DELETE FROM locks WHERE session = $1").bind(1, session).run();
    Query(*conn_, "DELETE FROM sessions WHERE id = $1").bind(1, session).run();
    return Status::Ok();
  });
}

Result<std::vector<SessionInfo>> SqlMeta::list_sessions() {
  return run("list sessions", Tx::kNone, [&]() -> Result<std::vector<SessionInfo>> {
    std::vector<SessionInfo> out;
    Query q(*conn_, std::string("SELECT ") + kSessionCols + " FROM sessions ORDER BY id");
    while (q.next()) out.push_back(session_row(q));
    return out;
  });
}

Result<std::vector<SessionInfo>> SqlMeta::stale_sessions(uint64_t me, int64_t now, int64_t lease_ns) {
  return run("stale sessions", Tx::kWrite, [&]() -> Result<std::vector<SessionInfo>> {
    std::vector<SessionInfo> out;
    Query(*conn_, "INSERT INTO leases (name, holder, until) VALUES ('cleaner', $1, $2) "
                  "ON CONFLICT (name) DO UPDATE SET holder = $1, until = $2 "
                  "WHERE leases.holder = $1 OR leases.until < $3")
        .bind(1, me).bind(2, now + lease_ns).bind(3, now).run();
    {
      Query q(*conn_, "SELECT holder FROM leases WHERE name = 'cleaner'");
      if (!q.next() || q.u64(0) != me) return out;   // another cleaner acts
    }
    Query q(*conn_, std::string("SELECT ") + kSessionCols +
                        " FROM sessions WHERE id <> $1 AND heartbeat < $2 - expiry ORDER BY id");
    q.bind(1, me).bind(2, now);
    while (q.next()) out.push_back(session_row(q));
    return out;
  });
}

Result<std::vector<DeadBlock>> SqlMeta::dead_blocks(size_t limit) {
  return run("dead blocks", Tx::kNone, [&]() -> Result<std::vector<DeadBlock>> {
    std::vector<DeadBlock> out;
    if (limit == 0) return out;
    Query q(*conn_, "SELECT block_id, slice_id, idx, size, since FROM dead_blocks ORDER BY block_id LIMIT $1");
    q.bind(1, static_cast<uint64_t>(std::min<size_t>(limit, INT64_MAX)));
    while (q.next()) out.push_back(DeadBlock{q.u64(0), q.u64(1), q.u32(2), q.u32(3), q.i64(4)});
    // The caller deletes these objects next. The unlink or truncate that made
    // them dead may be committed but not yet on disk (SQLite sync=normal):
    // after a power loss it would be undone and the file would point at
    // deleted objects. Make every commit this read saw durable first.
    if (!out.empty()) conn_->sync();
    return out;
  });
}

Status SqlMeta::forget_dead_blocks(const std::vector<uint64_t>& block_ids) {
  if (block_ids.empty()) return Status::Ok();
  return run("forget dead blocks", Tx::kWrite, [&]() -> Status {
    for (uint64_t id : block_ids) Query(*conn_, "DELETE FROM dead_blocks WHERE block_id = $1").bind(1, id).run();
    return Status::Ok();
  });
}

}  // namespace s3l::meta
