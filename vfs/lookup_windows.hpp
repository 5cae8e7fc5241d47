// Lookup windows: runs of a directory's entries, in name order, with their
// attributes, read in one round trip when lookups in that directory come in
// ascending name order (a stat of every file of a listing, find, rsync, a
// build walking sorted names). The lookup that starts a run asks the
// database for itself and the next entries (Meta::entries_from); the
// following lookups in the run are answered from memory, "exists" with the
// attributes read, or "absent" for a name between two entries of the run.
// Lookups in any other order never start a run and cost what they did.
//
// Consistency is that of the kernel's caches (docs/consistency.md): an
// answer from a window is never older than the timeouts (entry and
// attribute) counted from when the window was asked for, and the kernel is
// told only what is left. This mount's own changes: a window is used only
// while no metadata write of this mount has completed since it was asked
// for (a counter the meta actors raise after each write, before it is
// answered), so everything this mount changed is read again. Unlinks are
// the exception (rm -r looks every name up in order and unlinks it): the
// meta actors do not count them, and the VFS applies each one here instead
// (removed()): the name leaves its window, and a window that holds the
// unlinked inode (another link's nlink changed) or the parent directory
// (its times changed) is dropped; a window asked for before an unlink
// completed is not kept. Files open
// here with a running handle are not answered from a window (the handle
// knows their size).
//
// Times are monotonic (mono_ns). Thread-safe; bounded (one window per
// directory, a fixed number of directories).
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "meta/types.hpp"

namespace s3l {

class LookupWindows {
 public:
  static constexpr uint32_t kRun = 64;   // entries per window

  // Either timeout 0 turns it off.
  LookupWindows(int64_t entry_ttl_ns, int64_t attr_ttl_ns) : entry_ttl_ns_(entry_ttl_ns), attr_ttl_ns_(attr_ttl_ns) {}

  struct Hit {
    std::optional<meta::Attr> attr;   // nullopt: the name does not exist
    int64_t entry_left_ns;            // what is left of the timeouts
    int64_t attr_left_ns;
  };
  // The answer for `name` in `dir` from a valid window, if it covers it.
  // `writes` is the current count of this mount's completed metadata writes.
  std::optional<Hit> find(uint64_t dir, const std::string& name, int64_t now_ns, uint64_t writes);

  // A lookup of `name` in `dir` goes to the database: true if it should ask
  // for a window. That is when this lookup continues an ascending run of
  // lookups in `dir` that found their entries, with no write of this mount
  // completed in between (`writes` as in find()): a run of creates (misses,
  // each followed by a write) would only throw its windows away.
  bool want_window(uint64_t dir, const std::string& name, uint64_t writes);
  // The database had no entry `name` in `dir`: the run is broken.
  void missed(uint64_t dir);

  // The answer of Meta::entries_from(dir, from, kRun), asked for at
  // `asked_ns` when the write count was `writes` and removals() was
  // `removals`.
  void put(uint64_t dir, const std::string& from, std::vector<meta::Entry> run, int64_t asked_ns,
           uint64_t writes, uint64_t removals);
  // This mount's unlink of `name` (inode `ino`) in `dir` has committed.
  // Runs on every unlink: expired windows are dropped rather than scanned.
  void removed(uint64_t dir, const std::string& name, uint64_t ino, int64_t now_ns);
  // How many removed() calls so far: sampled before asking for a window.
  uint64_t removals();
  void clear();

 private:
  struct Dir {
    std::string last;        // the last name looked up in the database here
    int ascending = 0;       // how many lookups in a row were in ascending order
    uint64_t writes_at_last = 0;   // the write count at the last of them
    bool has_window = false;
    std::string from;        // the window covers names in [from, entries.back()],
    bool to_end = false;     // or [from, +inf) when it holds fewer than kRun entries
    std::vector<meta::Entry> entries;
    int64_t asked_ns = 0;
    uint64_t writes = 0;
  };
  Dir& dir_state(uint64_t dir);
  static void drop(Dir& d);   // forgets d's window

  const int64_t entry_ttl_ns_;
  const int64_t attr_ttl_ns_;
  std::mutex mu_;
  std::unordered_map<uint64_t, Dir> dirs_;
  uint64_t removals_ = 0;
};

}  // namespace s3l
