// SqlMeta: file data (slices and blocks), truncate and purge.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "meta/sql_meta.hpp"
#include "util/clock.hpp"

namespace s3l::meta {
namespace {
// Binds keys[i] to $(i+1).
Query& bind_keys(Query& q, const std::vector<int64_t>& keys) {
  for (size_t i = 0; i < keys.size(); ++i) q.bind(static_cast<int>(i) + 1, keys[i]);
  return q;
}

constexpr uint64_t kMaxFileSize = static_cast<uint64_t>(INT64_MAX);

bool is_sha256_hex(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string slice_name(uint64_t id) { return "slice " + std::to_string(id); }

// A slice's shape must match what the readers assume (meta/slice_map.hpp):
// block i covers [i*block_size, ...), all full but the last, sizes sum to len.
Status validate_slice(const Slice& s, const VolumeSettings& v) {
  if (s.len == 0) return Status::Error(EINVAL, slice_name(s.id) + " is empty");
  if (s.pos >= v.chunk_size || s.len > v.chunk_size - s.pos)
    return Status::Error(EINVAL, slice_name(s.id) + " [" + std::to_string(s.pos) + ", +" +
                                     std::to_string(s.len) + ") does not fit in a chunk of " +
                                     std::to_string(v.chunk_size) + " bytes");
  if (s.zero) {
    if (!s.blocks.empty()) return Status::Error(EINVAL, "zero " + slice_name(s.id) + " cannot have blocks");
    return Status::Ok();
  }
  uint64_t want = (s.len + v.block_size - 1) / v.block_size;
  if (s.blocks.size() != want)
    return Status::Error(EINVAL, slice_name(s.id) + " of " + std::to_string(s.len) + " bytes needs " +
                                     std::to_string(want) + " blocks, got " + std::to_string(s.blocks.size()));
  for (size_t i = 0; i < s.blocks.size(); ++i) {
    const Block& b = s.blocks[i];
    uint64_t expect = i + 1 < s.blocks.size() ? v.block_size : s.len - i * v.block_size;
    std::string which = "block " + std::to_string(i) + " of " + slice_name(s.id);
    if (b.slice_id != s.id || b.index != i)
      return Status::Error(EINVAL, which + " is named (slice " + std::to_string(b.slice_id) + ", index " +
                                       std::to_string(b.index) + ")");
    if (b.size != expect)
      return Status::Error(EINVAL, which + " has " + std::to_string(b.size) + " bytes, expected " +
                                       std::to_string(expect));
    if (!is_sha256_hex(b.checksum))
      return Status::Error(EINVAL, which + " has no valid lowercase hex SHA-256 checksum");
  }
  return Status::Ok();
}

}  // namespace

// Slices are ordered by commit, not by id: ids are handed out when a slice is
// cut (and in batches per connection), while the last committed write must win.
// Concurrent commits to one chunk both update its chunks row, so the database
// serialises them and each sees the other's ord.
uint64_t SqlMeta::next_ord(uint64_t ino, uint64_t chunk) {
  Query q(*conn_, "SELECT MAX(ord) FROM slices WHERE ino = $1 AND chunk = $2 AND status = 1");
  q.bind(1, ino).bind(2, chunk);
  if (q.next() && !q.is_null(0)) return q.u64(0) + 1;
  return 1;
}

void SqlMeta::release_slices(const std::string& set, int64_t key, int64_t now) {
  release_slices(set, std::vector<int64_t>{key}, now);
}

void SqlMeta::release_slices(const std::string& set, const std::vector<int64_t>& keys, int64_t now) {
  const std::string blocks_of_set = "SELECT sb.block_id FROM slice_blocks sb WHERE sb.slice_id IN (" + set + ")";
  const int at_now = static_cast<int>(keys.size()) + 1;   // `now` follows the set's parameters
  // One reference per slice_blocks row, and the rows go in the same
  // transaction: a reference can never be dropped twice.
  {
    Query q(*conn_, "UPDATE blocks SET refs = refs - c.n FROM (SELECT sb.block_id, COUNT(*) AS n "
                    "FROM slice_blocks sb WHERE sb.slice_id IN (" + set + ") GROUP BY sb.block_id) AS c "
                    "WHERE blocks.id = c.block_id");
    bind_keys(q, keys).later();
  }
  // Queued (Query::later): they run in this order, before anything the
  // transaction reads next, and share one round trip.
  {
    Query q(*conn_, "INSERT INTO dead_blocks (block_id, slice_id, idx, size, since) "
                    "SELECT id, slice_id, idx, size, CAST($" + std::to_string(at_now) + " AS BIGINT) FROM blocks "
                    "WHERE refs <= 0 AND id IN (" + blocks_of_set + ") ON CONFLICT (block_id) DO NOTHING");
    bind_keys(q, keys).bind(at_now, now).later();
  }
  for (const std::string& sql : {"DELETE FROM blocks WHERE refs <= 0 AND id IN (" + blocks_of_set + ")",
                                 "DELETE FROM slice_blocks WHERE slice_id IN (" + set + ")",
                                 "DELETE FROM slices WHERE id IN (" + set + ")"}) {
    Query q(*conn_, sql);
    bind_keys(q, keys).later();
  }
}

void SqlMeta::bury_blocks(const std::vector<Block>& blocks, uint64_t slice_id, int64_t now) {
  // Ids come from the blocks sequence so a dead block never shares an id.
  for (const Block& b : blocks) {
    Query q(*conn_, "INSERT INTO blocks (slice_id, idx, size, checksum, refs) VALUES ($1, $2, $3, $4, 0) RETURNING id");
    q.bind(1, slice_id).bind(2, b.index).bind(3, b.size).text(4, b.checksum);
    if (!q.next()) throw DbError(EIO, false, "INSERT ... RETURNING returned no block id");
    int64_t id = q.i64(0);
    q.run();
    Query(*conn_, "INSERT INTO dead_blocks (block_id, slice_id, idx, size, since) VALUES ($1, $2, $3, $4, $5)")
        .bind(1, id).bind(2, slice_id).bind(3, b.index).bind(4, b.size).bind(5, now).run();
    Query(*conn_, "DELETE FROM blocks WHERE id = $1").bind(1, id).run();
  }
}

Result<Attr> SqlMeta::truncate(uint64_t ino, uint64_t size, int64_t now) {
  if (size > kMaxFileSize) return Status::Error(EFBIG, "size " + std::to_string(size) + " is too large");
  return run("truncate", Tx::kWrite, Keys{ino}, [&]() -> Result<Attr> {
    auto n = load_inode(ino);
    if (!n) return Status::Error(ENOENT, "inode " + std::to_string(ino) + " does not exist");
    if (n->is_dir()) return Status::Error(EISDIR, "inode " + std::to_string(ino) + " is a directory");
    if ((n->attr.mode & S_IFMT) != S_IFREG)
      return Status::Error(EINVAL, "inode " + std::to_string(ino) + " is not a regular file");
    uint64_t old = n->attr.size;
    if (size < old) {
      const uint64_t cs = settings().chunk_size;
      const uint64_t c = size / cs, off = size % cs;
      if (size == 0) {
        release_slices("SELECT id FROM slices WHERE ino = $1 AND status = 1", static_cast<int64_t>(ino), now);
        Query(*conn_, "DELETE FROM chunks WHERE ino = $1").bind(1, ino).run();
      } else {
        std::vector<uint64_t> gone;
        {
          Query q(*conn_, "SELECT id FROM slices WHERE ino = $1 AND status = 1 AND "
                          "(chunk > $2 OR (chunk = $2 AND pos >= $3))");
          q.bind(1, ino).bind(2, c).bind(3, off);
          while (q.next()) gone.push_back(q.u64(0));
        }
        for (uint64_t id : gone)
          release_slices("SELECT id FROM slices WHERE id = $1", static_cast<int64_t>(id), now);
        // Older slices may still reach past the cut inside the boundary chunk: a
        // zero slice shadows them up to their end so those bytes never come back.
        uint64_t reach = 0;
        if (off > 0) {
          Query q(*conn_, "SELECT MAX(pos + len) FROM slices WHERE ino = $1 AND chunk = $2 AND status = 1 AND pos < $3");
          q.bind(1, ino).bind(2, c).bind(3, off);
          if (q.next() && !q.is_null(0)) reach = q.u64(0);
        }
        if (reach > off) {
          uint64_t zid = alloc_id(slice_ids_, "next_slice", 64);
          Query(*conn_, "INSERT INTO slices (id, ino, chunk, pos, len, zero, status, session, created, ord) "
                        "VALUES ($1, $2, $3, $4, $5, 1, 1, 0, $6, $7)")
              .bind(1, zid).bind(2, ino).bind(3, c).bind(4, off).bind(5, reach - off).bind(6, now)
              .bind(7, next_ord(ino, c)).run();
        }
        // Recount the chunks of the cut tail (few rows: index range).
        Query(*conn_, "UPDATE chunks SET slices = (SELECT COUNT(*) FROM slices s WHERE s.ino = chunks.ino "
                      "AND s.chunk = chunks.idx AND s.status = 1) WHERE ino = $1 AND idx >= $2")
            .bind(1, ino).bind(2, c).run();
        if (reach > off)
          Query(*conn_, "INSERT INTO chunks (ino, idx, slices) SELECT CAST($1 AS BIGINT), CAST($2 AS BIGINT), COUNT(*) FROM slices "
                        "WHERE ino = $1 AND chunk = $2 AND status = 1 ON CONFLICT (ino, idx) DO NOTHING")
              .bind(1, ino).bind(2, c).run();
        Query(*conn_, "DELETE FROM chunks WHERE ino = $1 AND idx >= $2 AND slices = 0").bind(1, ino).bind(2, c).run();
      }
    }
    Query(*conn_, "UPDATE inodes SET size = $2, mtime = $3, ctime = $3 WHERE ino = $1")
        .bind(1, ino).bind(2, size).bind(3, now).run();
    add_counter("used_bytes", static_cast<int64_t>(size) - static_cast<int64_t>(old));
    n->attr.size = size;
    n->attr.mtime_ns = n->attr.ctime_ns = now;
    return n->attr;
  });
}

Result<uint64_t> SqlMeta::begin_slice(uint64_t ino, uint64_t chunk, uint64_t session, uint64_t len) {
  return run("begin slice", Tx::kWrite, [&]() -> Result<uint64_t> {
    auto n = load_inode(ino);
    if (!n) return Status::Error(ENOENT, "inode " + std::to_string(ino) + " does not exist");
    if ((n->attr.mode & S_IFMT) != S_IFREG)
      return Status::Error(n->is_dir() ? EISDIR : EINVAL, "inode " + std::to_string(ino) + " is not a regular file");
    if (chunk > kMaxFileSize / settings().chunk_size)
      return Status::Error(EFBIG, "chunk " + std::to_string(chunk) + " lies beyond the largest file size");
    if (len > settings().chunk_size)
      return Status::Error(EINVAL, "a slice of " + std::to_string(len) + " bytes does not fit in a chunk");
    uint64_t id = alloc_id(slice_ids_, "next_slice", 64);
    // A pending row's len is the planned length (its objects' names); the
    // commit sets the real place and length.
    Query(*conn_, "INSERT INTO slices (id, ino, chunk, pos, len, zero, status, session, created) "
                  "VALUES ($1, $2, $3, 0, $6, 0, 0, $4, $5)")
        .bind(1, id).bind(2, ino).bind(3, chunk).bind(4, session).bind(5, now_ns()).bind(6, len).run();
    return id;
  });
}

// The pending row of a slice about to be committed: it must exist, be
// pending and belong to the inode (and to the chunk, unless the commit places
// the slice itself). If the inode is gone, the uploaded blocks are queued for
// deletion and that change is kept even though the commit fails.
Result<SqlMeta::Inode> SqlMeta::pending_slice_inode(const Slice& s, bool check_chunk, int64_t now) {
  bool known = false, committed = false;
  uint64_t row_ino = 0, row_chunk = 0;
  {
    Query q(*conn_, "SELECT ino, chunk, status FROM slices WHERE id = $1");
    q.bind(1, s.id);
    if (q.next()) {
      known = true;
      row_ino = q.u64(0);
      row_chunk = q.u64(1);
      committed = q.i64(2) != 0;
    }
  }
  if (committed) return Status::Error(EINVAL, slice_name(s.id) + " is already committed");
  if (known && (row_ino != s.ino || (check_chunk && row_chunk != s.chunk)))
    return Status::Error(EINVAL, slice_name(s.id) + " was begun for inode " + std::to_string(row_ino) +
                                     " chunk " + std::to_string(row_chunk) + ", not inode " +
                                     std::to_string(s.ino) + " chunk " + std::to_string(s.chunk));
  auto n = load_inode(s.ino);
  if (!n) {
    // The file was deleted and purged while the blocks uploaded: they will
    // never be referenced, queue them for deletion (and keep that change).
    bury_blocks(s.blocks, s.id, now);
    if (known) Query(*conn_, "DELETE FROM slices WHERE id = $1").bind(1, s.id).run();
    commit_on_error_ = true;
    return Status::Error(ENOENT, "inode " + std::to_string(s.ino) + " no longer exists; " +
                                     std::to_string(s.blocks.size()) + " blocks of " + slice_name(s.id) +
                                     " queued for deletion");
  }
  if (!known)
    return Status::Error(EINVAL, slice_name(s.id) + " is unknown (never begun, aborted, or its session was closed)");
  return std::move(*n);
}

// Inserts the uploaded blocks (one reference each per slice row in
// `slice_ids`) and the slice_blocks rows of every one of those rows.
void SqlMeta::insert_blocks(const Slice& s, const std::vector<uint64_t>& slice_ids) {
  for (size_t i = 0; i < s.blocks.size(); ++i) {
    const Block& b = s.blocks[i];
    int64_t bid = 0;
    {
      Query q(*conn_, "INSERT INTO blocks (slice_id, idx, size, checksum, refs) VALUES ($1, $2, $3, $4, $5) RETURNING id");
      q.bind(1, s.id).bind(2, b.index).bind(3, b.size).text(4, b.checksum).bind(5, static_cast<uint64_t>(slice_ids.size()));
      if (!q.next()) throw DbError(EIO, false, "INSERT ... RETURNING returned no block id");
      bid = q.i64(0);
      q.run();
    }
    for (uint64_t sid : slice_ids)
      Query(*conn_, "INSERT INTO slice_blocks (slice_id, seq, block_id) VALUES ($1, $2, $3)")
          .bind(1, sid).bind(2, static_cast<uint64_t>(i)).bind(3, bid).run();
  }
}

void SqlMeta::count_chunk_slice(uint64_t ino, uint64_t chunk) {
  Query(*conn_, "INSERT INTO chunks (ino, idx, slices) VALUES ($1, $2, 1) "
                "ON CONFLICT (ino, idx) DO UPDATE SET slices = chunks.slices + 1")
      .bind(1, ino).bind(2, chunk).run();
}

Attr SqlMeta::grow_to(Inode& n, uint64_t min_size, int64_t now) {
  uint64_t size = std::max(n.attr.size, min_size);
  Query(*conn_, "UPDATE inodes SET size = $2, mtime = $3, ctime = $3 WHERE ino = $1")
      .bind(1, n.attr.ino).bind(2, size).bind(3, now).run();
  add_counter("used_bytes", static_cast<int64_t>(size - n.attr.size));
  n.attr.size = size;
  n.attr.mtime_ns = n.attr.ctime_ns = now;
  return n.attr;
}

Result<Attr> SqlMeta::commit_slice(const Slice& s, uint64_t min_size, int64_t now) {
  if (min_size > kMaxFileSize) return Status::Error(EFBIG, "size " + std::to_string(min_size) + " is too large");
  return run("commit slice", Tx::kWrite, Keys{s.ino}, [&]() -> Result<Attr> {
    if (Status v = validate_slice(s, settings()); !v.ok()) return v;
    auto n = pending_slice_inode(s, true, now);
    if (!n.ok()) return n.status;
    insert_blocks(s, {s.id});
    Query(*conn_, "UPDATE slices SET pos = $2, len = $3, zero = $4, status = 1, ord = $5, off = 0 WHERE id = $1")
        .bind(1, s.id).bind(2, s.pos).bind(3, s.len).bind(4, s.zero).bind(5, next_ord(s.ino, s.chunk)).run();
    count_chunk_slice(s.ino, s.chunk);
    return grow_to(n.value, min_size, now);
  });
}

Result<Attr> SqlMeta::commit_append(const Slice& s_in, int64_t now) {
  return run("commit append", Tx::kWrite, Keys{s_in.ino}, [&]() -> Result<Attr> {
    const uint64_t cs = settings().chunk_size;
    Slice s = s_in;
    s.pos = 0;   // the blocks' shape is that of a slice at the chunk start
    if (Status v = validate_slice(s, settings()); !v.ok()) return v;
    auto n = pending_slice_inode(s, false, now);
    if (!n.ok()) return n.status;
    if ((n.value.attr.mode & S_IFMT) != S_IFREG)
      return Status::Error(EINVAL, "inode " + std::to_string(s.ino) + " is not a regular file");
    const uint64_t at = n.value.attr.size;
    if (at > kMaxFileSize - s.len)
      return Status::Error(EFBIG, "appending " + std::to_string(s.len) + " bytes to a file of " +
                                      std::to_string(at) + " bytes exceeds the largest file size");
    const uint64_t c = at / cs, pos = at % cs;
    const uint64_t first = std::min(s.len, cs - pos);
    std::vector<uint64_t> rows{s.id};
    if (first < s.len) {
      // Lands across a chunk end: a second row in the next chunk reads the
      // same blocks from offset `first`.
      uint64_t id2 = alloc_id(slice_ids_, "next_slice", 64);
      Query(*conn_, "INSERT INTO slices (id, ino, chunk, pos, len, zero, status, session, created, ord, off) "
                    "VALUES ($1, $2, $3, 0, $4, 0, 1, 0, $5, $6, $7)")
          .bind(1, id2).bind(2, s.ino).bind(3, c + 1).bind(4, s.len - first).bind(5, now)
          .bind(6, next_ord(s.ino, c + 1)).bind(7, first).run();
      count_chunk_slice(s.ino, c + 1);
      rows.push_back(id2);
    }
    insert_blocks(s, rows);
    Query(*conn_, "UPDATE slices SET chunk = $2, pos = $3, len = $4, zero = 0, status = 1, ord = $5, off = 0 "
                  "WHERE id = $1")
        .bind(1, s.id).bind(2, c).bind(3, pos).bind(4, first).bind(5, next_ord(s.ino, c)).run();
    count_chunk_slice(s.ino, c);
    return grow_to(n.value, at + s.len, now);
  });
}

Status SqlMeta::abort_slice(uint64_t slice_id) {
  return run("abort slice", Tx::kWrite, [&]() -> Status {
    Query q(*conn_, "SELECT status FROM slices WHERE id = $1");
    q.bind(1, slice_id);
    if (!q.next()) return Status::Ok();   // already gone (purged with its inode, or aborted)
    if (q.i64(0) != 0) return Status::Error(EINVAL, slice_name(slice_id) + " is committed; it cannot be aborted");
    release_slices("SELECT id FROM slices WHERE id = $1", static_cast<int64_t>(slice_id), now_ns());
    return Status::Ok();
  });
}

Result<std::vector<Slice>> SqlMeta::chunk_slices(uint64_t ino, uint64_t chunk) {
  return run("chunk slices", Tx::kNone, [&]() -> Result<std::vector<Slice>> {
    std::vector<Slice> out;
    // One statement: one consistent snapshot of the slices and their blocks.
    Query q(*conn_, "SELECT s.id, s.pos, s.len, s.zero, sb.block_id, b.id, b.slice_id, b.idx, b.size, b.checksum, s.off "
                    "FROM slices s LEFT JOIN slice_blocks sb ON sb.slice_id = s.id "
                    "LEFT JOIN blocks b ON b.id = sb.block_id "
                    "WHERE s.ino = $1 AND s.chunk = $2 AND s.status = 1 ORDER BY s.ord, s.id, sb.seq");
    q.bind(1, ino).bind(2, chunk);
    while (q.next()) {
      uint64_t id = q.u64(0);
      if (out.empty() || out.back().id != id) {
        Slice s;
        s.id = id;
        s.ino = ino;
        s.chunk = chunk;
        s.pos = q.u64(1);
        s.len = q.u64(2);
        s.zero = q.i64(3) != 0;
        s.off = q.u64(10);
        out.push_back(std::move(s));
      }
      if (q.is_null(4)) continue;   // a slice without blocks (zero slice)
      if (q.is_null(5))
        return Status::Error(EIO, slice_name(id) + " of inode " + std::to_string(ino) + " references missing block " +
                                      std::to_string(q.u64(4)) + " (damaged metadata; run fsck)");
      Block b;
      b.id = q.u64(5);
      b.slice_id = q.u64(6);
      b.index = q.u32(7);
      b.size = q.u32(8);
      b.checksum = q.str(9);
      out.back().blocks.push_back(std::move(b));
    }
    return out;
  });
}

Status SqlMeta::purge(const std::vector<uint64_t>& inos) {
  if (inos.empty()) return Status::Ok();
  return run("purge", Tx::kWrite, [&]() -> Status {
    purge_in_tx(inos, now_ns());
    return Status::Ok();
  });
}

void SqlMeta::purge_in_tx(uint64_t ino, int64_t now) { purge_in_tx(std::vector<uint64_t>{ino}, now); }

// Inodes go kPurgeBatch at a time, each statement naming all of them through
// a fixed list of parameters ($1..$kPurgeBatch, unused ones 0: no inode has
// that number): one statement text per step, prepared once, whatever the
// batch holds. A batch costs about what one inode used to.
void SqlMeta::purge_in_tx(const std::vector<uint64_t>& inos, int64_t now) {
  constexpr size_t kPurgeBatch = 32;
  std::string list;
  for (size_t i = 1; i <= kPurgeBatch; ++i) list += (i > 1 ? ",$" : "$") + std::to_string(i);
  auto keys_of = [&](const std::vector<uint64_t>& v) {
    std::vector<int64_t> k(kPurgeBatch, 0);
    for (size_t i = 0; i < v.size(); ++i) k[i] = static_cast<int64_t>(v[i]);
    return k;
  };
  auto each = [&](const std::string& sql, const std::vector<int64_t>& keys) {
    Query q(*conn_, sql);
    bind_keys(q, keys).later();
  };
  for (size_t from = 0; from < inos.size(); from += kPurgeBatch) {
    std::vector<uint64_t> asked(inos.begin() + from, inos.begin() + std::min(inos.size(), from + kPurgeBatch));
    std::vector<uint64_t> gone, free;   // no inode row any more / nlink 0: purge
    int64_t bytes = 0;
    {
      std::vector<uint64_t> found;
      Query q(*conn_, "SELECT ino, nlink, mode, size FROM inodes WHERE ino IN (" + list + ")");
      bind_keys(q, keys_of(asked));
      while (q.next()) {
        const uint64_t ino = q.u64(0);
        found.push_back(ino);
        if (q.u64(1) > 0 || ino == kRootIno) continue;   // linked again, or the root: not an orphan
        free.push_back(ino);
        if ((q.u32(2) & S_IFMT) == S_IFREG) bytes += static_cast<int64_t>(q.u64(3));
      }
      for (uint64_t ino : asked)
        if (std::find(found.begin(), found.end(), ino) == found.end()) gone.push_back(ino);
    }
    if (!gone.empty()) each("DELETE FROM orphans WHERE ino IN (" + list + ")", keys_of(gone));
    if (free.empty()) continue;
    const auto keys = keys_of(free);
    release_slices("SELECT id FROM slices WHERE ino IN (" + list + ")", keys, now);
    for (const char* table : {"chunks", "symlinks", "xattrs", "locks", "orphans", "inodes"})
      each(std::string("DELETE FROM ") + table + " WHERE ino IN (" + list + ")", keys);
    add_counter("inodes", -static_cast<int64_t>(free.size()));
    add_counter("used_bytes", -bytes);
  }
}

// ---- compaction: a fragmented chunk rewritten as one slice; the swap succeeds
// only if the chunk's slice list is exactly the one that was read.

Result<std::vector<ChunkRef>> SqlMeta::fragmented_chunks(uint64_t min_slices, size_t limit) {
  return run("fragmented chunks", Tx::kNone, [&]() -> Result<std::vector<ChunkRef>> {
    std::vector<ChunkRef> out;
    Query q(*conn_, "SELECT ino, idx, slices FROM chunks WHERE slices >= $1 ORDER BY slices DESC, ino, idx LIMIT $2");
    q.bind(1, std::max<uint64_t>(min_slices, 2)).bind(2, static_cast<uint64_t>(limit));
    while (q.next()) out.push_back(ChunkRef{q.u64(0), q.u64(1), q.u64(2)});
    return out;
  });
}

Result<Attr> SqlMeta::commit_compaction(const Slice& merged, const std::vector<uint64_t>& replaced, int64_t now) {
  return run("commit compaction", Tx::kWrite, Keys{merged.ino}, [&]() -> Result<Attr> {
    auto n = pending_slice_inode(merged, true, now);
    if (!n.ok()) return n.status;
    if (Status v = validate_slice(merged, settings()); !v.ok()) return v;
    const uint64_t cs = settings().chunk_size;
    std::vector<uint64_t> current;
    uint64_t lo = cs, hi = 0;   // the span the current slices cover
    {
      Query q(*conn_, "SELECT id, pos, len FROM slices WHERE ino = $1 AND chunk = $2 AND status = 1");
      q.bind(1, merged.ino).bind(2, merged.chunk);
      while (q.next()) {
        current.push_back(q.u64(0));
        lo = std::min(lo, q.u64(1));
        hi = std::max(hi, std::min(cs, q.u64(1) + q.u64(2)));
      }
    }
    std::vector<uint64_t> want = replaced;
    std::sort(current.begin(), current.end());
    std::sort(want.begin(), want.end());
    const std::string which = "chunk " + std::to_string(merged.chunk) + " of inode " + std::to_string(merged.ino);
    if (current != want) return Status::Error(EAGAIN, which + " changed while it was compacted");
    // The merged slice replaces every byte those slices make visible below
    // the end of the file, so it must span all of them: one cut short (the
    // size it was clipped to was read before a slice that grew the file) would
    // turn committed bytes into a hole. Refused like a changed list.
    const uint64_t chunk_start = merged.chunk * cs;
    const uint64_t visible_end = n.value.attr.size > chunk_start ? std::min(hi, n.value.attr.size - chunk_start) : 0;
    if (lo < visible_end && (merged.pos > lo || merged.pos + merged.len < visible_end))
      return Status::Error(EAGAIN, which + ": the merged slice [" + std::to_string(merged.pos) + ", +" +
                                       std::to_string(merged.len) + ") does not span the visible bytes [" +
                                       std::to_string(lo) + ", " + std::to_string(visible_end) +
                                       ") of the slices it replaces");
    for (uint64_t id : replaced)
      release_slices("SELECT id FROM slices WHERE id = $1", static_cast<int64_t>(id), now);
    insert_blocks(merged, {merged.id});
    Query(*conn_, "UPDATE slices SET pos = $2, len = $3, zero = $4, status = 1, ord = $5, off = 0 WHERE id = $1")
        .bind(1, merged.id).bind(2, merged.pos).bind(3, merged.len).bind(4, merged.zero)
        .bind(5, next_ord(merged.ino, merged.chunk)).run();
    Query(*conn_, "UPDATE chunks SET slices = 1 WHERE ino = $1 AND idx = $2").bind(1, merged.ino).bind(2, merged.chunk).run();
    return n.value.attr;   // size and times are unchanged: the visible bytes are the same
  });
}

}  // namespace s3l::meta
