// The names of a directory, kept for at most the entry timeout, to answer
// lookups of names that do not exist without asking the database.
//
// Why: the kernel looks a name up before it creates it (open with O_CREAT,
// mkdir, symlink, mknod, link, rename over a new name), and that negative
// lookup is a database round trip per create. When a directory keeps
// getting such lookups, its listing is read once (one query) and the
// following misses are answered from it until it expires.
//
// Consistency is that of the kernel's own negative entries (docs/
// consistency.md): a listing is never used past the time it was asked for
// plus the timeout, and the kernel is told only the time that is left, so a
// name another client creates shows here within the entry timeout. Names are
// only used to say "absent": a name in the listing still goes to the
// database, so a stale name costs a round trip, never a wrong answer.
//
// This mount's own changes must not be lost: every entry it adds (create,
// mkdir, link, rename) is added to the listing. A listing being read may or
// may not include a change that commits meanwhile, so the changes reported
// while a load is under way are kept and applied again to what it brings
// (adding an entry that exists, erasing one that does not, are harmless).
// Removals just erase the name.
//
// When to load: after enough database misses in the directory since its
// last listing: one for a directory that had few names, more for a large
// one (reading the names costs about one round trip per few hundred), so a
// stray miss in a huge directory does not read all of it.
//
// When to read it again: a listing in use (as many "absent" answers since it
// was read as the misses that would load it) is read again once three
// quarters of its time are gone, and stays in use meanwhile: a directory
// that keeps getting creates never expires, and never pays the database
// miss that would load it again (with creates spread over 100 directories,
// that was one miss per directory per timeout).
//
// Times are monotonic (mono_ns), not wall-clock. Thread-safe; bounded by the
// total number of names kept.
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace s3l {

class DirNamesCache {
 public:
  // ttl_ns 0 disables the cache. max_names bounds the names of all listings.
  DirNamesCache(int64_t ttl_ns, size_t max_names) : ttl_ns_(ttl_ns), max_names_(max_names) {}

  // If a valid listing of `dir` says `name` does not exist: the time left
  // (ns, > 0) that the kernel may remember that. Otherwise nullopt.
  // If `refresh` is given and the listing is due to be read again, a load
  // id is put there: read the listing now and pass it to loaded().
  std::optional<int64_t> absent(uint64_t dir, const std::string& name, int64_t now_ns,
                                std::optional<uint64_t>* refresh = nullptr);

  // The database said `dir` has no entry `name`. Returns a load id to pass
  // to loaded() if the caller should now read the listing of `dir` (at most
  // one load per directory at a time).
  std::optional<uint64_t> missed(uint64_t dir, int64_t now_ns);
  // The listing of `dir`, read from the database after `asked_ns` by the
  // load `id`. Kept unless too large, with this mount's changes reported
  // since the load began applied to it.
  void loaded(uint64_t dir, uint64_t id, std::vector<std::string> names, int64_t asked_ns);
  // The load started by missed() failed: the next miss may try again.
  void load_failed(uint64_t dir);

  // This mount's committed changes of the entries of `dir`.
  void added(uint64_t dir, const std::string& name);
  void removed(uint64_t dir, const std::string& name);
  void clear();

  size_t names() const;   // total kept, for tests and status

 private:
  // Misses before a load for a directory whose last listing had `size` names.
  static uint64_t misses_before_load(size_t size) { return 1 + size / 256; }
  struct Change {
    bool add;
    std::string name;
  };
  struct Dir {
    uint64_t load_id = 0;      // of the load under way
    uint64_t misses = 0;       // database misses since the last listing
    uint64_t answers = 0;      // "absent" answers from the current listing
    bool loading = false;
    bool spoiled = false;      // too many changes during the load to keep
    std::vector<Change> during_load;   // this mount's changes since the load began
    size_t last_size = 0;      // names in the last listing (also after it expired)
    bool listed = false;       // `names` is a listing valid until expires_ns
    int64_t expires_ns = 0;
    std::unordered_set<std::string> names;
  };
  void drop_listing(Dir& d);
  uint64_t start_load(Dir& d);
  void note_change(Dir& d, bool add, const std::string& name);
  void make_room(size_t wanted, int64_t now_ns, uint64_t keep);

  const int64_t ttl_ns_;
  const size_t max_names_;
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Dir> dirs_;
  size_t total_ = 0;   // names in all listings
  uint64_t next_load_id_ = 0;   // global, so a slot made again never matches an old load
};

}  // namespace s3l
