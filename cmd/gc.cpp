// s3layerfs-daemon gc: finds objects under <volume>/chunks/ that nothing in
// the metadata references ("leaked": e.g. blocks uploaded for a slice whose
// commit never happened) and, with --delete, removes them. docs/gc.md.
//
// Safety rules, each of which alone keeps live data:
//  1. The store is listed BEFORE the references are read, in one snapshot.
//     An object in the listing was uploaded before the snapshot, and every
//     upload happens after its slice was recorded as pending; so the snapshot
//     shows its slice as pending or committed, or the slice is gone for good.
//  2. Objects younger than --min-age are never judged.
//  3. Keys that are not block keys of this volume, and block keys whose slice
//     id was never handed out (left over from an earlier `format --force`;
//     that id may be handed out next), are never deleted.
//  4. Every leaked object is HEADed again after the snapshot: one that is gone
//     (the deleter got it) or was rewritten since the listing is not touched.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <unistd.h>
#include <iostream>
#include <mutex>
#include <thread>
#include <tuple>

#include <spdlog/spdlog.h>

#include "cmd/commands.hpp"
#include "actors/compaction.hpp"
#include "cmd/common.hpp"
#include "store/block_key.hpp"
#include "util/clock.hpp"

namespace s3l::cmd {
namespace {

constexpr int64_t kSecond = 1000000000;
constexpr size_t kDeleteBatch = 1000;   // keys per remove_many (S3 DeleteObjects' limit)

// What gc concluded about one listed object.
enum class Verdict : uint8_t {
  unjudged, referenced, pending, dead, young, unallocated, unrecognised, vanished, leaked, deleted
};

struct Tally {
  uint64_t objects = 0, bytes = 0;
  void add(uint64_t size) {
    ++objects;
    bytes += size;
  }
};

// A listed object whose key parsed as a block key of this volume.
struct Candidate {
  uint64_t slice_id;
  uint32_t index, size;
  size_t obj;   // index into the listing
  bool operator<(const Candidate& o) const {
    return std::tie(slice_id, index, size) < std::tie(o.slice_id, o.index, o.size);
  }
};

std::string human(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

// "gc: leaked: 3 objects, 12 bytes (12 B)": one fixed shape, so scripts and tests can parse it.
void line(const char* label, const Tally& t, const std::string& note = "") {
  std::cout << "gc: " << label << ": " << t.objects << " objects, " << t.bytes << " bytes (" << human(t.bytes) << ")"
            << (note.empty() ? "" : " " + note) << "\n";
}

// Runs fn(i) for i in [0, n) on up to `threads` threads.
template <class F>
void parallel_for(size_t n, uint32_t threads, F fn) {
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < n; i = next++) fn(i);
  };
  std::vector<std::thread> ts;
  size_t k = std::min<size_t>(threads, n);
  for (size_t t = 1; t < k; ++t) ts.emplace_back(work);
  work();
  for (auto& t : ts) t.join();
}

}  // namespace

namespace {

// Between chunks, at most this long apart; the session expires after 5 x.
constexpr int64_t kGcHeartbeatNs = 12'000'000'000;

// --compact: every chunk with two or more slices, most fragmented first, as
// a session of its own (the merged slices are pending under it meanwhile).
// Stops when a whole batch made no progress (chunks busy being written).
Status compact_all(Volume& vol) {
  meta::SessionInfo si;
  si.host = "gc";
  si.pid = ::getpid();
  si.mountpoint = "(gc --compact)";
  si.version = S3L_VERSION;
  si.started_ns = si.heartbeat_ns = now_ns();
  si.expiry_ns = 5 * kGcHeartbeatNs;
  auto sid = vol.meta->register_session(si);
  if (!sid.ok()) return Status::Error(sid.err(), "registering a session: " + sid.msg());
  uint64_t compacted = 0, changed = 0, slices_before = 0, bytes = 0;
  int64_t last_beat = now_ns();
  Status result;
  for (;;) {
    auto chunks = vol.meta->fragmented_chunks(2, 100);
    if (!chunks.ok()) {
      result = chunks.status;
      break;
    }
    uint64_t progress = 0;
    for (const meta::ChunkRef& c : *chunks) {
      // A long run must not look dead to the mounts' session cleaners, which
      // would end this session and its pending merged slice.
      if (now_ns() - last_beat > kGcHeartbeatNs) {
        Status hb = vol.meta->heartbeat(*sid, now_ns());
        if (!hb.ok()) {
          result = Status::Error(hb.err, "session heartbeat: " + hb.msg);
          break;
        }
        last_beat = now_ns();
      }
      auto r = compact_chunk(*vol.meta, *vol.store, nullptr, vol.settings, *sid, c.ino, c.chunk);
      if (!r.ok()) {
        result = Status::Error(r.err(), "inode " + std::to_string(c.ino) + " chunk " + std::to_string(c.chunk) +
                                            ": " + r.msg());
        break;
      }
      if (r->outcome == CompactOutcome::compacted) {
        ++compacted;
        ++progress;
        slices_before += r->slices_before;
        bytes += r->bytes;
      } else if (r->outcome == CompactOutcome::changed) {
        ++changed;
      }
    }
    if (!result.ok() || progress == 0) break;
  }
  Status closed = vol.meta->close_session(*sid);
  std::cout << "gc: compacted " << compacted << " chunks (" << slices_before << " slices -> " << compacted << ", "
            << bytes << " bytes rewritten); " << changed << " changed while being compacted (left for later)"
            << std::endl;
  if (result.ok() && !closed.ok()) result = closed;
  return result;
}

}  // namespace

