// file:// object store. See local_store.hpp for the key -> path mapping.
// Durability: put writes a temp file in the object's directory, fsyncs it,
// renames it over the final name and fsyncs the directory, so after put
// returns the object survives a crash and readers never see a partial one.
#include "store/local_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <random>
#include <unordered_set>
#include <string_view>

#include <spdlog/spdlog.h>

namespace s3l::store {
namespace {

constexpr size_t kMaxPiece = 200;       // + "%t" + 16 hex stays under NAME_MAX (255)
constexpr int kMaxDirRetries = 100;      // put vs. concurrent pruning of empty dirs
constexpr const char* kLayoutFile = "%layout";
constexpr const char* kLayoutMagic = "s3layerfs-local-store ";

std::string errstr(int e) { return std::strerror(e); }

Status sys_error(int e, const std::string& what, const std::string& path) {
  return Status::Error(e, what + " " + path + ": " + errstr(e));
}

// ---- key <-> path ------------------------------------------------------------

std::string escape_component(std::string_view c) {
  if (c.empty() || c == "." || c == "..") return "%" + std::string(c);
  std::string out;
  out.reserve(c.size());
  for (char ch : c) {
    if (ch == '%') out += "%25";
    else out += ch;
  }
  return out;
}

// Splits an escaped component into pieces of kMaxPiece/2..kMaxPiece bytes,
// never inside a "%25". Balanced sizes mean no piece is ever "." or "..".
std::vector<std::string> split_pieces(const std::string& enc) {
  std::vector<std::string> out;
  size_t i = 0;
  while (enc.size() - i > kMaxPiece) {
    size_t rem = enc.size() - i;
    size_t n = (rem + kMaxPiece - 1) / kMaxPiece;
    size_t cut = i + (rem + n - 1) / n;
    if (enc[cut - 1] == '%') cut -= 1;
    else if (enc[cut - 2] == '%') cut -= 2;
    out.push_back(enc.substr(i, cut - i));
    i = cut;
  }
  out.push_back(enc.substr(i));
  return out;
}

// Inverse of escape_component for one name (or one piece of a split name).
bool unescape(std::string_view enc, std::string& out) {
  out.clear();
  if (enc == "%" || enc == "%." || enc == "%..") {
    out.assign(enc.substr(1));
    return true;
  }
  for (size_t i = 0; i < enc.size(); ++i) {
    if (enc[i] != '%') {
      out += enc[i];
    } else if (enc.substr(i, 3) == "%25") {
      out += '%';
      i += 2;
    } else {
      return false;
    }
  }
  return true;
}

bool ends_with(std::string_view s, std::string_view suf) {
  return s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf;
}

Status check_key(const std::string& key) {
  if (key.empty()) return Status::Error(EINVAL, "empty object key");
  if (key.find('\0') != std::string::npos)
    return Status::Error(EINVAL, "object key contains a NUL byte");
  if (key.size() > kMaxKeyLen)
    return Status::Error(ENAMETOOLONG, "object key is " + std::to_string(key.size()) +
                                           " bytes, the limit is " +
                                           std::to_string(kMaxKeyLen));
  return Status::Ok();
}

// Relative directory path of a list of complete key components (as dirs).
void append_dir_components(std::string& path, std::string_view comps) {
  size_t start = 0;
  while (start <= comps.size()) {
    size_t slash = comps.find('/', start);
    if (slash == std::string_view::npos) slash = comps.size();
    auto pieces = split_pieces(escape_component(comps.substr(start, slash - start)));
    for (size_t i = 0; i < pieces.size(); ++i) {
      if (!path.empty()) path += '/';
      path += pieces[i];
      if (i + 1 < pieces.size()) path += "%+";
    }
    start = slash + 1;
  }
}

struct ObjPath {
  std::string dir;    // relative, "" = root
  std::string piece;  // last piece of the object name, without suffix
  std::string name() const { return piece + "%o"; }
};

ObjPath object_path(const std::string& key) {
  ObjPath p;
  size_t slash = key.rfind('/');
  std::string_view last = key;
  if (slash != std::string::npos) {
    append_dir_components(p.dir, std::string_view(key).substr(0, slash));
    last = std::string_view(key).substr(slash + 1);
  }
  auto pieces = split_pieces(escape_component(last));
  for (size_t i = 0; i + 1 < pieces.size(); ++i) {
    if (!p.dir.empty()) p.dir += '/';
    p.dir += pieces[i] + "%+";
  }
  p.piece = pieces.back();
  return p;
}

// ---- small POSIX helpers ------------------------------------------------------

Status fsync_dir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return sys_error(errno, "open directory", dir);
  int rc = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (rc != 0) return sys_error(e, "fsync directory", dir);
  return Status::Ok();
}

Status write_all(int fd, const char* data, size_t len, const std::string& path) {
  while (len > 0) {
    ssize_t n = ::write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error(errno, "write", path);
    }
    data += n;
    len -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

std::string random_hex16() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   (uint64_t(::getpid()) << 32) ^ counter.fetch_add(1)};
  uint64_t v = rng() ^ counter.fetch_add(1);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

int64_t mtime_ns(const struct stat& st) {
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// ---- the store ----------------------------------------------------------------

class LocalStore final : public ObjectStore {
 public:
  explicit LocalStore(std::string root) : root_(std::move(root)) {}

  std::string describe() const override { return "file://" + root_; }

  Status put(const std::string& key, const char* data, size_t len) override {
    if (auto s = check_key(key); !s.ok()) return s;
    ObjPath p = object_path(key);
    std::string dir = abs_dir(p.dir);
    std::string tmp = dir + "/" + p.piece + "%t" + random_hex16();
    std::string dst = dir + "/" + p.name();
    int fd = -1;
    // A concurrent remove() may rmdir an emptied parent between our mkdir and
    // open: recreate and retry a few times.
    for (int attempt = 0; fd < 0; ++attempt) {
      if (auto s = make_dirs(p.dir); !s.ok()) return with_key(s, "put", key);
      fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (fd < 0 && (errno != ENOENT || attempt >= kMaxDirRetries))
        return with_key(sys_error(errno, "create", tmp), "put", key);
    }
    Status s = write_all(fd, data, len, tmp);
    if (s.ok() && ::fsync(fd) != 0) s = sys_error(errno, "fsync", tmp);
    if (::close(fd) != 0 && s.ok()) s = sys_error(errno, "close", tmp);
    if (s.ok() && ::rename(tmp.c_str(), dst.c_str()) != 0) s = sys_error(errno, "rename to", dst);
    if (!s.ok()) {
      ::unlink(tmp.c_str());
      return with_key(s, "put", key);
    }
    if (auto d = fsync_dir(dir); !d.ok()) return with_key(d, "put", key);
    return Status::Ok();
  }

  Result<std::string> get(const std::string& key, uint64_t off, uint64_t len) override {
    if (auto s = check_key(key); !s.ok()) return s;
    std::string path = abs_path(key);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return not_found_or(errno, "get", key, path);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      return with_key(sys_error(e, "stat", path), "get", key);
    }
    uint64_t size = static_cast<uint64_t>(st.st_size);
    uint64_t start = std::min(off, size);
    uint64_t n = std::min(len, size - start);
    std::string buf(n, '\0');
    uint64_t done = 0;
    while (done < n) {
      ssize_t r = ::pread(fd, buf.data() + done, n - done, static_cast<off_t>(start + done));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        int e = r < 0 ? errno : EIO;
        ::close(fd);
        // Objects are immutable and replaced by rename, so a short read means
        // the file was damaged underneath us: never return a truncated object.
        return with_key(Status::Error(e, "read " + path + " at " + std::to_string(start + done) +
                                             ": " + (r < 0 ? errstr(e) : "unexpected end of file")),
                        "get", key);
      }
      done += static_cast<uint64_t>(r);
    }
    ::close(fd);
    return buf;
  }

