// SqlMeta::mknod as ONE statement, for engines that run data-modifying WITH
// queries (PostgreSQL: SqlConn::writable_ctes). The transaction form in
// sql_namespace.cpp costs two round trips and eleven statements (the advisory
// lock's own short transaction, BEGIN, txid_current, the read, four writes,
// COMMIT, the unlock); this is one statement in an implicit READ COMMITTED
// transaction: one round trip and about a third less server CPU per create
// (bench/README.md). Why it holds under concurrency without SERIALIZABLE
// (docs/postgres.md, "mknod in one statement"):
//  * the parent row is read FOR UPDATE, which in READ COMMITTED waits for any
//    writer of that row and then yields its newest version: a directory
//    removed meanwhile (rmdir deletes its row) gives no row (ENOENT), and the
//    parent's nlink/mtime update applies to the newest version (no lost
//    update). A SERIALIZABLE writer of the parent that started before this
//    statement committed fails on the row (first updater wins) and its rerun
//    sees the new entry (rmdir: ENOTEMPTY);
//  * the name is the primary key of entries: a name another client took after
//    this statement's snapshot fails it with 23505, and the rerun answers
//    EEXIST;
//  * queueing: pg_advisory_xact_lock(parent) comes first (a one-time filter,
//    evaluated before the scan): the key the transaction form's writers hold
//    with pg_advisory_lock, so creates and other changes of one directory
//    wait for each other instead of failing and rerunning;
//  * a lost connection: the inode number is allocated once, before the first
//    attempt, and every rerun uses it, so a rerun that finds the name
//    pointing to that inode knows the earlier attempt committed and only its
//    answer was lost; a late commit of the earlier attempt fails the rerun
//    on the inode's primary key, and the next rerun finds it the same way.
#include <sys/stat.h>

#include <cerrno>

#include "meta/sql_meta.hpp"

namespace s3l::meta {

Result<Attr> SqlMeta::mknod_one_statement(uint64_t parent, const std::string& name, uint32_t mode, uint32_t uid,
                                          uint32_t gid, uint64_t rdev, const std::string& target, int64_t now) {
  const uint32_t type = mode & S_IFMT;
  const bool dir = type == S_IFDIR;
  const bool symlink = type == S_IFLNK;
  uint64_t ino = 0;   // kept across reruns (see the top of this file)
  return run("mknod", Tx::kNone, [&]() -> Result<Attr> {
    if (ino == 0) {
      ino = alloc_id(inode_ids_, "next_inode", 64);
      inode_ids_.reserved_in_tx = false;   // no transaction is open: its UPDATE committed on its own
    }
    Attr a;
    a.ino = ino;
    a.mode = mode;
    a.uid = uid;
    a.gid = gid;
    a.nlink = dir ? 2 : 1;
    a.size = dir ? 4096 : symlink ? target.size() : 0;
    a.rdev = rdev;
    a.atime_ns = a.mtime_ns = a.ctime_ns = now;
    // p: the parent, locked; i: the inode (BSD group semantics under a setgid
    // directory, subdirectories inherit the bit); e: the entry; l: a symlink's
    // target; u: the parent's nlink and times; c: the statfs inode count.
    Query q(*conn_,
            "WITH p AS (SELECT mode, gid, (SELECT e.ino FROM entries e WHERE e.parent = $1 AND e.name = $2) AS taken"
            "   FROM inodes WHERE ino = $1 AND (SELECT pg_advisory_xact_lock($1)::text) IS NOT NULL FOR UPDATE),"
            " i AS (INSERT INTO inodes (" S3L_INODE_COLS ")"
            "   SELECT CAST($3 AS BIGINT),"
            "     CAST($4 AS BIGINT) | CASE WHEN p.mode & 1024 <> 0 AND CAST($4 AS BIGINT) & 61440 = 16384"
            "                          THEN 1024 ELSE 0 END,"
            "     CAST($5 AS BIGINT), CASE WHEN p.mode & 1024 <> 0 THEN p.gid ELSE CAST($6 AS BIGINT) END,"
            "     CAST($7 AS BIGINT), CAST($8 AS BIGINT), CAST($9 AS BIGINT),"
            "     CAST($10 AS BIGINT), CAST($10 AS BIGINT), CAST($10 AS BIGINT), CAST($11 AS BIGINT)"
            "   FROM p WHERE p.taken IS NULL AND p.mode & 61440 = 16384 RETURNING mode, gid),"
            " e AS (INSERT INTO entries (parent, name, ino) SELECT $1, $2, $3 FROM i RETURNING ino),"
            " l AS (INSERT INTO symlinks (ino, target) SELECT $3, CAST($12 AS BYTEA) FROM i"
            "   WHERE CAST($12 AS BYTEA) IS NOT NULL),"
            " u AS (UPDATE inodes SET nlink = nlink + CAST($13 AS BIGINT), mtime = $10, ctime = $10"
            "   WHERE ino = $1 AND EXISTS (SELECT 1 FROM e)),"
            " c AS (INSERT INTO counters (name, value) SELECT CAST($14 AS TEXT), 1 FROM e"
            "   ON CONFLICT (name) DO UPDATE SET value = counters.value + 1)"
            " SELECT p.mode, p.taken, i.mode, i.gid FROM p LEFT JOIN i ON true");
    q.bind(1, parent).blob(2, name).bind(3, a.ino).bind(4, a.mode).bind(5, a.uid).bind(6, a.gid);
    q.bind(7, a.nlink).bind(8, a.size).bind(9, a.rdev).bind(10, now).bind(11, dir ? parent : 0);
    if (symlink) q.blob(12, target);
    else q.null(12);
    q.bind(13, dir ? 1 : 0).text(14, counter_row("inodes")).idempotent();
    const std::string where = "'" + name + "' in directory inode " + std::to_string(parent);
    if (!q.next()) return Status::Error(ENOENT, "parent inode " + std::to_string(parent) + " does not exist");
    if ((q.u32(0) & S_IFMT) != S_IFDIR)
      return Status::Error(ENOTDIR, "parent inode " + std::to_string(parent) + " is not a directory");
    if (!q.is_null(1)) {
      if (q.u64(1) != ino) return Status::Error(EEXIST, where + " already exists");
      // An earlier attempt committed and its answer was lost: done.
      auto n = load_inode(ino);
      if (!n) return Status::Error(EIO, where + " points to inode " + std::to_string(ino) + ", which is gone");
      return n->attr;
    }
    if (q.is_null(2)) return Status::Error(EIO, "mknod of " + where + ": the statement inserted nothing (internal error)");
    a.mode = q.u32(2);
    a.gid = q.u32(3);
    return a;
  });
}

}  // namespace s3l::meta
