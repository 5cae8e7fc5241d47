// SqlMeta: fsck support. These are full scans by nature; none of them runs
// on a hot path. The problem kinds are listed in docs/metadata.md
// ("check_consistency"); the repair of the safe ones is in sql_repair.cpp.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <tuple>

#include "meta/sql_check.hpp"
#include "meta/sql_meta.hpp"
#include "util/clock.hpp"

namespace s3l::meta {
namespace {

using check_sql::type_is;

constexpr size_t kMaxProblems = 100000;   // past this, one more problem says so

std::string n2s(uint64_t v) { return std::to_string(v); }

const char* type_name(uint32_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "regular file";
    case S_IFDIR: return "directory";
    case S_IFLNK: return "symlink";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "socket";
    case S_IFCHR: return "character device";
    case S_IFBLK: return "block device";
    default: return "inode of unknown type";
  }
}

// Why a session no longer counts as live: gone, or silent for too long.
std::string session_state(uint64_t id, bool row_exists, int64_t heartbeat, int64_t expiry, int64_t now) {
  if (!row_exists) return "session " + n2s(id) + " no longer exists";
  return "session " + n2s(id) + " sent its last heartbeat " + std::to_string((now - heartbeat) / 1'000'000'000) +
         " s ago (expiry " + std::to_string(expiry / 1'000'000'000) + " s)";
}

// A session is dead when its row is gone or its heartbeat is older than
// now ($1) minus the longer of fsck's expiry ($2) and the one the session
// registered (sessions.expiry, from its mount's heartbeat interval): fsck
// never calls a mount dead that the session cleaner still counts as live.
const char* const kDeadSession = "(s.id IS NULL OR s.heartbeat < $1 - CASE WHEN s.expiry > $2 THEN s.expiry ELSE $2 END)";
const char* const kExpiryCol = "CASE WHEN s.expiry > $2 THEN s.expiry ELSE $2 END";

}  // namespace

std::string SqlMeta::path_in_tx(uint64_t ino) {
  if (ino == kRootIno) return "/";
  std::vector<std::string> parts;
  uint64_t cur = ino;
  for (int depth = 0; depth < 4096 && cur != kRootIno; ++depth) {
    // Files with hard links: the first entry in (parent, name) order.
    Query q(*conn_, "SELECT parent, name FROM entries WHERE ino = $1 ORDER BY parent, name LIMIT 1");
    q.bind(1, cur);
    if (!q.next()) return "<ino " + std::to_string(ino) + ">";
    parts.push_back(q.bytes(1));
    cur = q.u64(0);
  }
  if (cur != kRootIno) return "<ino " + std::to_string(ino) + ">";
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) path += "/" + *it;
  return path;
}

std::string SqlMeta::path_of(uint64_t ino) {
  auto r = run("path of", Tx::kRead, [&]() -> Result<std::string> { return path_in_tx(ino); });
  return r.ok() ? *r : "<ino " + std::to_string(ino) + ">";
}

Result<std::vector<std::pair<uint64_t, Block>>> SqlMeta::committed_blocks() {
  using Out = std::vector<std::pair<uint64_t, Block>>;
  return run("committed blocks", Tx::kNone, [&]() -> Result<Out> {
    Out out;
    // DISTINCT: the rows of a split append share their blocks.
    Query q(*conn_, "SELECT DISTINCT s.ino, b.id, b.slice_id, b.idx, b.size, b.checksum FROM slices s "
                    "JOIN slice_blocks sb ON sb.slice_id = s.id JOIN blocks b ON b.id = sb.block_id "
                    "WHERE s.status = 1 ORDER BY b.id, s.ino");
    while (q.next()) out.emplace_back(q.u64(0), Block{q.u64(1), q.u64(2), q.u32(3), q.u32(4), q.str(5)});
    return out;
  });
}

Result<std::vector<Problem>> SqlMeta::check_consistency(const CheckOptions& opt) {
  const int64_t now = opt.now_ns ? opt.now_ns : now_ns();
  return run("check consistency", Tx::kRead, [&]() -> Result<std::vector<Problem>> {
    std::vector<Problem> out;
    const uint64_t cs = settings().chunk_size;
    const uint64_t bs = settings().block_size;
    auto add = [&](const char* kind, std::string where, std::string detail) {
      if (out.size() < kMaxProblems) out.push_back(Problem{kind, std::move(where), std::move(detail)});
    };
    auto entry_path = [&](uint64_t parent, const std::string& name) {
      std::string p = path_in_tx(parent);
      return (p == "/" ? "" : p) + "/" + name;
    };
    // The files a block or slice belongs to, for messages: " (file /a/b)".
    auto files_of_block = [&](uint64_t block_id, uint64_t slice_id) {
      std::vector<uint64_t> inos;
      {
        Query q(*conn_, "SELECT DISTINCT s.ino FROM slice_blocks sb JOIN slices s ON s.id = sb.slice_id "
                        "WHERE sb.block_id = $1 UNION SELECT ino FROM slices WHERE id = $2 ORDER BY 1 LIMIT 3");
        q.bind(1, block_id).bind(2, slice_id);
        while (q.next()) inos.push_back(q.u64(0));
      }
      std::string s;
      for (uint64_t ino : inos) s += (s.empty() ? "" : ", ") + path_in_tx(ino);
      return s.empty() ? std::string() : " (file " + s + ")";
    };
    const std::string is_dir_i = type_is("i.mode", S_IFDIR);

    {  // everything hangs off the root directory
      Query q(*conn_, "SELECT mode FROM inodes WHERE ino = 1");
      if (!q.next())
        add("missing-root", "/", "the root directory (inode 1) is missing");
      else if ((q.u32(0) & S_IFMT) != S_IFDIR)
        add("missing-root", "/", "inode 1 is a " + std::string(type_name(q.u32(0))) + ", not a directory");
    }
    {  // entries whose inode is gone
      std::vector<std::tuple<uint64_t, std::string, uint64_t>> rows;
      Query q(*conn_, "SELECT e.parent, e.name, e.ino FROM entries e LEFT JOIN inodes i ON i.ino = e.ino "
                      "WHERE i.ino IS NULL ORDER BY e.parent, e.name");
      while (q.next()) rows.emplace_back(q.u64(0), q.bytes(1), q.u64(2));
      for (auto& [parent, name, ino] : rows)
        add("dangling-entry", entry_path(parent, name), "points to missing inode " + n2s(ino));
    }
    {  // entries in something that is not a directory
      std::vector<std::tuple<uint64_t, std::string, uint64_t, bool>> rows;
      Query q(*conn_, "SELECT e.parent, e.name, e.ino, CASE WHEN i.ino IS NULL THEN 1 ELSE 0 END FROM entries e "
                      "LEFT JOIN inodes i ON i.ino = e.parent WHERE i.ino IS NULL OR NOT " + is_dir_i +
                      " ORDER BY e.parent, e.name");
      while (q.next()) rows.emplace_back(q.u64(0), q.bytes(1), q.u64(2), q.i64(3) != 0);
      for (auto& [parent, name, ino, missing] : rows)
        add("bad-parent", (missing ? "<ino " + n2s(parent) + ">/" + name : entry_path(parent, name)),
            "entry for inode " + n2s(ino) + " lives in " +
                (missing ? "missing inode " + n2s(parent) : "non-directory inode " + n2s(parent)));
    }
    {  // link counts
      struct Row { uint64_t ino; bool dir; uint64_t nlink, links, subdirs, orphan; };
      std::vector<Row> rows;
      Query q(*conn_, check_sql::link_counts_sql());
      while (q.next())
        rows.push_back(Row{q.u64(0), (q.u32(1) & S_IFMT) == S_IFDIR, q.u64(2), q.u64(3), q.u64(4), q.u64(5)});
      for (const Row& r : rows) {
        if (r.dir) {
          if (r.nlink != 2 + r.subdirs)
            add("nlink-mismatch", path_in_tx(r.ino), "directory nlink " + n2s(r.nlink) + ", expected 2 + " +
                                                         n2s(r.subdirs) + " subdirectories");
          const uint64_t want = r.ino == kRootIno ? 0 : 1;
          if (r.links > want)
            add("dir-links", path_in_tx(r.ino), "directory has " + n2s(r.links) + " entries, expected " + n2s(want));
        } else if (r.nlink != r.links) {
          add("nlink-mismatch", path_in_tx(r.ino), "nlink " + n2s(r.nlink) + " but " + n2s(r.links) + " entries");
        }
        if (r.orphan && r.nlink > 0)
          add("linked-orphan", path_in_tx(r.ino), "listed as orphan but has nlink " + n2s(r.nlink));
      }
    }
    {  // reachability from the root; orphans are judged below with their session
      struct Row { uint64_t ino; uint32_t mode; uint64_t nlink, links, size; };
      std::vector<Row> rows;
      Query q(*conn_, check_sql::unreachable_sql());
      while (q.next())
        if (q.is_null(4)) rows.push_back(Row{q.u64(0), q.u32(1), q.u64(2), q.u64(3), q.u64(5)});
      for (const Row& r : rows)
        add("unreachable-inode", "unreachable inode " + n2s(r.ino),
            std::string(type_name(r.mode)) + ((r.mode & S_IFMT) == S_IFREG ? " of " + n2s(r.size) + " bytes" : "") +
                ", nlink " + n2s(r.nlink) + ": " +
                (r.links == 0 ? "no entry names it" : "its entries are in directories cut off from the root") +
                " and no session holds it open");
    }
    {  // a directory's parent column must match its entry
      std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> rows;
      Query q(*conn_, "SELECT i.ino, i.parent, e.parent FROM inodes i JOIN entries e ON e.ino = i.ino WHERE " +
                          is_dir_i + " AND e.parent <> i.parent ORDER BY i.ino");
      while (q.next()) rows.emplace_back(q.u64(0), q.u64(1), q.u64(2));
      for (auto& [ino, col, ent] : rows)
        add("bad-dir-parent", path_in_tx(ino), "parent column " + n2s(col) + " but entry in " + n2s(ent));
    }
    {  // data beyond EOF: a committed data slice ending past the size, not shadowed by a newer zero slice
      std::vector<std::tuple<uint64_t, uint64_t, uint64_t, uint64_t>> rows;
      Query q(*conn_,
              "SELECT s.ino, s.id, s.chunk * $1 + s.pos + s.len, i.size FROM slices s JOIN inodes i ON i.ino = s.ino "
              "WHERE s.status = 1 AND s.zero = 0 AND s.chunk * $1 + s.pos + s.len > i.size AND NOT EXISTS ("
              "SELECT 1 FROM slices z WHERE z.ino = s.ino AND z.chunk = s.chunk AND z.status = 1 AND z.zero = 1 "
              "AND z.ord > s.ord AND z.pos + z.len >= s.pos + s.len AND z.chunk * $1 + z.pos <= "
              "CASE WHEN i.size > s.chunk * $1 + s.pos THEN i.size ELSE s.chunk * $1 + s.pos END) ORDER BY s.ino, s.id");
      q.bind(1, cs);
      while (q.next()) rows.emplace_back(q.u64(0), q.u64(1), q.u64(2), q.u64(3));
      for (auto& [ino, id, end, size] : rows)
        add("size-mismatch", path_in_tx(ino), "slice " + n2s(id) + " ends at " + n2s(end) + " beyond size " + n2s(size));
    }
    {
      Query q(*conn_, "SELECT s.id, s.ino FROM slices s LEFT JOIN inodes i ON i.ino = s.ino WHERE i.ino IS NULL "
                      "ORDER BY s.id");
      while (q.next()) add("dangling-slice", "slice " + n2s(q.u64(0)), "belongs to missing inode " + n2s(q.u64(1)));
    }
    {
      std::vector<std::tuple<uint64_t, uint64_t, uint64_t, uint64_t>> rows;
      Query q(*conn_, "SELECT id, ino, pos, len FROM slices WHERE status = 1 AND pos + len > $1 ORDER BY id");
      q.bind(1, cs);
      while (q.next()) rows.emplace_back(q.u64(0), q.u64(1), q.u64(2), q.u64(3));
      for (auto& [id, ino, pos, len] : rows)
        add("slice-out-of-chunk", path_in_tx(ino),
            "slice " + n2s(id) + " covers [" + n2s(pos) + ", +" + n2s(len) + ") beyond the chunk size " + n2s(cs));
    }
    {  // a committed data slice needs a block for every block_size of [0, off + len)
      std::vector<std::tuple<uint64_t, uint64_t, uint64_t, uint64_t>> rows;
      Query q(*conn_, "SELECT s.id, s.ino, COUNT(sb.block_id), (s.off + s.len + $1 - 1) / $1 FROM slices s "
                      "LEFT JOIN slice_blocks sb ON sb.slice_id = s.id WHERE s.status = 1 AND s.zero = 0 "
                      "GROUP BY s.id, s.ino, s.off, s.len HAVING COUNT(sb.block_id) < (s.off + s.len + $1 - 1) / $1 "
                      "ORDER BY s.id");
      q.bind(1, bs);
      while (q.next()) rows.emplace_back(q.u64(0), q.u64(1), q.u64(2), q.u64(3));
      for (auto& [id, ino, have, need] : rows)
        add("broken-slice", path_in_tx(ino),
            "slice " + n2s(id) + " lists " + n2s(have) + " blocks, its data needs " + n2s(need));
    }
    {
      std::vector<std::tuple<uint64_t, uint64_t, uint64_t, uint64_t>> rows;
      Query q(*conn_, "SELECT sb.slice_id, sb.seq, sb.block_id, s.ino FROM slice_blocks sb "
                      "LEFT JOIN blocks b ON b.id = sb.block_id LEFT JOIN slices s ON s.id = sb.slice_id "
                      "WHERE b.id IS NULL ORDER BY sb.slice_id, sb.seq");
      while (q.next()) rows.emplace_back(q.u64(0), q.u64(1), q.u64(2), q.u64(3));
      for (auto& [slice, seq, block, ino] : rows)
        add("missing-block-row", ino ? path_in_tx(ino) : "slice " + n2s(slice),
            "block #" + n2s(seq) + " of slice " + n2s(slice) + " references missing block row " + n2s(block));
    }
    {  // block reference counts: refs must equal the slice_blocks rows naming the block
      std::vector<std::tuple<uint64_t, int64_t, uint64_t, uint64_t>> rows;
      Query q(*conn_, check_sql::refcount_sql());
      while (q.next()) rows.emplace_back(q.u64(0), q.i64(1), q.u64(2), q.u64(3));
      for (auto& [id, refs, n, slice] : rows)
        add("refcount-mismatch", "block " + n2s(id),
            "refs " + std::to_string(refs) + " but " + n2s(n) + " references" + files_of_block(id, slice));
    }
    {  // blocks nothing references: garbage, or the remains of a slice that lost its block list
      std::vector<std::tuple<uint64_t, uint64_t, bool>> rows;
      Query q(*conn_, check_sql::unreferenced_blocks_sql());
      while (q.next()) rows.emplace_back(q.u64(0), q.u64(1), q.u64(4) != 0);
      for (auto& [id, slice, slice_exists] : rows)
        add("unreferenced-block", "block " + n2s(id),
            slice_exists ? "no slice lists it, but its slice " + n2s(slice) + " still exists" + files_of_block(id, slice)
                         : "no slice lists it and its slice " + n2s(slice) + " is gone");
    }
    {  // per-chunk slice counts
      std::vector<std::tuple<uint64_t, uint64_t, uint64_t, bool, uint64_t>> rows;
      Query q(*conn_, "SELECT s.ino, s.chunk, COUNT(*), MAX(c.slices) FROM slices s LEFT JOIN chunks c "
                      "ON c.ino = s.ino AND c.idx = s.chunk WHERE s.status = 1 GROUP BY s.ino, s.chunk "
                      "HAVING MAX(c.slices) IS NULL OR MAX(c.slices) <> COUNT(*) ORDER BY s.ino, s.chunk");
      while (q.next()) rows.emplace_back(q.u64(0), q.u64(1), q.u64(2), q.is_null(3), q.u64(3));
      for (auto& [ino, chunk, n, none, said] : rows)
        add("chunk-count-mismatch", path_in_tx(ino) + " chunk " + n2s(chunk),
            n2s(n) + " committed slices, chunks row says " + (none ? std::string("nothing") : n2s(said)));
    }
    {
      std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> rows;
      Query q(*conn_, "SELECT c.ino, c.idx, c.slices FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM slices s "
                      "WHERE s.ino = c.ino AND s.chunk = c.idx AND s.status = 1) ORDER BY c.ino, c.idx");
      while (q.next()) rows.emplace_back(q.u64(0), q.u64(1), q.u64(2));
      for (auto& [ino, chunk, said] : rows)
        add("chunk-count-mismatch", path_in_tx(ino) + " chunk " + n2s(chunk),
            "chunks row says " + n2s(said) + " slices, there are none");
    }
    {
      std::vector<uint64_t> rows;
      Query q(*conn_, "SELECT i.ino FROM inodes i LEFT JOIN symlinks s ON s.ino = i.ino WHERE " +
                          type_is("i.mode", S_IFLNK) + " AND s.ino IS NULL ORDER BY i.ino");
      while (q.next()) rows.push_back(q.u64(0));
      for (uint64_t ino : rows) add("missing-symlink-target", path_in_tx(ino), "symlink without target row");
    }
    {  // what sessions that are gone or silent left behind: the session cleaner's (or close_session's) work
      Query q(*conn_, std::string("SELECT o.ino, o.session, CASE WHEN s.id IS NULL THEN 0 ELSE 1 END, s.heartbeat, ") +
                          kExpiryCol + " FROM orphans o LEFT JOIN sessions s ON s.id = o.session WHERE " +
                          kDeadSession + " ORDER BY o.ino");
      q.bind(1, now).bind(2, opt.session_expiry_ns);
      while (q.next())
        add("stale-orphan", "orphan inode " + n2s(q.u64(0)),
            "deleted while open, still held for " + session_state(q.u64(1), q.i64(2) != 0, q.i64(3), q.i64(4), now));
    }
    {
      std::vector<std::tuple<uint64_t, uint64_t, uint64_t, bool, int64_t, int64_t>> rows;
      Query q(*conn_, std::string("SELECT sl.id, sl.ino, sl.session, CASE WHEN s.id IS NULL THEN 0 ELSE 1 END, "
                                  "s.heartbeat, ") +
                          kExpiryCol + " FROM slices sl LEFT JOIN sessions s ON s.id = sl.session WHERE sl.status = 0 AND " +
                          kDeadSession + " ORDER BY sl.id");
      q.bind(1, now).bind(2, opt.session_expiry_ns);
      while (q.next()) rows.emplace_back(q.u64(0), q.u64(1), q.u64(2), q.i64(3) != 0, q.i64(4), q.i64(5));
      for (auto& [id, ino, session, exists, heartbeat, expiry] : rows)
        add("stale-pending-slice", path_in_tx(ino),
            "pending slice " + n2s(id) + " (an upload never committed) of " +
                session_state(session, exists, heartbeat, expiry, now));
    }
    {  // statfs counters
      // A statistic is its row plus its shard rows `name#k` (see add_counter).
      Query q(*conn_, "SELECT (SELECT SUM(value) FROM counters WHERE name = 'used_bytes' OR substr(name, 1, 11) = 'used_bytes#'), "
                      "(SELECT COALESCE(SUM(size), 0) FROM inodes i WHERE " + type_is("i.mode", S_IFREG) + "), "
                      "(SELECT SUM(value) FROM counters WHERE name = 'inodes' OR substr(name, 1, 7) = 'inodes#'), "
                      "(SELECT COUNT(*) FROM inodes)");
      if (q.next()) {
        if (q.is_null(0) || q.i64(0) != q.i64(1))
          add("counter-mismatch", "counters.used_bytes",
              "says " + (q.is_null(0) ? std::string("nothing") : std::to_string(q.i64(0))) + ", files hold " +
                  std::to_string(q.i64(1)));
        if (q.is_null(2) || q.i64(2) != q.i64(3))
          add("counter-mismatch", "counters.inodes",
              "says " + (q.is_null(2) ? std::string("nothing") : std::to_string(q.i64(2))) + ", there are " +
                  std::to_string(q.i64(3)));
      }
    }
    if (out.size() >= kMaxProblems)
      out.push_back(Problem{"too-many-problems", "-", "stopped listing after " + n2s(kMaxProblems)});
    return out;
  });
}

}  // namespace s3l::meta