  Result<ObjectInfo> head(const std::string& key) override {
    if (auto s = check_key(key); !s.ok()) return s;
    std::string path = abs_path(key);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return not_found_or(errno, "head", key, path);
    return ObjectInfo{key, static_cast<uint64_t>(st.st_size), mtime_ns(st)};
  }

  Status remove(const std::string& key) override {
    if (auto s = check_key(key); !s.ok()) return s;
    ObjPath p = object_path(key);
    std::string path = abs_dir(p.dir) + "/" + p.name();
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return Status::Ok();
      return with_key(sys_error(errno, "unlink", path), "remove", key);
    }
    // Durability of the delete is not needed for safety (a resurrected
    // unreferenced object is garbage, not corruption), so no directory fsync.
    prune_dirs(p.dir);
    return Status::Ok();
  }

  Status remove_many(const std::vector<std::string>& keys) override {
    size_t failed = 0;
    Status first;
    for (const auto& k : keys) {
      Status s = remove(k);
      if (!s.ok() && failed++ == 0) first = s;
    }
    if (failed == 0) return Status::Ok();
    return Status::Error(first.err, "remove_many: " + std::to_string(failed) + " of " +
                                        std::to_string(keys.size()) +
                                        " deletes failed; first: " + first.msg);
  }

  Result<std::vector<ObjectInfo>> list(const std::string& prefix) override {
    std::vector<ObjectInfo> out;
    // Start at the deepest directory fully named by the prefix; filter the rest.
    size_t slash = prefix.rfind('/');
    std::string rel, key_prefix;
    if (slash != std::string::npos) {
      append_dir_components(rel, std::string_view(prefix).substr(0, slash));
      key_prefix = prefix.substr(0, slash + 1);
    }
    Status s = walk(abs_dir(rel), key_prefix, "", prefix, out, true);
    if (!s.ok()) return Status::Error(s.err, "list '" + prefix + "' in " + describe() + ": " + s.msg);
    std::sort(out.begin(), out.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return out;
  }

  Status init(bool created);

 private:
  std::string abs_dir(const std::string& rel) const {
    return rel.empty() ? root_ : root_ + "/" + rel;
  }
  std::string abs_path(const std::string& key) const {
    ObjPath p = object_path(key);
    return abs_dir(p.dir) + "/" + p.name();
  }

  Status with_key(const Status& s, const char* op, const std::string& key) const {
    return Status::Error(s.err, std::string(op) + " '" + key + "' in " + describe() + ": " + s.msg);
  }
  Status not_found_or(int e, const char* op, const std::string& key, const std::string& path) const {
    if (e == ENOENT || e == ENOTDIR)
      return Status::Error(ENOENT, std::string(op) + ": no object '" + key + "' in " + describe());
    return with_key(sys_error(e, "open", path), op, key);
  }

  // mkdir -p of a relative directory under root. Every level's entry must be
  // durable before an object under it counts as stored, also when another
  // thread created the level and has not fsynced its parent yet: levels not
  // known durable get their parent fsynced here (once per level per process).
  Status make_dirs(const std::string& rel) {
    if (rel.empty()) return Status::Ok();
    size_t pos = 0;
    int restarts = 0;
    while (pos <= rel.size()) {
      size_t slash = rel.find('/', pos);
      if (slash == std::string::npos) slash = rel.size();
      std::string sub = rel.substr(0, slash);
      std::string path = root_ + "/" + sub;
      int e = ::mkdir(path.c_str(), 0755) == 0 ? 0 : errno;
      if (e != 0 && e != EEXIST && e != ENOENT) return sys_error(e, "create directory", path);
      if (e != ENOENT && (e == 0 || !is_durable(sub))) {
        std::string parent = path.substr(0, path.rfind('/'));
        Status s = fsync_dir(parent);
        if (s.ok()) mark_durable(sub);
        else if (s.err != ENOENT) return s;
        else e = ENOENT;
      }
      if (e == ENOENT) {   // a concurrent remove() pruned a parent: start over
        if (++restarts >= kMaxDirRetries) return sys_error(ENOENT, "create directory", path);
        pos = 0;
        continue;
      }
      pos = slash + 1;
    }
    return Status::Ok();
  }

  bool is_durable(const std::string& rel) {
    std::lock_guard<std::mutex> lk(durable_mu_);
    return durable_.count(rel) != 0;
  }
  void mark_durable(const std::string& rel) {
    std::lock_guard<std::mutex> lk(durable_mu_);
    durable_.insert(rel);
  }

  // Removes now-empty directories from rel upwards (best effort: stops at the
  // first that is not empty or fails).
  void prune_dirs(std::string rel) {
    while (!rel.empty()) {
      {
        // Forget durability first: a put that recreates the level fsyncs again.
        std::lock_guard<std::mutex> lk(durable_mu_);
        if (::rmdir(abs_dir(rel).c_str()) != 0) return;
        durable_.erase(rel);
      }
      size_t slash = rel.rfind('/');
      rel = slash == std::string::npos ? "" : rel.substr(0, slash);
    }
  }

  // Lists objects under `dir`, whose complete-component key prefix is
  // key_prefix and whose pending (split, not yet complete) component text is
  // `pending`. Keys not starting with `filter` are dropped.
  Status walk(const std::string& dir, const std::string& key_prefix, const std::string& pending,
              const std::string& filter, std::vector<ObjectInfo>& out, bool top) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
      if (top && (errno == ENOENT || errno == ENOTDIR)) return Status::Ok();
      return sys_error(errno, "open directory", dir);
    }
    Status result;
    std::string comp;
    while (true) {
      errno = 0;
      struct dirent* e = ::readdir(d);
      if (!e) {
        if (errno != 0) result = sys_error(errno, "read directory", dir);
        break;
      }
      std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      if (name.find("%t") != std::string_view::npos) continue;   // temp file of a put
      if (name.size() >= 2 && name[0] == '%' &&
          ((name[1] >= 'a' && name[1] <= 'z') || (name[1] >= 'A' && name[1] <= 'Z')))
        continue;                                                 // reserved (%layout)
      std::string path = dir + "/" + std::string(name);
      bool is_obj = ends_with(name, "%o"), is_cont = ends_with(name, "%+");
      std::string_view enc = (is_obj || is_cont) ? name.substr(0, name.size() - 2) : name;
      if (!unescape(enc, comp)) {
        spdlog::debug("local store: ignoring foreign file {}", path);
        continue;
      }
      std::string key_part = pending + comp;
      if (is_obj) {
        std::string key = key_prefix + key_part;
        if (key.compare(0, filter.size(), filter) != 0) continue;
        struct stat st;
        if (::lstat(path.c_str(), &st) != 0) {
          if (errno == ENOENT) continue;  // removed while listing
          result = sys_error(errno, "stat", path);
          break;
        }
        if (!S_ISREG(st.st_mode)) continue;
        out.push_back({std::move(key), static_cast<uint64_t>(st.st_size), mtime_ns(st)});
        continue;
      }
      // A directory: skip subtrees that cannot match the filter.
      std::string sub_prefix = is_cont ? key_prefix : key_prefix + key_part + "/";
      std::string sub_pending = is_cont ? key_part : "";
      std::string known = sub_prefix + sub_pending;
      size_t n = std::min(known.size(), filter.size());
      if (known.compare(0, n, filter, 0, n) != 0) continue;
      if (e->d_type != DT_DIR) {
        struct stat st;
        if (e->d_type != DT_UNKNOWN || ::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
          continue;
      }
      Status s = walk(path, sub_prefix, sub_pending, filter, out, false);
      if (!s.ok() && s.err != ENOENT) {  // ENOENT: pruned while listing
        result = s;
        break;
      }
    }
    ::closedir(d);
    return result;
  }

  const std::string root_;
  std::mutex durable_mu_;
  std::unordered_set<std::string> durable_;   // relative dirs whose entry is fsynced
};

