// SqlMeta: fsck --repair. Only fixes that cannot lose data: derived values
// are recomputed from what they are derived from (nlink from entries, block
// refs from slice_blocks, chunk counts from slices, statfs counters from
// inodes), names that lead nowhere are dropped, and inodes nothing names are
// given a name in /lost+found. File data is never rewritten or zeroed: a
// file whose blocks are gone stays broken and is reported as such.
//
// Each step is one write transaction that finds its problems again inside
// that transaction (a mount may be running; what an earlier read saw may be
// stale), so every step is safe on its own and the order only matters for
// the result: entries first (what is unreachable depends on them), lost+found
// before link counts (moving an inode changes them), refcounts before nothing.
#include <sys/stat.h>

#include <functional>
#include <set>
#include <tuple>

#include "meta/sql_check.hpp"
#include "meta/sql_meta.hpp"
#include "util/clock.hpp"

namespace s3l::meta {
namespace {

using check_sql::type_is;

std::string n2s(uint64_t v) { return std::to_string(v); }

constexpr const char* kLostFound = "lost+found";

}  // namespace

// Entries whose inode is missing, and entries inside a missing inode or a
// non-directory: a name that leads nowhere, or that nobody can list. The
// inodes such entries named are kept; if nothing else names them they are
// unreachable now and go to lost+found in the next step.
std::vector<RepairAction> SqlMeta::repair_entries_in_tx(int64_t now) {
  std::vector<RepairAction> out;
  struct Row { uint64_t parent; std::string name; uint64_t ino; bool child_missing, parent_missing; };
  std::vector<Row> rows;
  {
    Query q(*conn_, "SELECT e.parent, e.name, e.ino, CASE WHEN c.ino IS NULL THEN 1 ELSE 0 END, "
                    "CASE WHEN p.ino IS NULL THEN 1 ELSE 0 END FROM entries e LEFT JOIN inodes c ON c.ino = e.ino "
                    "LEFT JOIN inodes p ON p.ino = e.parent WHERE c.ino IS NULL OR p.ino IS NULL OR NOT " +
                        type_is("p.mode", S_IFDIR) + " ORDER BY e.parent, e.name");
    while (q.next()) rows.push_back(Row{q.u64(0), q.bytes(1), q.u64(2), q.i64(3) != 0, q.i64(4) != 0});
  }
  for (const Row& r : rows) {
    std::string dir = r.parent_missing ? "<ino " + n2s(r.parent) + ">" : path_in_tx(r.parent);
    std::string where = (dir == "/" ? "" : dir) + "/" + r.name;
    Query(*conn_, "DELETE FROM entries WHERE parent = $1 AND name = $2").bind(1, r.parent).blob(2, r.name).run();
    bool parent_is_dir = !r.parent_missing && [&] {
      auto p = load_inode(r.parent);
      return p && p->is_dir();
    }();
    if (parent_is_dir) touch_dir(r.parent, 0, now);   // its nlink is recomputed later
    if (r.child_missing && parent_is_dir)
      out.push_back(RepairAction{"dangling-entry", where, "entry removed (inode " + n2s(r.ino) + " does not exist)"});
    else
      out.push_back(RepairAction{"bad-parent", where,
                                 "entry removed (it lived in " +
                                     std::string(r.parent_missing ? "missing" : "non-directory") + " inode " +
                                     n2s(r.parent) + "); inode " + n2s(r.ino) +
                                     (r.child_missing ? " does not exist either" : " is kept")});
  }
  return out;
}

// The directory /lost+found, created 0700 root:root like ext4's if missing.
// nullopt (and a refusal in `out`) if the name is taken by something else.
std::optional<uint64_t> SqlMeta::lost_found_in_tx(int64_t now, std::vector<RepairAction>& out) {
  if (auto e = find_entry(kRootIno, kLostFound)) {
    auto n = load_inode(*e);
    if (n && n->is_dir()) return *e;
    out.push_back(RepairAction{"unreachable-inode", "/lost+found",
                               "not repaired: /lost+found exists and is not a directory; rename it and run "
                               "fsck --repair again",
                               false});
    return std::nullopt;
  }
  const uint64_t ino = alloc_id(inode_ids_, "next_inode", 64);
  Query(*conn_, "INSERT INTO inodes (" S3L_INODE_COLS ") VALUES ($1, $2, 0, 0, 2, 4096, 0, $3, $3, $3, $4)")
      .bind(1, ino)
      .bind(2, static_cast<uint32_t>(S_IFDIR | 0700))
      .bind(3, now)
      .bind(4, kRootIno)
      .run();
  Query(*conn_, "INSERT INTO entries (parent, name, ino) VALUES ($1, $2, $3)")
      .bind(1, kRootIno).blob(2, kLostFound).bind(3, ino).run();
  touch_dir(kRootIno, 1, now);
  add_counter("inodes", 1);
  out.push_back(RepairAction{"unreachable-inode", "/lost+found", "created (directory, mode 0700, owner root)"});
  return ino;
}

// Inodes the root does not reach and no session holds as an orphan get the
// name /lost+found/#<ino>. Only the tops of cut-off trees are moved (their
// contents come along); a cycle of directories cut off from the root is
// broken at one directory, whose entries (all inside the cycle) are dropped.
std::vector<RepairAction> SqlMeta::repair_unreachable_in_tx(int64_t now) {
  std::vector<RepairAction> out;
  std::optional<uint64_t> lf;
  struct Row { uint64_t ino; uint32_t mode; uint64_t links; };
  size_t budget = 0;   // rounds allowed: each one names at least one inode
  for (bool first = true;; first = false) {
    std::vector<Row> cut;
    {
      Query q(*conn_, check_sql::unreachable_sql());
      while (q.next())
        if (q.is_null(4)) cut.push_back(Row{q.u64(0), q.u32(1), q.u64(3)});
    }
    if (cut.empty()) break;
    if (first) budget = cut.size();
    if (budget-- == 0) throw DbError(EIO, false, "lost+found: unreachable inodes remain after naming each once");
    if (!lf) {
      auto root = load_inode(kRootIno);
      if (!root || !root->is_dir()) {
        out.push_back(RepairAction{"unreachable-inode", "/", "not repaired: there is no root directory to hang "
                                   "/lost+found from", false});
        break;
      }
      lf = lost_found_in_tx(now, out);
    }
    if (!lf) break;
    std::vector<Row> tops;
    for (const Row& r : cut)
      if (r.links == 0) tops.push_back(r);
    if (tops.empty()) {   // only cycles left: cut one, preferably at a directory
      Row pick = cut.front();
      for (const Row& r : cut)
        if ((r.mode & S_IFMT) == S_IFDIR) {
          pick = r;
          break;
        }
      Query(*conn_, "DELETE FROM entries WHERE ino = $1").bind(1, pick.ino).run();
      tops.push_back(pick);
    }
    for (const Row& r : tops) {
      std::string name = "#" + n2s(r.ino);
      for (int k = 1; find_entry(*lf, name); ++k) name = "#" + n2s(r.ino) + "." + std::to_string(k);
      Query(*conn_, "INSERT INTO entries (parent, name, ino) VALUES ($1, $2, $3)")
          .bind(1, *lf).blob(2, name).bind(3, r.ino).run();
      const bool dir = (r.mode & S_IFMT) == S_IFDIR;
      if (dir)
        Query(*conn_, "UPDATE inodes SET parent = $2, ctime = $3 WHERE ino = $1").bind(1, r.ino).bind(2, *lf).bind(3, now).run();
      else
        Query(*conn_, "UPDATE inodes SET nlink = (SELECT COUNT(*) FROM entries e WHERE e.ino = $1), ctime = $2 "
                      "WHERE ino = $1")
            .bind(1, r.ino).bind(2, now).run();
      touch_dir(*lf, dir ? 1 : 0, now);
      out.push_back(RepairAction{"unreachable-inode", "unreachable inode " + n2s(r.ino),
                                 "moved to /lost+found/" + name + (r.links ? " (its entries formed a cycle)" : "")});
    }
  }
  return out;
}

// Link counts and what depends on them: orphan records of inodes that still
// have names, directories' parent column, nlink itself.
std::vector<RepairAction> SqlMeta::repair_links_in_tx(int64_t now) {
  std::vector<RepairAction> out;
  {  // an orphan record only matters for an inode no entry names
    std::vector<uint64_t> rows;
    {
      Query q(*conn_, "SELECT o.ino FROM orphans o WHERE EXISTS (SELECT 1 FROM entries e WHERE e.ino = o.ino) "
                      "ORDER BY o.ino");
      while (q.next()) rows.push_back(q.u64(0));
    }
    for (uint64_t ino : rows) {
      Query(*conn_, "DELETE FROM orphans WHERE ino = $1").bind(1, ino).run();
      out.push_back(RepairAction{"linked-orphan", path_in_tx(ino), "orphan record removed: entries still name it"});
    }
  }
  {  // a directory with exactly one entry: its parent column follows the entry
    std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> rows;
    {
      Query q(*conn_, "SELECT i.ino, i.parent, e.parent FROM inodes i JOIN entries e ON e.ino = i.ino WHERE " +
                          type_is("i.mode", S_IFDIR) + " AND e.parent <> i.parent AND "
                          "(SELECT COUNT(*) FROM entries x WHERE x.ino = i.ino) = 1 ORDER BY i.ino");
      while (q.next()) rows.emplace_back(q.u64(0), q.u64(1), q.u64(2));
    }
    for (auto& [ino, col, ent] : rows) {
      Query(*conn_, "UPDATE inodes SET parent = $2, ctime = $3 WHERE ino = $1").bind(1, ino).bind(2, ent).bind(3, now).run();
      out.push_back(RepairAction{"bad-dir-parent", path_in_tx(ino), "parent column " + n2s(col) + " -> " + n2s(ent)});
    }
  }
  {  // nlink: directories 2 + subdirectories; others their entries. An inode
     // that no entry names and no session holds keeps its count: it is
     // unreachable (lost+found was refused), and nlink 0 would mean deleted.
    struct Row { uint64_t ino; bool dir; uint64_t nlink, links, subdirs, orphan; };
    std::vector<Row> rows;
    {
      Query q(*conn_, check_sql::link_counts_sql());
      while (q.next())
        rows.push_back(Row{q.u64(0), (q.u32(1) & S_IFMT) == S_IFDIR, q.u64(2), q.u64(3), q.u64(4), q.u64(5)});
    }
    for (const Row& r : rows) {
      uint64_t want = r.nlink;
      if (r.dir)
        want = 2 + r.subdirs;
      else if (r.links > 0 || r.orphan > 0)
        want = r.links;
      if (want == r.nlink) continue;
      Query(*conn_, "UPDATE inodes SET nlink = $2, ctime = $3 WHERE ino = $1").bind(1, r.ino).bind(2, want).bind(3, now).run();
      out.push_back(RepairAction{"nlink-mismatch", path_in_tx(r.ino), "nlink " + n2s(r.nlink) + " -> " + n2s(want)});
    }
  }
  return out;
}

// Block refcounts follow slice_blocks. A block no slice lists goes to the
// dead-block queue (its object is deleted later) only if its slice is gone
// and no other block row names the same object; if its slice still exists,
// that slice lost its block list: the object is kept and the file reported.
std::vector<RepairAction> SqlMeta::repair_blocks_in_tx(int64_t now) {
  std::vector<RepairAction> out;
  {
    std::vector<std::tuple<uint64_t, int64_t, uint64_t>> rows;
    {
      Query q(*conn_, check_sql::refcount_sql());
      while (q.next()) rows.emplace_back(q.u64(0), q.i64(1), q.u64(2));
    }
    for (auto& [id, refs, n] : rows) {
      Query(*conn_, "UPDATE blocks SET refs = $2 WHERE id = $1").bind(1, id).bind(2, n).run();
      out.push_back(RepairAction{"refcount-mismatch", "block " + n2s(id),
                                 "refs " + std::to_string(refs) + " -> " + n2s(n)});
    }
  }
  using Key = std::tuple<uint64_t, uint32_t, uint32_t>;   // (slice_id, idx, size): the object's name
  struct Cand { uint64_t id; Key key; };
  std::vector<Cand> cands;
  {
    Query q(*conn_, check_sql::unreferenced_blocks_sql());
    while (q.next())
      if (q.u64(4) == 0) cands.push_back(Cand{q.u64(0), Key{q.u64(1), q.u32(2), q.u32(3)}});
  }
  if (cands.empty()) return out;
  std::set<Key> keys;
  for (const Cand& c : cands) keys.insert(c.key);
  std::set<uint64_t> cand_ids;
  for (const Cand& c : cands) cand_ids.insert(c.id);
  std::set<Key> shared;   // names another (live) block row also has
  {
    Query q(*conn_, "SELECT id, slice_id, idx, size FROM blocks");
    while (q.next()) {
      Key k{q.u64(1), q.u32(2), q.u32(3)};
      if (!cand_ids.count(q.u64(0)) && keys.count(k)) shared.insert(k);
    }
  }
  for (const Cand& c : cands) {
    const auto& [slice, idx, size] = c.key;
    if (shared.count(c.key)) {
      Query(*conn_, "DELETE FROM blocks WHERE id = $1").bind(1, c.id).run();
      out.push_back(RepairAction{"unreferenced-block", "block " + n2s(c.id),
                                 "row removed; its object (slice " + n2s(slice) + " #" + n2s(idx) +
                                     ") is kept because another block row names it"});
      continue;
    }
    Query(*conn_, "INSERT INTO dead_blocks (block_id, slice_id, idx, size, since) VALUES ($1, $2, $3, $4, $5) "
                  "ON CONFLICT (block_id) DO NOTHING")
        .bind(1, c.id).bind(2, slice).bind(3, idx).bind(4, size).bind(5, now).run();
    Query(*conn_, "DELETE FROM blocks WHERE id = $1").bind(1, c.id).run();
    out.push_back(RepairAction{"unreferenced-block", "block " + n2s(c.id),
                               "queued for deletion: no slice lists it and its slice " + n2s(slice) + " is gone"});
  }
  return out;
}

// Derived counts: committed slices per chunk, and the statfs counters (their
// shard rows are folded into the main row).
std::vector<RepairAction> SqlMeta::repair_counts_in_tx() {
  std::vector<RepairAction> out;
  {
    std::vector<std::tuple<uint64_t, uint64_t, uint64_t, bool, uint64_t>> rows;
    {
      Query q(*conn_, "SELECT s.ino, s.chunk, COUNT(*), MAX(c.slices) FROM slices s LEFT JOIN chunks c "
                      "ON c.ino = s.ino AND c.idx = s.chunk WHERE s.status = 1 GROUP BY s.ino, s.chunk "
                      "HAVING MAX(c.slices) IS NULL OR MAX(c.slices) <> COUNT(*) ORDER BY s.ino, s.chunk");
      while (q.next()) rows.emplace_back(q.u64(0), q.u64(1), q.u64(2), q.is_null(3), q.u64(3));
    }
    for (auto& [ino, chunk, n, none, said] : rows) {
      Query(*conn_, "INSERT INTO chunks (ino, idx, slices) VALUES ($1, $2, $3) "
                    "ON CONFLICT (ino, idx) DO UPDATE SET slices = $3")
          .bind(1, ino).bind(2, chunk).bind(3, n).run();
      out.push_back(RepairAction{"chunk-count-mismatch", path_in_tx(ino) + " chunk " + n2s(chunk),
                                 "slices " + (none ? std::string("(no row)") : n2s(said)) + " -> " + n2s(n)});
    }
  }
  {
    std::vector<std::tuple<uint64_t, uint64_t, uint64_t>> rows;
    {
      Query q(*conn_, "SELECT c.ino, c.idx, c.slices FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM slices s "
                      "WHERE s.ino = c.ino AND s.chunk = c.idx AND s.status = 1) ORDER BY c.ino, c.idx");
      while (q.next()) rows.emplace_back(q.u64(0), q.u64(1), q.u64(2));
    }
    for (auto& [ino, chunk, said] : rows) {
      Query(*conn_, "DELETE FROM chunks WHERE ino = $1 AND idx = $2").bind(1, ino).bind(2, chunk).run();
      out.push_back(RepairAction{"chunk-count-mismatch", path_in_tx(ino) + " chunk " + n2s(chunk),
                                 "row saying " + n2s(said) + " slices removed (there are none)"});
    }
  }
  struct Stat { const char* name; std::string actual_sql; };
  const Stat stats[] = {
      {"used_bytes", "SELECT COALESCE(SUM(size), 0) FROM inodes i WHERE " + type_is("i.mode", S_IFREG)},
      {"inodes", "SELECT COUNT(*) FROM inodes"},
  };
  for (const Stat& st : stats) {
    const std::string name = st.name;
    bool have = false;
    int64_t said = 0, actual = 0;
    {
      Query q(*conn_, "SELECT SUM(value) FROM counters WHERE name = $1 OR substr(name, 1, " +
                          std::to_string(name.size() + 1) + ") = $2");
      q.text(1, name).text(2, name + "#");
      if (q.next() && !q.is_null(0)) {
        have = true;
        said = q.i64(0);
      }
    }
    {
      Query q(*conn_, st.actual_sql);
      if (q.next()) actual = q.i64(0);
    }
    if (have && said == actual) continue;
    Query(*conn_, "DELETE FROM counters WHERE substr(name, 1, " + std::to_string(name.size() + 1) + ") = $1")
        .text(1, name + "#").run();
    Query(*conn_, "INSERT INTO counters (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = $2")
        .text(1, name).bind(2, actual).run();
    out.push_back(RepairAction{"counter-mismatch", "counters." + name,
                               (have ? std::to_string(said) : std::string("(missing)")) + " -> " +
                                   std::to_string(actual)});
  }
  return out;
}

Status SqlMeta::repair_consistency(const CheckOptions& opt, std::vector<RepairAction>* done) {
  const int64_t now = opt.now_ns ? opt.now_ns : now_ns();
  std::vector<RepairAction> scratch;
  if (!done) done = &scratch;
  auto step = [&](const char* what, const std::function<std::vector<RepairAction>()>& body) -> Status {
    auto r = run(what, Tx::kWrite, [&]() -> Result<std::vector<RepairAction>> { return body(); });
    if (!r.ok()) return r.status;
    done->insert(done->end(), r->begin(), r->end());
    return Status::Ok();
  };

  // Without a root directory every name looks wrong: repairing would drop
  // the top-level entries. A human restores the root first.
  auto root = run("repair: root", Tx::kRead, [&]() -> Result<bool> {
    auto r = load_inode(kRootIno);
    return r && r->is_dir();
  });
  if (!root.ok()) return root.status;
  if (!root.value) {
    done->push_back(RepairAction{"missing-root", "/", "not repaired, nothing else either: the root directory "
                                 "(inode 1) is missing or not a directory", false});
    return Status::Ok();
  }

  if (Status s = step("repair entries", [&] { return repair_entries_in_tx(now); }); !s.ok()) return s;

  // Orphans and pending slices of a session whose row is gone: no mount can
  // come back for them (a session without its row is dead: its commits fail,
  // and no session cleaner will ever list it). Ending it the way
  // close_session does is exactly the cleanup it missed. Sessions that are
  // merely silent are left to the session cleaner of a live mount.
  using Gone = std::tuple<uint64_t, uint64_t, uint64_t>;   // session, orphans, pending slices
  auto gone = run("repair: sessions that are gone", Tx::kRead, [&]() -> Result<std::vector<Gone>> {
    std::vector<Gone> out;
    Query q(*conn_, "SELECT x.session, SUM(x.o), SUM(x.p) FROM (SELECT session, 1 AS o, 0 AS p FROM orphans "
                    "UNION ALL SELECT session, 0 AS o, 1 AS p FROM slices WHERE status = 0) x "
                    "LEFT JOIN sessions s ON s.id = x.session WHERE s.id IS NULL GROUP BY x.session ORDER BY x.session");
    while (q.next()) out.emplace_back(q.u64(0), q.u64(1), q.u64(2));
    return out;
  });
  if (!gone.ok()) return gone.status;
  for (auto& [session, orphans, pending] : gone.value) {
    if (Status s = close_session(session); !s.ok()) return s;
    done->push_back(RepairAction{"stale-session", "session " + n2s(session),
                                 "its row was gone: ended like a closed session (" + n2s(orphans) +
                                     " orphan inode(s) purged, " + n2s(pending) + " pending slice(s) dropped)"});
  }

  if (Status s = step("repair unreachable inodes", [&] { return repair_unreachable_in_tx(now); }); !s.ok()) return s;
  if (Status s = step("repair link counts", [&] { return repair_links_in_tx(now); }); !s.ok()) return s;
  if (Status s = step("repair block refcounts", [&] { return repair_blocks_in_tx(now); }); !s.ok()) return s;
  return step("repair counters", [&] { return repair_counts_in_tx(); });
}

}  // namespace s3l::meta
