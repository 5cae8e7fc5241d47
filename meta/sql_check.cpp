// SqlMeta: fsck support. These are full scans by nature; none of them runs
// on a hot path.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "meta/sql_meta.hpp"

namespace s3l::meta {
namespace {

// Mode tests in SQL: (mode & S_IFMT) = S_IFxxx, written with numbers.
std::string type_is(const char* col, uint32_t type) {
  return std::string("(") + col + " & " + std::to_string(S_IFMT) + ") = " + std::to_string(type);
}

constexpr size_t kMaxProblems = 100000;   // past this, one more problem says so

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

Result<std::vector<Problem>> SqlMeta::check_consistency() {
  return run("check consistency", Tx::kRead, [&]() -> Result<std::vector<Problem>> {
    std::vector<Problem> out;
    const uint64_t cs = settings().chunk_size;
    auto add = [&](const char* kind, std::string where, std::string detail) {
      if (out.size() < kMaxProblems) out.push_back(Problem{kind, std::move(where), std::move(detail)});
    };
    auto entry_path = [&](uint64_t parent, const std::string& name) {
      std::string p = path_in_tx(parent);
      return (p == "/" ? "" : p) + "/" + name;
    };
    auto n2s = [](uint64_t v) { return std::to_string(v); };
    const std::string is_dir_i = type_is("i.mode", S_IFDIR);

    {  // entries whose inode is gone
      Query q(*conn_, "SELECT e.parent, e.name, e.ino FROM entries e LEFT JOIN inodes i ON i.ino = e.ino "
                      "WHERE i.ino IS NULL");
      while (q.next())
        add("dangling-entry", entry_path(q.u64(0), q.bytes(1)), "points to missing inode " + n2s(q.u64(2)));
    }
    {  // entries in something that is not a directory
      Query q(*conn_, "SELECT e.parent, e.name, e.ino FROM entries e LEFT JOIN inodes i ON i.ino = e.parent "
                      "WHERE i.ino IS NULL OR NOT " + is_dir_i);
      while (q.next())
        add("bad-parent", "<ino " + n2s(q.u64(0)) + ">/" + q.bytes(1),
            "entry for inode " + n2s(q.u64(2)) + " lives in a missing inode or a non-directory");
    }
    {  // link counts, reachability
      Query q(*conn_,
              "SELECT i.ino, i.mode, i.nlink, "
              "(SELECT COUNT(*) FROM entries e WHERE e.ino = i.ino), "
              "CASE WHEN " + is_dir_i + " THEN (SELECT COUNT(*) FROM entries e JOIN inodes c ON c.ino = e.ino "
              "WHERE e.parent = i.ino AND " + type_is("c.mode", S_IFDIR) + ") ELSE 0 END, "
              "(SELECT COUNT(*) FROM orphans o WHERE o.ino = i.ino) FROM inodes i");
      struct Row { uint64_t ino; bool dir; uint64_t nlink, links, subdirs, orphan; };
      std::vector<Row> rows;
      while (q.next())
        rows.push_back(Row{q.u64(0), (q.u32(1) & S_IFMT) == S_IFDIR, q.u64(2), q.u64(3), q.u64(4), q.u64(5)});
      for (const Row& r : rows) {
        if (r.dir) {
          if (r.nlink != 2 + r.subdirs)
            add("nlink-mismatch", path_in_tx(r.ino), "directory nlink " + n2s(r.nlink) + ", expected 2 + " +
                                                         n2s(r.subdirs) + " subdirectories");
          uint64_t want = r.ino == kRootIno ? 0 : 1;
          if (r.links != want && r.links != 0)
            add("dir-links", path_in_tx(r.ino), "directory has " + n2s(r.links) + " entries, expected " + n2s(want));
        } else if (r.nlink != r.links) {
          add("nlink-mismatch", path_in_tx(r.ino), "nlink " + n2s(r.nlink) + " but " + n2s(r.links) + " entries");
        }
        if (r.links == 0 && r.ino != kRootIno && !r.orphan)
          add("unreachable-inode", "<ino " + n2s(r.ino) + ">", "no entry names it and it is not an orphan");
        if (r.orphan && r.nlink > 0)
          add("linked-orphan", path_in_tx(r.ino), "listed as orphan but has nlink " + n2s(r.nlink));
      }
    }
    {  // a directory's parent column must match its entry
      Query q(*conn_, "SELECT i.ino, i.parent, e.parent FROM inodes i JOIN entries e ON e.ino = i.ino WHERE " +
                          is_dir_i + " AND e.parent <> i.parent");
      std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> rows;
      while (q.next()) rows.emplace_back(q.u64(0), q.u64(1), q.u64(2));
      for (auto& [ino, col, ent] : rows)
        add("bad-dir-parent", path_in_tx(ino), "parent column " + n2s(col) + " but entry in " + n2s(ent));
    }
    {  // data beyond EOF: a committed data slice ending past the size, not shadowed by a newer zero slice
      Query q(*conn_,
              "SELECT s.ino, s.id, s.chunk * $1 + s.pos + s.len, i.size FROM slices s JOIN inodes i ON i.ino = s.ino "
              "WHERE s.status = 1 AND s.zero = 0 AND s.chunk * $1 + s.pos + s.len > i.size AND NOT EXISTS ("
              "SELECT 1 FROM slices z WHERE z.ino = s.ino AND z.chunk = s.chunk AND z.status = 1 AND z.zero = 1 "
              "AND z.id > s.id AND z.pos + z.len >= s.pos + s.len AND z.chunk * $1 + z.pos <= "
              "CASE WHEN i.size > s.chunk * $1 + s.pos THEN i.size ELSE s.chunk * $1 + s.pos END)");
      q.bind(1, cs);
      std::vector<std::tuple<uint64_t, uint64_t, uint64_t, uint64_t>> rows;
      while (q.next()) rows.emplace_back(q.u64(0), q.u64(1), q.u64(2), q.u64(3));
      for (auto& [ino, id, end, size] : rows)
        add("size-mismatch", path_in_tx(ino), "slice " + n2s(id) + " ends at " + n2s(end) + " beyond size " + n2s(size));
    }
    {
      Query q(*conn_, "SELECT s.id, s.ino FROM slices s LEFT JOIN inodes i ON i.ino = s.ino WHERE i.ino IS NULL");
      while (q.next()) add("dangling-slice", "slice " + n2s(q.u64(0)), "belongs to missing inode " + n2s(q.u64(1)));
    }
    {
      Query q(*conn_, "SELECT id, ino, chunk, pos, len FROM slices WHERE status = 1 AND pos + len > $1");
      q.bind(1, cs);
      while (q.next())
        add("slice-out-of-chunk", "slice " + n2s(q.u64(0)),
            "covers [" + n2s(q.u64(3)) + ", +" + n2s(q.u64(4)) + ") beyond the chunk size " + n2s(cs));
    }
    {  // block reference counts
      Query q(*conn_, "SELECT b.id, b.refs, COALESCE(c.n, 0) FROM blocks b LEFT JOIN "
                      "(SELECT block_id, COUNT(*) AS n FROM slice_blocks GROUP BY block_id) c ON c.block_id = b.id "
                      "WHERE b.refs <> COALESCE(c.n, 0)");
      while (q.next())
        add("refcount-mismatch", "block " + n2s(q.u64(0)),
            "refs " + std::to_string(q.i64(1)) + " but " + n2s(q.u64(2)) + " references");
    }
    {
      Query q(*conn_, "SELECT sb.slice_id, sb.seq, sb.block_id FROM slice_blocks sb "
                      "LEFT JOIN blocks b ON b.id = sb.block_id WHERE b.id IS NULL");
      while (q.next())
        add("missing-block-row", "slice " + n2s(q.u64(0)),
            "block #" + n2s(q.u64(1)) + " references missing block " + n2s(q.u64(2)));
    }
    {  // per-chunk slice counts
      Query q(*conn_, "SELECT s.ino, s.chunk, COUNT(*), MAX(c.slices) FROM slices s LEFT JOIN chunks c "
                      "ON c.ino = s.ino AND c.idx = s.chunk WHERE s.status = 1 GROUP BY s.ino, s.chunk "
                      "HAVING MAX(c.slices) IS NULL OR MAX(c.slices) <> COUNT(*)");
      while (q.next())
        add("chunk-count-mismatch", "<ino " + n2s(q.u64(0)) + "> chunk " + n2s(q.u64(1)),
            n2s(q.u64(2)) + " committed slices, chunks row says " + (q.is_null(3) ? "nothing" : n2s(q.u64(3))));
    }
    {
      Query q(*conn_, "SELECT c.ino, c.idx, c.slices FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM slices s "
                      "WHERE s.ino = c.ino AND s.chunk = c.idx AND s.status = 1)");
      while (q.next())
        add("chunk-count-mismatch", "<ino " + n2s(q.u64(0)) + "> chunk " + n2s(q.u64(1)),
            "chunks row says " + n2s(q.u64(2)) + " slices, there are none");
    }
    {
      Query q(*conn_, "SELECT i.ino FROM inodes i LEFT JOIN symlinks s ON s.ino = i.ino WHERE " +
                          type_is("i.mode", S_IFLNK) + " AND s.ino IS NULL");
      while (q.next()) add("missing-symlink-target", "<ino " + n2s(q.u64(0)) + ">", "symlink without target row");
    }
    {  // sessions that are gone but left state behind
      Query q(*conn_, "SELECT o.ino, o.session FROM orphans o LEFT JOIN sessions s ON s.id = o.session WHERE s.id IS NULL");
      while (q.next())
        add("stale-orphan", "<ino " + n2s(q.u64(0)) + ">", "orphan of missing session " + n2s(q.u64(1)));
    }
    {
      Query q(*conn_, "SELECT sl.id, sl.ino, sl.session FROM slices sl LEFT JOIN sessions s ON s.id = sl.session "
                      "WHERE sl.status = 0 AND s.id IS NULL");
      while (q.next())
        add("stale-pending-slice", "slice " + n2s(q.u64(0)),
            "pending slice of inode " + n2s(q.u64(1)) + " from missing session " + n2s(q.u64(2)));
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