// Checks (or writes) the layout marker and probes that the root is writable
// with a real write (access() lies for root and ignores read-only mounts).
Status LocalStore::init(bool created) {
  std::string marker = root_ + "/" + kLayoutFile;
  std::string want = std::string(kLayoutMagic) + std::to_string(kLocalLayoutVersion) + "\n";
  int fd = ::open(marker.c_str(), O_RDONLY | O_CLOEXEC);
  bool have_marker = fd >= 0;
  if (have_marker) {
    char buf[128];
    ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    std::string have(buf, n > 0 ? static_cast<size_t>(n) : 0);
    if (have.rfind(kLayoutMagic, 0) != 0)
      return Status::Error(EPROTO, "storage directory " + root_ +
                                       " has an unreadable layout marker " + marker);
    unsigned long v = std::strtoul(have.c_str() + std::strlen(kLayoutMagic), nullptr, 10);
    if (v != kLocalLayoutVersion)
      return Status::Error(EPROTO, "storage directory " + root_ + " uses layout version " +
                                       std::to_string(v) + "; this binary understands " +
                                       std::to_string(kLocalLayoutVersion));
  } else if (errno != ENOENT) {
    return sys_error(errno, "cannot read layout marker", marker);
  }
  // Without a marker, writing it is the probe; with one, write a probe file.
  std::string tmp = have_marker ? root_ + "/%probe%t" + random_hex16()
                                : marker + "%t" + random_hex16();
  int w = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (w < 0)
    return Status::Error(errno, "storage directory " + root_ + " is not writable: " +
                                    errstr(errno));
  Status s = write_all(w, want.data(), want.size(), tmp);
  if (s.ok() && ::fsync(w) != 0) s = sys_error(errno, "fsync", tmp);
  if (::close(w) != 0 && s.ok()) s = sys_error(errno, "close", tmp);
  if (s.ok() && !have_marker && ::rename(tmp.c_str(), marker.c_str()) != 0)
    s = sys_error(errno, "rename to", marker);
  if (have_marker || !s.ok()) ::unlink(tmp.c_str());
  if (!s.ok())
    return Status::Error(s.err, "storage directory " + root_ + " is not writable: " + s.msg);
  if (!have_marker || created) return fsync_dir(root_);
  return Status::Ok();
}

}  // namespace