int run_gc(const config::GcOptions& o) {
  int code = kExitRuntime;
  auto v = open_volume(absolute_meta_url(o.meta_url), o.s3, &code);
  if (!v.ok()) return fail("gc", v.msg(), code);
  Volume& vol = v.value;
  if (o.compact) {
    // The replaced blocks go to the dead-block queue; a mount's deleter
    // removes them after its delay (readers in flight may still use them).
    Status s = compact_all(vol);
    if (!s.ok()) return fail("gc", "--compact: " + s.msg);
  }
  const std::string prefix = store::chunks_prefix(vol.settings.name);
  const int64_t min_age_ns = static_cast<int64_t>(o.min_age_s) * kSecond;

  // 1. The listing, strictly before the references (rule 1). Ages are taken
  // against the time before listing: an object can only look younger.
  const int64_t start = now_ns();
  auto listed = vol.store->list(prefix);
  if (!listed.ok())
    return fail("gc", store_error(vol.settings.storage_url, Status::Error(listed.err(), "listing " + prefix + ": " +
                                                                                           listed.msg())));
  const std::vector<store::ObjectInfo>& objs = *listed;
  spdlog::info("gc: listed {} objects under {} in {:.1f} s", objs.size(), prefix,
               static_cast<double>(now_ns() - start) / kSecond);

  std::vector<Verdict> verdict(objs.size(), Verdict::unjudged);
  std::vector<Candidate> cands;
  cands.reserve(objs.size());
  for (size_t i = 0; i < objs.size(); ++i) {
    auto k = store::parse_block_key(objs[i].key);
    if (!k.ok() || k->volume != vol.settings.name) {
      verdict[i] = Verdict::unrecognised;
      spdlog::info("gc: not a block key of volume '{}' (left alone): {}", vol.settings.name, objs[i].key);
      continue;
    }
    cands.push_back(Candidate{k->slice_id, k->index, k->size, i});
  }
  std::sort(cands.begin(), cands.end());

  // 2. The references, in one read transaction.
  auto refs = vol.meta->gc_references([&](const meta::GcBlockRef& r) {
    Candidate key{r.slice_id, r.index, r.size, 0};
    auto it = std::lower_bound(cands.begin(), cands.end(), key);
    if (it == cands.end() || key < *it) return;   // a block whose object is not listed: fsck's business
    Verdict& vd = verdict[it->obj];
    if (vd != Verdict::referenced) vd = r.dead ? Verdict::dead : Verdict::referenced;
  });
  if (!refs.ok()) return fail("gc", "reading the references from the metadata: " + refs.msg());
  for (uint64_t id : refs->pending_slices) {
    Candidate key{id, 0, 0, 0};
    for (auto it = std::lower_bound(cands.begin(), cands.end(), key); it != cands.end() && it->slice_id == id; ++it)
      if (verdict[it->obj] == Verdict::unjudged) verdict[it->obj] = Verdict::pending;
  }

  // 3. What nothing references: too young, never handed out, or leaked.
  std::vector<size_t> suspects;
  for (const Candidate& c : cands) {
    Verdict& vd = verdict[c.obj];
    if (vd != Verdict::unjudged) continue;
    const store::ObjectInfo& ob = objs[c.obj];
    if (c.slice_id >= refs->next_slice_id) {
      vd = Verdict::unallocated;
      spdlog::info("gc: slice id {} not handed out yet (left alone): {}", c.slice_id, ob.key);
    } else if (ob.mtime_ns <= 0 || start - ob.mtime_ns < min_age_ns) {
      vd = Verdict::young;   // an unknown time (<= 0) is never taken for old
    } else {
      suspects.push_back(c.obj);
    }
  }

  // 4. Confirm each suspect with a HEAD after the snapshot (rule 4).
  std::mutex mu;
  Status first_error;
  uint64_t errors = 0;
  auto note_error = [&](const Status& s) {
    std::lock_guard<std::mutex> lk(mu);
    if (errors++ == 0) first_error = s;
  };
  parallel_for(suspects.size(), o.threads, [&](size_t n) {
    const size_t i = suspects[n];
    const store::ObjectInfo& ob = objs[i];
    auto h = vol.store->head(ob.key);
    if (!h.ok()) {
      if (h.err() == ENOENT) verdict[i] = Verdict::vanished;
      else note_error(Status::Error(h.err(), "HEAD " + ob.key + ": " + h.msg()));
      return;
    }
    // S3 reports LastModified in whole seconds on HEAD, in milliseconds when listing.
    const bool rewritten = h->mtime_ns / kSecond != ob.mtime_ns / kSecond || h->size != ob.size;
    if (rewritten || start - h->mtime_ns < min_age_ns) {
      verdict[i] = Verdict::young;
      spdlog::info("gc: {} changed since it was listed (left alone)", ob.key);
      return;
    }
    verdict[i] = Verdict::leaked;
    spdlog::info("gc: leaked: {} ({} bytes, modified {} s ago)", ob.key, ob.size, (start - ob.mtime_ns) / kSecond);
  });
  if (errors > 0)
    return fail("gc", store_error(vol.settings.storage_url, first_error) +
                          (errors > 1 ? " (and " + std::to_string(errors - 1) + " more errors)" : ""));

  // 5. --delete: in batches, in parallel. A failed batch is retried key by
  // key, so every key that could not be deleted is known and reported.
  if (o.remove) {
    std::vector<size_t> leaked;
    for (size_t i : suspects)
      if (verdict[i] == Verdict::leaked) leaked.push_back(i);
    const size_t batches = (leaked.size() + kDeleteBatch - 1) / kDeleteBatch;
    parallel_for(batches, o.threads, [&](size_t b) {
      const size_t lo = b * kDeleteBatch, hi = std::min(leaked.size(), lo + kDeleteBatch);
      std::vector<std::string> keys;
      for (size_t j = lo; j < hi; ++j) keys.push_back(objs[leaked[j]].key);
      Status s = vol.store->remove_many(keys);
      for (size_t j = lo; j < hi; ++j) {
        const std::string& key = objs[leaked[j]].key;
        Status one = s.ok() ? s : vol.store->remove(key);
        if (!one.ok()) {
          spdlog::error("gc: deleting {}: {}", key, one.msg);
          note_error(Status::Error(one.err, "deleting " + key + ": " + one.msg));
          continue;
        }
        verdict[leaked[j]] = Verdict::deleted;
        spdlog::info("gc: deleted {}", key);
      }
    });
  }

  // 6. The summary.
  Tally all, by[10];
  for (size_t i = 0; i < objs.size(); ++i) {
    all.add(objs[i].size);
    by[static_cast<int>(verdict[i])].add(objs[i].size);
  }
  auto t = [&](Verdict x) { return by[static_cast<int>(x)]; };
  std::cout << "gc: volume '" << vol.settings.name << "' in " << vol.store->describe() << "\n";
  line("listed", all, "under " + prefix);
  line("referenced", t(Verdict::referenced), "(blocks of files)");
  line("pending-slice", t(Verdict::pending),
       "(uploads in flight; " + std::to_string(refs->pending_slices.size()) + " pending slices)");
  line("dead-queued", t(Verdict::dead),
       "(" + std::to_string(refs->dead_blocks) + " rows in the dead-block queue; the deleter removes them)");
  line("too-young", t(Verdict::young), "(modified less than " + std::to_string(o.min_age_s) + " s ago; not judged)");
  line("unallocated-id", t(Verdict::unallocated), "(slice id never handed out; left alone)");
  line("unrecognised", t(Verdict::unrecognised), "(not block keys of this volume; left alone)");
  line("vanished", t(Verdict::vanished), "(gone before they could be checked)");
  Tally leaked = t(Verdict::leaked);
  Tally deleted = t(Verdict::deleted);
  Tally found = leaked;
  found.objects += deleted.objects;
  found.bytes += deleted.bytes;
  line("leaked", found, "(referenced by nothing, older than " + std::to_string(o.min_age_s) + " s)");
  if (o.remove) line("deleted", deleted);
  std::cout << std::flush;

  if (errors > 0)
    return fail("gc", std::to_string(leaked.objects) + " leaked objects could not be deleted; first error: " +
                          store_error(vol.settings.storage_url, first_error));
  if (t(Verdict::unrecognised).objects > 0)
    std::cerr << "s3layerfs-daemon: gc: warning: " << t(Verdict::unrecognised).objects << " objects under " << prefix
              << " are not block keys of this volume; gc never deletes them (--log-level info lists them)"
              << std::endl;
  if (leaked.objects > 0) {
    std::cout << "gc: run with --delete to remove the " << leaked.objects << " leaked objects" << std::endl;
    return kExitProblems;
  }
  return kExitOk;
}

}  // namespace s3l::cmd
