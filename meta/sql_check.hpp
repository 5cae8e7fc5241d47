// SQL fragments shared by the consistency check (sql_check.cpp) and its repair
// (sql_repair.cpp), so that both agree on what "reachable" and "live" mean.
// Internal to meta/.
#pragma once
#include <sys/stat.h>

#include <cstdint>
#include <string>

namespace s3l::meta::check_sql {

// (col & S_IFMT) = S_IFxxx, written with numbers (portable SQL).
inline std::string type_is(const char* col, uint32_t type) {
  return std::string("(") + col + " & " + std::to_string(S_IFMT) + ") = " + std::to_string(type);
}

// `WITH RECURSIVE reach(ino)`: every inode named by an entry of a directory
// reachable from the root, walking only through existing directories (an
// entry inside a file or a missing inode leads nowhere). UNION removes
// duplicates, which also ends cycles. Prefix it to a statement that joins
// `reach`.
inline std::string reach_cte() {
  return "WITH RECURSIVE reach(ino) AS (SELECT ino FROM inodes WHERE ino = 1 UNION "
         "SELECT e.ino FROM reach r JOIN inodes p ON p.ino = r.ino JOIN entries e ON e.parent = r.ino WHERE " +
         type_is("p.mode", S_IFDIR) + ") ";
}

// Inodes not reachable from the root: ino, mode, nlink, number of entries
// naming it, orphan session (NULL if it has no orphan row), size. LEFT JOIN rather
// than NOT IN: both engines turn it into a hash or index anti-join.
inline std::string unreachable_sql() {
  return reach_cte() +
         "SELECT i.ino, i.mode, i.nlink, (SELECT COUNT(*) FROM entries e WHERE e.ino = i.ino), o.session, "
         "i.size FROM inodes i LEFT JOIN reach r ON r.ino = i.ino LEFT JOIN orphans o ON o.ino = i.ino "
         "WHERE r.ino IS NULL ORDER BY i.ino";
}

// Link count rows: ino, mode, nlink, entries naming it, subdirectories
// (directories only), orphan rows.
inline std::string link_counts_sql() {
  const std::string is_dir = type_is("i.mode", S_IFDIR);
  return "SELECT i.ino, i.mode, i.nlink, (SELECT COUNT(*) FROM entries e WHERE e.ino = i.ino), "
         "CASE WHEN " + is_dir + " THEN (SELECT COUNT(*) FROM entries e JOIN inodes c ON c.ino = e.ino "
         "WHERE e.parent = i.ino AND " + type_is("c.mode", S_IFDIR) + ") ELSE 0 END, "
         "(SELECT COUNT(*) FROM orphans o WHERE o.ino = i.ino) FROM inodes i ORDER BY i.ino";
}

// Blocks whose refs differ from the number of slice_blocks rows naming them:
// id, refs, actual references, slice_id.
inline const char* refcount_sql() {
  return "SELECT b.id, b.refs, COALESCE(c.n, 0), b.slice_id FROM blocks b LEFT JOIN "
         "(SELECT block_id, COUNT(*) AS n FROM slice_blocks GROUP BY block_id) c ON c.block_id = b.id "
         "WHERE b.refs <> COALESCE(c.n, 0) ORDER BY b.id";
}

// Blocks no slice_blocks row names: id, slice_id, idx, size, and whether a
// slice row with that id still exists (then its block list was lost and the
// object must be kept for a human; otherwise it is garbage).
inline const char* unreferenced_blocks_sql() {
  return "SELECT b.id, b.slice_id, b.idx, b.size, (SELECT COUNT(*) FROM slices s WHERE s.id = b.slice_id) "
         "FROM blocks b WHERE NOT EXISTS (SELECT 1 FROM slice_blocks sb WHERE sb.block_id = b.id) ORDER BY b.id";
}

}  // namespace s3l::meta::check_sql