Result<std::string> local_object_path(const std::string& key) {
  if (auto s = check_key(key); !s.ok()) return s;
  ObjPath p = object_path(key);
  return p.dir.empty() ? p.name() : p.dir + "/" + p.name();
}

Result<std::unique_ptr<ObjectStore>> open_local_store(const std::string& dir_in, bool create) {
  if (dir_in.empty() || dir_in[0] != '/')
    return Status::Error(EINVAL, "storage directory '" + dir_in + "' must be an absolute path");
  std::string dir = dir_in;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  bool created = false;
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return sys_error(errno, "cannot access storage directory", dir);
    if (!create)
      return Status::Error(ENOENT, "storage directory " + dir + " does not exist");
    // mkdir -p, fsyncing each parent so the directory survives a crash.
    for (size_t pos = 1; pos <= dir.size(); ++pos) {
      if (pos != dir.size() && dir[pos] != '/') continue;
      std::string part = dir.substr(0, pos);
      if (::mkdir(part.c_str(), 0755) == 0) {
        std::string parent = part.substr(0, std::max<size_t>(1, part.rfind('/')));
        if (auto s = fsync_dir(parent); !s.ok()) return s;
      } else if (errno != EEXIST) {
        return sys_error(errno, "cannot create storage directory", part);
      }
    }
    created = true;
    if (::stat(dir.c_str(), &st) != 0) return sys_error(errno, "cannot access storage directory", dir);
  }
  if (!S_ISDIR(st.st_mode))
    return Status::Error(ENOTDIR, "storage path " + dir + " is not a directory");
  auto store = std::make_unique<LocalStore>(dir);
  if (auto s = store->init(created); !s.ok()) return s;
  return std::unique_ptr<ObjectStore>(std::move(store));
}

}  // namespace s3l::store
