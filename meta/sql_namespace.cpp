// SqlMeta: the namespace (entries and inode attributes).
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "meta/sql_meta.hpp"
#include "util/clock.hpp"

namespace s3l::meta {
namespace {

constexpr size_t kMaxSymlinkLen = 4095;   // PATH_MAX - 1

bool is_dot(const std::string& n) { return n == "." || n == ".."; }

std::string in_dir(const std::string& name, uint64_t dir) {
  return "'" + name + "' in directory inode " + std::to_string(dir);
}

bool known_type(uint32_t type) {
  switch (type) {
    case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
    case S_IFBLK: case S_IFIFO: case S_IFSOCK: return true;
    default: return false;
  }
}

}  // namespace

Result<Attr> SqlMeta::lookup(uint64_t parent, const std::string& name) {
  if (is_dot(name)) {
    return run("lookup", Tx::kNone, [&]() -> Result<Attr> {
      auto d = load_dir(parent, "parent");
      if (!d.ok()) return d.status;
      if (name == "." || parent == kRootIno) return d->attr;
      auto up = load_inode(d->parent);
      if (!up) return Status::Error(ENOENT, "parent of directory inode " + std::to_string(parent) + " is gone");
      return up->attr;
    });
  }
  if (Status s = check_name(name); !s.ok()) return s;
  return run("lookup", Tx::kNone, [&]() -> Result<Attr> {
    // One statement for a hit and for a miss (every create looks up first):
    // the entry's inode if there is one, else the parent's row, which says
    // why it is a miss (no such directory, not a directory, no such entry)
    // without a second round trip. The second branch runs only on a miss.
    Query q(*conn_, "SELECT 1, " S3L_INODE_COLS_I " FROM entries e JOIN inodes i ON i.ino = e.ino"
                    " WHERE e.parent = $1 AND e.name = $2"
                    " UNION ALL SELECT 0, " S3L_INODE_COLS " FROM inodes WHERE ino = $1 LIMIT 1");
    q.bind(1, parent).blob(2, name);
    if (!q.next()) return Status::Error(ENOENT, "parent inode " + std::to_string(parent) + " does not exist");
    if (q.i64(0) == 0) {
      if ((q.u32(2) & S_IFMT) != S_IFDIR)
        return Status::Error(ENOTDIR, "parent inode " + std::to_string(parent) + " is not a directory");
      return Status::Error(ENOENT, "no entry " + in_dir(name, parent));
    }
    return read_inode(q, 1).attr;
  });
}

Result<Attr> SqlMeta::getattr(uint64_t ino) {
  return run("getattr", Tx::kNone, [&]() -> Result<Attr> {
    auto n = load_inode(ino);
    if (!n) return Status::Error(ENOENT, "inode " + std::to_string(ino) + " does not exist");
    return n->attr;
  });
}

Result<Attr> SqlMeta::setattr(uint64_t ino, const SetAttr& a) {
  return run("setattr", Tx::kWrite, Keys{ino}, [&]() -> Result<Attr> {
    auto n = load_inode(ino);
    if (!n) return Status::Error(ENOENT, "inode " + std::to_string(ino) + " does not exist");
    if (a.mask == 0) return n->attr;
    Attr& t = n->attr;
    int64_t now = now_ns();
    if (a.mask & kSetMode) t.mode = (t.mode & S_IFMT) | (a.mode & 07777);
    if (a.mask & kSetUid) t.uid = a.uid;
    if (a.mask & kSetGid) t.gid = a.gid;
    if (a.mask & kSetAtime) t.atime_ns = a.atime_ns;
    if (a.mask & kSetAtimeNow) t.atime_ns = now;
    if (a.mask & kSetMtime) t.mtime_ns = a.mtime_ns;
    if (a.mask & kSetMtimeNow) t.mtime_ns = now;
    // Any attribute change is a status change (POSIX): ctime = now unless given.
    t.ctime_ns = (a.mask & kSetCtime) ? a.ctime_ns : now;
    Query(*conn_,
          "UPDATE inodes SET mode = $2, uid = $3, gid = $4, atime = $5, mtime = $6, ctime = $7 WHERE ino = $1")
        .bind(1, ino)
        .bind(2, t.mode)
        .bind(3, t.uid)
        .bind(4, t.gid)
        .bind(5, t.atime_ns)
        .bind(6, t.mtime_ns)
        .bind(7, t.ctime_ns)
        .run();
    return t;
  });
}

Result<Attr> SqlMeta::mknod(uint64_t parent, const std::string& name, uint32_t mode, uint32_t uid,
                            uint32_t gid, uint64_t rdev, const std::string& target, int64_t now) {
  if (is_dot(name)) return Status::Error(EEXIST, "'" + name + "' always exists");
  if (Status s = check_name(name); !s.ok()) return s;
  uint32_t type = mode & S_IFMT;
  if (type == 0) type = S_IFREG;   // mknod(2): a zero type means a regular file
  if (!known_type(type)) return Status::Error(EINVAL, "unknown file type in mode " + std::to_string(mode));
  if (type == S_IFLNK) {
    if (target.empty()) return Status::Error(ENOENT, "empty symlink target");
    if (target.size() > kMaxSymlinkLen)
      return Status::Error(ENAMETOOLONG, "symlink target of " + std::to_string(target.size()) +
                                             " bytes is longer than " + std::to_string(kMaxSymlinkLen));
    if (target.find('\0') != std::string::npos) return Status::Error(EINVAL, "symlink target contains NUL");
  }
  if (conn_->writable_ctes()) return mknod_one_statement(parent, name, type | (mode & 07777), uid, gid, rdev, target, now);
  return run("mknod", Tx::kWrite, Keys{parent}, [&]() -> Result<Attr> {
    std::optional<uint64_t> taken;
    auto d = load_dir_entry(parent, name, "parent", &taken);
    if (!d.ok()) return d.status;
    if (taken) return Status::Error(EEXIST, in_dir(name, parent) + " already exists");
    bool dir = type == S_IFDIR;
    Attr a;
    a.ino = alloc_id(inode_ids_, "next_inode", 64);
    a.mode = type | (mode & 07777);
    a.uid = uid;
    a.gid = gid;
    // BSD group semantics under a setgid directory; subdirectories inherit the bit.
    if (d->attr.mode & S_ISGID) {
      a.gid = d->attr.gid;
      if (dir) a.mode |= S_ISGID;
    }
    a.nlink = dir ? 2 : 1;
    a.size = dir ? 4096 : type == S_IFLNK ? target.size() : 0;
    a.rdev = rdev;
    a.atime_ns = a.mtime_ns = a.ctime_ns = now;
    Query(*conn_, "INSERT INTO inodes (" S3L_INODE_COLS
                  ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $9)")
        .bind(1, a.ino)
        .bind(2, a.mode)
        .bind(3, a.uid)
        .bind(4, a.gid)
        .bind(5, a.nlink)
        .bind(6, a.size)
        .bind(7, a.rdev)
        .bind(8, now)
        .bind(9, dir ? parent : 0)
        .later();
    // A name taken meanwhile by another client fails this INSERT on the
    // unique key; the rerun sees the entry and answers EEXIST.
    Query(*conn_, "INSERT INTO entries (parent, name, ino) VALUES ($1, $2, $3)")
        .bind(1, parent).blob(2, name).bind(3, a.ino).later();
    if (type == S_IFLNK)
      Query(*conn_, "INSERT INTO symlinks (ino, target) VALUES ($1, $2)").bind(1, a.ino).blob(2, target).later();
    touch_dir(parent, dir ? 1 : 0, now);
    add_counter("inodes", 1);
    return a;
  });
}

Result<Attr> SqlMeta::link(uint64_t ino, uint64_t new_parent, const std::string& name, int64_t now) {
  if (is_dot(name)) return Status::Error(EEXIST, "'" + name + "' always exists");
  if (Status s = check_name(name); !s.ok()) return s;
  return run("link", Tx::kWrite, Keys{ino, new_parent}, [&]() -> Result<Attr> {
    auto n = load_inode(ino);
    if (!n || n->attr.nlink == 0)
      return Status::Error(ENOENT, "inode " + std::to_string(ino) + (n ? " has been deleted" : " does not exist"));
    if (n->is_dir()) return Status::Error(EPERM, "cannot hard-link directory inode " + std::to_string(ino));
    auto d = load_dir(new_parent, "target parent");
    if (!d.ok()) return d.status;
    if (find_entry(new_parent, name)) return Status::Error(EEXIST, in_dir(name, new_parent) + " already exists");
    Query(*conn_, "INSERT INTO entries (parent, name, ino) VALUES ($1, $2, $3)")
        .bind(1, new_parent).blob(2, name).bind(3, ino).run();
    set_ctime_nlink(ino, 1, now);
    touch_dir(new_parent, 0, now);
    n->attr.nlink += 1;
    n->attr.ctime_ns = now;
    return n->attr;
  });
}

Result<UnlinkResult> SqlMeta::unlink(uint64_t parent, const std::string& name, uint64_t session,
                                     int64_t now) {
  if (is_dot(name)) return Status::Error(EISDIR, "cannot unlink '" + name + "'");
  if (Status s = check_name(name); !s.ok()) return s;
  return run("unlink", Tx::kWrite, Keys{parent}, [&]() -> Result<UnlinkResult> {
    std::optional<uint64_t> e;
    std::optional<Inode> n;
    auto d = load_dir_entry(parent, name, "parent", &e, &n);
    if (!d.ok()) return d.status;
    if (!e) return Status::Error(ENOENT, "no entry " + in_dir(name, parent));
    if (n && n->is_dir()) return Status::Error(EISDIR, in_dir(name, parent) + " is a directory");
    Query(*conn_, "DELETE FROM entries WHERE parent = $1 AND name = $2").bind(1, parent).blob(2, name).later();
    touch_dir(parent, 0, now);
    if (!n) {
      // Damaged metadata (fsck: dangling-entry): removing the entry is the repair.
      spdlog::warn("unlink: entry {} pointed to missing inode {}; entry removed", in_dir(name, parent), *e);
      return UnlinkResult{*e, 0};
    }
    set_ctime_nlink(*e, -1, now);
    uint32_t nlink = n->attr.nlink > 0 ? n->attr.nlink - 1 : 0;
    if (nlink == 0) {
      Query(*conn_, "INSERT INTO orphans (ino, session, since) VALUES ($1, $2, $3) ON CONFLICT (ino) DO NOTHING")
          .bind(1, *e).bind(2, session).bind(3, now).later();
    }
    return UnlinkResult{*e, nlink};
  });
}

Status SqlMeta::rmdir(uint64_t parent, const std::string& name, int64_t now) {
  if (name == ".") return Status::Error(EINVAL, "cannot remove '.'");
  if (name == "..") return Status::Error(ENOTEMPTY, "cannot remove '..'");
  if (Status s = check_name(name); !s.ok()) return s;
  return run("rmdir", Tx::kWrite, Keys{parent}, [&]() -> Status {
    std::optional<uint64_t> e;
    std::optional<Inode> n;
    auto d = load_dir_entry(parent, name, "parent", &e, &n);
    if (!d.ok()) return d.status;
    if (!e) return Status::Error(ENOENT, "no entry " + in_dir(name, parent));
    if (!n) return Status::Error(EIO, in_dir(name, parent) + " points to missing inode " +
                                          std::to_string(*e) + " (run fsck)");
    if (!n->is_dir()) return Status::Error(ENOTDIR, in_dir(name, parent) + " is not a directory");
    if (Query(*conn_, "SELECT 1 FROM entries WHERE parent = $1 LIMIT 1").bind(1, *e).next())
      return Status::Error(ENOTEMPTY, "directory " + in_dir(name, parent) + " is not empty");
    Query(*conn_, "DELETE FROM entries WHERE parent = $1 AND name = $2").bind(1, parent).blob(2, name).run();
    Query(*conn_, "DELETE FROM inodes WHERE ino = $1").bind(1, *e).run();
    Query(*conn_, "DELETE FROM xattrs WHERE ino = $1").bind(1, *e).run();
    touch_dir(parent, -1, now);
    add_counter("inodes", -1);
    return Status::Ok();
  });
}

bool SqlMeta::is_descendant(uint64_t ino, uint64_t ancestor) {
  // Walk up the parent chain; each step is a primary-key lookup.
  uint64_t cur = ino;
  for (int depth = 0; depth < 100000; ++depth) {
    if (cur == ancestor) return true;
    if (cur == kRootIno) return false;
    Query q(*conn_, "SELECT parent FROM inodes WHERE ino = $1");
    q.bind(1, cur);
    if (!q.next()) return false;
    cur = q.u64(0);
  }
  throw DbError(EIO, false, "directory parent chain of inode " + std::to_string(ino) +
                                " does not reach the root (loop; run fsck)");
}

Result<RenameResult> SqlMeta::rename(uint64_t parent, const std::string& name, uint64_t new_parent,
                                     const std::string& new_name, uint32_t flags, uint64_t session,
                                     int64_t now) {
  if (flags & ~static_cast<uint32_t>(kRenameNoReplace | kRenameExchange))
    return Status::Error(EINVAL, "unknown rename flags " + std::to_string(flags));
  if ((flags & kRenameNoReplace) && (flags & kRenameExchange))
    return Status::Error(EINVAL, "rename: NOREPLACE and EXCHANGE exclude each other");
  if (is_dot(name) || is_dot(new_name)) return Status::Error(EINVAL, "cannot rename '.' or '..'");
  if (Status s = check_name(name); !s.ok()) return s;
  if (Status s = check_name(new_name); !s.ok()) return s;
  const bool exchange = flags & kRenameExchange;
  return run("rename", Tx::kWrite, Keys{parent, new_parent}, [&]() -> Result<RenameResult> {
    if (auto d = load_dir(parent, "source parent"); !d.ok()) return d.status;
    if (auto d = load_dir(new_parent, "target parent"); !d.ok()) return d.status;
    auto src_ino = find_entry(parent, name);
    if (!src_ino) return Status::Error(ENOENT, "no entry " + in_dir(name, parent));
    auto src = load_inode(*src_ino);
    if (!src) return Status::Error(EIO, in_dir(name, parent) + " points to missing inode (run fsck)");
    auto dst_ino = find_entry(new_parent, new_name);
    if (exchange && !dst_ino) return Status::Error(ENOENT, "no entry " + in_dir(new_name, new_parent));
    if (dst_ino && (flags & kRenameNoReplace))
      return Status::Error(EEXIST, in_dir(new_name, new_parent) + " already exists");
    RenameResult r;
    r.moved_ino = *src_ino;
    // Two links of one inode (or the same entry): POSIX says do nothing.
    if (dst_ino && *dst_ino == *src_ino) return r;
    std::optional<Inode> dst;
    if (dst_ino) {
      dst = load_inode(*dst_ino);
      if (!dst) return Status::Error(EIO, in_dir(new_name, new_parent) + " points to missing inode (run fsck)");
    }
    const bool src_dir = src->is_dir(), dst_dir = dst && dst->is_dir();
    if (src_dir && parent != new_parent && is_descendant(new_parent, *src_ino))
      return Status::Error(EINVAL, "cannot move directory " + in_dir(name, parent) + " into its own subtree");
    if (exchange && dst_dir && parent != new_parent && is_descendant(parent, *dst_ino))
      return Status::Error(EINVAL, "cannot move directory " + in_dir(new_name, new_parent) +
                                       " into its own subtree");

    const char* kSetEntry = "UPDATE entries SET ino = $3 WHERE parent = $1 AND name = $2";
    const char* kSetParent = "UPDATE inodes SET parent = $2 WHERE ino = $1";
    int64_t dp = 0, dn = 0;   // nlink changes of parent and new_parent (subdirectory counts)
    if (exchange) {
      Query(*conn_, kSetEntry).bind(1, parent).blob(2, name).bind(3, *dst_ino).run();
      Query(*conn_, kSetEntry).bind(1, new_parent).blob(2, new_name).bind(3, *src_ino).run();
      if (parent != new_parent) {
        if (src_dir) Query(*conn_, kSetParent).bind(1, *src_ino).bind(2, new_parent).run();
        if (dst_dir) Query(*conn_, kSetParent).bind(1, *dst_ino).bind(2, parent).run();
        int64_t moved = (src_dir ? 1 : 0) - (dst_dir ? 1 : 0);
        dp -= moved;
        dn += moved;
      }
      set_ctime_nlink(*dst_ino, 0, now);
    } else {
      if (dst) {
        if (!src_dir && dst_dir) return Status::Error(EISDIR, in_dir(new_name, new_parent) + " is a directory");
        if (src_dir && !dst_dir)
          return Status::Error(ENOTDIR, in_dir(new_name, new_parent) + " is not a directory");
        if (dst_dir && Query(*conn_, "SELECT 1 FROM entries WHERE parent = $1 LIMIT 1").bind(1, *dst_ino).next())
          return Status::Error(ENOTEMPTY, "directory " + in_dir(new_name, new_parent) + " is not empty");
        r.replaced_ino = *dst_ino;
        if (dst_dir) {   // an empty directory goes away at once, like rmdir
          Query(*conn_, "DELETE FROM inodes WHERE ino = $1").bind(1, *dst_ino).run();
          Query(*conn_, "DELETE FROM xattrs WHERE ino = $1").bind(1, *dst_ino).run();
          add_counter("inodes", -1);
          dn -= 1;
          r.replaced_nlink = 0;
        } else {
          set_ctime_nlink(*dst_ino, -1, now);
          r.replaced_nlink = dst->attr.nlink > 0 ? dst->attr.nlink - 1 : 0;
          if (r.replaced_nlink == 0)
            Query(*conn_,
                  "INSERT INTO orphans (ino, session, since) VALUES ($1, $2, $3) ON CONFLICT (ino) DO NOTHING")
                .bind(1, *dst_ino).bind(2, session).bind(3, now).run();
        }
        Query(*conn_, kSetEntry).bind(1, new_parent).blob(2, new_name).bind(3, *src_ino).run();
      } else {
        Query(*conn_, "INSERT INTO entries (parent, name, ino) VALUES ($1, $2, $3)")
            .bind(1, new_parent).blob(2, new_name).bind(3, *src_ino).run();
      }
      Query(*conn_, "DELETE FROM entries WHERE parent = $1 AND name = $2").bind(1, parent).blob(2, name).run();
      if (src_dir && parent != new_parent) {
        Query(*conn_, kSetParent).bind(1, *src_ino).bind(2, new_parent).run();
        dp -= 1;
        dn += 1;
      }
    }
    set_ctime_nlink(*src_ino, 0, now);
    if (parent == new_parent) {
      touch_dir(parent, dp + dn, now);
    } else {
      touch_dir(parent, dp, now);
      touch_dir(new_parent, dn, now);
    }
    return r;
  });
}

Result<std::string> SqlMeta::readlink(uint64_t ino) {
  return run("readlink", Tx::kNone, [&]() -> Result<std::string> {
    {
      Query q(*conn_, "SELECT target FROM symlinks WHERE ino = $1");
      q.bind(1, ino);
      if (q.next()) return q.bytes(0);
    }
    if (!load_inode(ino)) return Status::Error(ENOENT, "inode " + std::to_string(ino) + " does not exist");
    return Status::Error(EINVAL, "inode " + std::to_string(ino) + " is not a symlink");
  });
}

Result<std::vector<Entry>> SqlMeta::readdir(uint64_t ino) {
  return run("readdir", Tx::kRead, [&]() -> Result<std::vector<Entry>> {
    if (auto d = load_dir(ino, "directory"); !d.ok()) return d.status;
    std::vector<Entry> out;
    Query q(*conn_, "SELECT e.name, " S3L_INODE_COLS_I
                    " FROM entries e JOIN inodes i ON i.ino = e.ino WHERE e.parent = $1 ORDER BY e.name");
    q.bind(1, ino);
    while (q.next()) out.push_back(Entry{q.bytes(0), read_inode(q, 1).attr});
    return out;
  });
}

Result<std::vector<std::string>> SqlMeta::entry_names(uint64_t ino) {
  return run("entry_names", Tx::kNone, [&]() -> Result<std::vector<std::string>> {
    std::vector<std::string> out;
    Query q(*conn_, "SELECT name FROM entries WHERE parent = $1");   // the primary key's index alone
    q.bind(1, ino);
    while (q.next()) out.push_back(q.bytes(0));
    return out;
  });
}

Result<std::vector<Entry>> SqlMeta::entries_from(uint64_t ino, const std::string& from, uint32_t limit) {
  return run("entries_from", Tx::kNone, [&]() -> Result<std::vector<Entry>> {
    std::vector<Entry> out;
    Query q(*conn_, "SELECT e.name, " S3L_INODE_COLS_I " FROM entries e JOIN inodes i ON i.ino = e.ino"
                    " WHERE e.parent = $1 AND e.name >= $2 ORDER BY e.name LIMIT $3");
    q.bind(1, ino).blob(2, from).bind(3, limit);
    while (q.next()) out.push_back(Entry{q.bytes(0), read_inode(q, 1).attr});
    return out;
  });
}

Result<FsStats> SqlMeta::statfs() {
  return run("statfs", Tx::kNone, [&]() -> Result<FsStats> {
    FsStats st;
    bool used = false, count = false;
    int64_t used_sum = 0, count_sum = 0;
    // Each statistic is the sum of its row and its shard rows `name#k` (add_counter).
    Query q(*conn_, "SELECT name, value FROM counters");
    while (q.next()) {
      std::string n = q.str(0);
      const std::string base = n.substr(0, n.find('#'));
      if (base == "used_bytes") { used_sum += q.i64(1); used |= n == base; }
      if (base == "inodes") { count_sum += q.i64(1); count |= n == base; }
    }
    if (!used || !count) return Status::Error(ENODATA, conn_->describe() + " holds no formatted volume");
    // Never report a negative total, even on damaged counters.
    st.used_bytes = static_cast<uint64_t>(std::max<int64_t>(used_sum, 0));
    st.inodes = static_cast<uint64_t>(std::max<int64_t>(count_sum, 0));
    return st;
  });
}

}  // namespace s3l::meta
