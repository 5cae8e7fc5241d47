#include "actors/inode_handle.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "actors/bridge.hpp"
#include "actors/messages.hpp"
#include "meta/slice_map.hpp"
#include "store/block_key.hpp"
#include "util/clock.hpp"

namespace s3l {

namespace {

using meta::Attr;
using meta::Slice;

// Append slices (O_APPEND writes) have no place until their commit puts them
// at the end of the file; they live in this pseudo chunk meanwhile.
constexpr uint64_t kAppendChunk = UINT64_MAX;

// A slice of this mount's writes that is not committed yet.
struct WSlice {
  enum class State { open, frozen, uploading, uploaded, committing };
  uint64_t seq = 0;                     // creation order: higher = newer
  uint64_t chunk = 0, pos = 0, len = 0;
  std::vector<std::shared_ptr<std::string>> blocks;  // block_size pieces
  State state = State::open;
  uint64_t id = 0;                      // slice id, once begun in meta
  size_t uploads_left = 0;
  bool failed = false;
  Status error;
  std::vector<meta::Block> done;
  uint64_t charged = 0;                 // bytes held in the write budget
  int64_t last_write_ns = 0;
  bool append = false;                  // chunk == kAppendChunk; placed by commit_append
  uint64_t est_off = 0;                 // where this mount expects an append to land
};

// Completion callback for flushes and truncates waiting on slices.
struct Waiter {
  uint64_t upto_seq;                    // all slices with seq <= this must be done
  std::function<void(Status)> done;
};

struct ChunkView {
  std::vector<Slice> slices;            // committed, ascending id
  std::vector<meta::Segment> segs;      // resolved; points into `slices`
  bool resolved = false;
};

struct handle_state {
  HandleConfig cfg;
  uint64_t size = 0;                    // logical size including buffered writes
  int64_t seen_mtime = 0;               // mtime after this mount's last commit or look
  std::map<uint64_t, ChunkView> chunks; // committed slice lists, fetched on demand
  // Bumped by every own commit into a chunk (per chunk) and by every event that
  // drops all lists (epoch). A slice list fetched across such a change may miss
  // a slice that is no longer in flight here, so it is not cached.
  std::map<uint64_t, uint64_t> chunk_gen;
  uint64_t epoch = 0;
  std::map<uint64_t, uint64_t> commits_unhinted;   // own commits per chunk since the last hint
  std::map<uint64_t, WSlice> inflight;  // by seq
  uint64_t next_seq = 1;
  uint64_t open_bytes = 0;              // bytes in open slices
  // Append slices in flight, and the open one (0: none). While any is in
  // flight, commits follow write order across all chunks (try_commit_all).
  uint64_t appends_inflight = 0;
  uint64_t open_append = 0;
  std::vector<Waiter> waiters;
  Status sticky;                        // first upload/commit error, reported by flush
  uint64_t last_read_end = UINT64_MAX;
  std::set<std::string> prefetched;     // keys already asked for (bounded)
  bool tick_armed = false;
  // Requests still being answered. A handle closed by the last release keeps
  // running until this is 0: a caller that picked it up just before the close
  // must get its answer (an exiting actor drops promises it already took).
  std::shared_ptr<int> busy = std::make_shared<int>(0);
  static inline const char* name = "inode_handle";
};

using self_ptr = caf::stateful_actor<handle_state>*;

// Counts one request in handle_state::busy for as long as it lives; kept in
// the callbacks that eventually answer it.
struct Busy {
  std::shared_ptr<int> n;
  explicit Busy(std::shared_ptr<int> c) : n(std::move(c)) { ++*n; }
  ~Busy() { --*n; }
};
using BusyPtr = std::shared_ptr<Busy>;
BusyPtr busy(self_ptr self) { return std::make_shared<Busy>(self->state.busy); }

constexpr auto kIdleCut = std::chrono::seconds(2);

std::string key_of(const handle_state& st, uint64_t slice_id, uint32_t index, uint32_t size) {
  return store::block_key(st.cfg.volume, slice_id, index, size);
}

void check_waiters(self_ptr self) {
  auto& st = self->state;
  uint64_t oldest = st.inflight.empty() ? UINT64_MAX : st.inflight.begin()->first;
  std::vector<Waiter> ready;
  auto it = std::partition(st.waiters.begin(), st.waiters.end(),
                           [&](const Waiter& w) { return w.upto_seq >= oldest; });
  std::move(it, st.waiters.end(), std::back_inserter(ready));
  st.waiters.erase(it, st.waiters.end());
  if (ready.empty()) return;
  Status result = st.sticky;
  st.sticky = Status::Ok();  // reported once, like a writeback error
  for (auto& w : ready) w.done(result);
}

void finish_slice(self_ptr self, uint64_t seq) {
  auto& st = self->state;
  auto it = st.inflight.find(seq);
  if (it == st.inflight.end()) return;
  st.cfg.budget->release(it->second.charged);
  if (it->second.append) --st.appends_inflight;
  if (st.open_append == seq) st.open_append = 0;
  st.inflight.erase(it);
  check_waiters(self);
}

void try_commit(self_ptr self, uint64_t chunk);

void fail_slice(self_ptr self, uint64_t seq, const Status& err) {
  auto& st = self->state;
  auto it = st.inflight.find(seq);
  if (it == st.inflight.end()) return;
  WSlice& s = it->second;
  spdlog::error("ino {}: slice of {} bytes at chunk {}+{} was not stored: {}", st.cfg.ino, s.len,
                s.chunk, s.pos, err.msg);
  if (st.sticky.ok()) st.sticky = err.ok() ? Status::Error(EIO, "upload failed") : err;
  if (s.id) {
    // Drop the pending record first, and the stored objects only once that
    // worked: if the commit did land after all (its answer was lost), abort
    // refuses and the objects must stay. Otherwise they are left to gc.
    std::vector<std::string> keys;
    for (auto& b : s.done)
      if (!b.checksum.empty()) keys.push_back(key_of(st, s.id, b.index, b.size));
    const uint64_t id = s.id, ino = st.cfg.ino;
    caf::actor uploads = st.cfg.uploads;
    self->request(st.cfg.meta, kMetaTimeout, msg::abort_atom::value, id)
        .then(
            [=]() {
              if (!keys.empty()) self->send(uploads, msg::del_objs_atom::value, keys);
            },
            [=](caf::error& e) {
              spdlog::warn("ino {}: slice {} not aborted ({}); its {} objects are left for gc", ino, id,
                           from_caf_error(e).msg, keys.size());
            });
  }
  uint64_t chunk = s.chunk;
  finish_slice(self, seq);
  try_commit(self, chunk);
}

// Many small commits into one chunk fragment it: name it for compaction
// once per `compact_threshold` commits (cheap: no query here).
void hint_if_fragmented(self_ptr self, uint64_t chunk) {
  auto& st = self->state;
  if (!st.cfg.compact_hints) return;
  uint64_t& n = st.commits_unhinted[chunk];
  if (++n < st.cfg.compact_threshold) return;
  n = 0;
  self->send(st.cfg.compact_hints, msg::compact_hint_atom::value, st.cfg.ino, chunk);
}

void commit_slice(self_ptr self, uint64_t seq) {
  auto& st = self->state;
  WSlice& s = st.inflight.at(seq);
  s.state = WSlice::State::committing;
  Slice rec;
  rec.id = s.id;
  rec.ino = st.cfg.ino;
  rec.chunk = s.chunk;
  rec.pos = s.pos;
  rec.len = s.len;
  rec.blocks = s.done;
  if (s.append) {
    rec.chunk = s.est_off / st.cfg.chunk_size;   // informative: the commit places it
    rec.pos = 0;
    self->request(st.cfg.meta, kMetaTimeout, msg::commit_append_atom::value, rec, now_ns())
        .then(
            [=](Attr& a) {
              auto& st = self->state;
              st.seen_mtime = a.mtime_ns;
              const uint64_t cs = st.cfg.chunk_size, at = a.size - rec.len;
              for (uint64_t c = at / cs; c <= (a.size - 1) / cs; ++c) {
                ++st.chunk_gen[c];
                st.chunks.erase(c);   // reload: other clients may have appended too
              }
              finish_slice(self, seq);
              st.size = st.inflight.empty() ? a.size : std::max(st.size, a.size);
              try_commit(self, kAppendChunk);
            },
            [=](caf::error& e) { fail_slice(self, seq, from_caf_error(e)); });
    return;
  }
  uint64_t end = s.chunk * st.cfg.chunk_size + s.pos + s.len;
  self->request(st.cfg.meta, kMetaTimeout, msg::commit_atom::value, rec, end, now_ns())
      .then(
          [=](Attr& a) {
            auto& st = self->state;
            st.seen_mtime = a.mtime_ns;
            ++st.chunk_gen[rec.chunk];
            auto cit = st.chunks.find(rec.chunk);
            if (cit != st.chunks.end()) {
              cit->second.slices.push_back(rec);  // committed last: it wins
              cit->second.resolved = false;
            }
            finish_slice(self, seq);
            hint_if_fragmented(self, rec.chunk);
            try_commit(self, rec.chunk);
          },
          [=](caf::error& e) { fail_slice(self, seq, from_caf_error(e)); });
}

// With appends in flight, write order holds across chunks: an append lands
// after everything written before it, and a positioned write after an append
// must not be overtaken by it. So an append commits only when nothing older
// is in flight, and other slices wait for older appends.
void try_commit_all(self_ptr self) {
  std::set<uint64_t> seen;
  bool older_any = false, older_append = false;
  for (auto& [seq, s] : self->state.inflight) {
    bool first_in_chunk = seen.insert(s.chunk).second;
    if (first_in_chunk && s.state == WSlice::State::uploaded && (s.append ? !older_any : !older_append))
      commit_slice(self, seq);
    older_any = true;
    older_append = older_append || s.append;
  }
}

// Commits happen in write order per chunk, because the commit order decides
// which slice wins where they overlap: only the oldest in-flight slice of a
// chunk may commit, and only one at a time.
void try_commit(self_ptr self, uint64_t chunk) {
  if (self->state.appends_inflight > 0 || chunk == kAppendChunk) return try_commit_all(self);
  for (auto& [seq, s] : self->state.inflight) {
    if (s.chunk != chunk) continue;
    if (s.state == WSlice::State::uploaded) commit_slice(self, seq);
    return;
  }
}

void upload_slice(self_ptr self, uint64_t seq) {
  auto& st = self->state;
  WSlice& s = st.inflight.at(seq);
  s.state = WSlice::State::uploading;
  s.uploads_left = s.blocks.size();
  s.done.assign(s.blocks.size(), meta::Block{});
  for (uint32_t i = 0; i < s.blocks.size(); ++i) {
    auto size = static_cast<uint32_t>(s.blocks[i]->size());
    s.done[i].slice_id = s.id;
    s.done[i].index = i;
    s.done[i].size = size;
    SharedBytes data = s.blocks[i];
    self->request(st.cfg.uploads, kDataTimeout, msg::put_block_atom::value,
                  key_of(st, s.id, i, size), std::move(data))
        .then(
            [=](std::string& checksum) {
              WSlice& s = self->state.inflight.at(seq);
              s.done[i].checksum = std::move(checksum);
              if (--s.uploads_left == 0) {
                if (s.failed) return fail_slice(self, seq, s.error);
                s.state = WSlice::State::uploaded;
                try_commit(self, s.chunk);
              }
            },
            [=](caf::error& e) {
              WSlice& s = self->state.inflight.at(seq);
              if (!s.failed) s.error = from_caf_error(e);
              s.failed = true;
              if (--s.uploads_left == 0) fail_slice(self, seq, s.error);
            });
  }
}

void cut_one(self_ptr self, WSlice& s);

// Freeze an open slice and start its way to the store. Older open slices of
// the same chunk go first: the slice cannot commit before them anyway.
void cut(self_ptr self, WSlice& s) {
  if (s.state != WSlice::State::open) return;
  for (auto& [seq, older] : self->state.inflight) {
    if (seq >= s.seq) break;
    if (older.chunk == s.chunk) cut_one(self, older);
  }
  cut_one(self, s);
}

void cut_one(self_ptr self, WSlice& s) {
  auto& st = self->state;
  if (s.state != WSlice::State::open) return;
  s.state = WSlice::State::frozen;
  st.open_bytes -= s.len;
  uint64_t seq = s.seq;
  if (st.open_append == seq) st.open_append = 0;
  // An append slice is begun in the chunk it is expected to land in; the
  // commit moves it where the file really ends by then.
  uint64_t begin_chunk = s.append ? s.est_off / st.cfg.chunk_size : s.chunk;
  self->request(st.cfg.meta, kMetaTimeout, msg::begin_atom::value, st.cfg.ino, begin_chunk,
                st.cfg.session, s.len)
      .then(
          [=](uint64_t id) {
            self->state.inflight.at(seq).id = id;
            upload_slice(self, seq);
          },
          [=](caf::error& e) { fail_slice(self, seq, from_caf_error(e)); });
}

void cut_all(self_ptr self) {
  for (auto& kv : self->state.inflight) cut(self, kv.second);
}

// Write [p, p+n) at `pos` inside `chunk`: extend or overwrite the newest open
// slice of that chunk when the write starts inside or right after it,
// otherwise start a new slice (which shadows older ones).
uint64_t write_piece(self_ptr self, uint64_t chunk, uint64_t pos, const char* p, uint64_t n) {
  auto& st = self->state;
  const uint64_t bs = st.cfg.block_size;
  WSlice* target = nullptr;
  for (auto it = st.inflight.rbegin(); it != st.inflight.rend(); ++it) {
    if (it->second.chunk != chunk) continue;
    WSlice& s = it->second;
    if (s.state == WSlice::State::open && pos >= s.pos && pos <= s.pos + s.len) target = &s;
    break;  // only the newest slice of the chunk may be written in place
  }
  if (!target) {
    WSlice s;
    s.seq = st.next_seq++;
    s.chunk = chunk;
    s.pos = pos;
    target = &st.inflight.emplace(s.seq, std::move(s)).first->second;
  }
  WSlice& s = *target;
  uint64_t rel = pos - s.pos;
  uint64_t growth = rel + n > s.len ? rel + n - s.len : 0;
  uint64_t done = 0;
  while (done < n) {
    uint64_t at = rel + done;
    size_t bi = at / bs;
    uint64_t off = at % bs;
    uint64_t m = std::min(n - done, bs - off);
    if (bi == s.blocks.size()) {
      s.blocks.push_back(std::make_shared<std::string>());
      // Streaming writes get the whole block at once (no regrowth copies);
      // small writes start small so many tiny slices stay cheap.
      bool streaming = bi > 0 || m >= (128u << 10);
      s.blocks.back()->reserve(streaming ? bs : std::max<uint64_t>(m, 4096));
    }
    std::string& b = *s.blocks[bi];
    if (off == b.size()) {
      b.append(p + done, m);
    } else {
      if (off + m > b.size()) b.resize(off + m);
      std::memcpy(&b[off], p + done, m);
    }
    done += m;
  }
  s.len += growth;
  s.charged += growth;
  st.open_bytes += growth;
  s.last_write_ns = now_ns();
  if (s.pos + s.len >= st.cfg.chunk_size) cut(self, s);
  return growth;
}

// Appends [p, p+n) to the open append slice, starting one (expected to land
// at the current end) when there is none; a slice never exceeds a chunk.
void append_data(self_ptr self, const char* p, uint64_t n) {
  auto& st = self->state;
  const uint64_t bs = st.cfg.block_size, cs = st.cfg.chunk_size;
  while (n > 0) {
    if (!st.open_append) {
      WSlice s;
      s.seq = st.next_seq++;
      s.chunk = kAppendChunk;
      s.append = true;
      s.est_off = st.size;
      st.open_append = s.seq;
      ++st.appends_inflight;
      st.inflight.emplace(s.seq, std::move(s));
    }
    WSlice& s = st.inflight.at(st.open_append);
    uint64_t m = std::min(n, cs - s.len);
    for (uint64_t done = 0; done < m;) {
      if (s.len % bs == 0) {
        s.blocks.push_back(std::make_shared<std::string>());
        s.blocks.back()->reserve(std::max<uint64_t>(std::min(bs, m - done), 4096));
      }
      std::string& b = *s.blocks.back();
      uint64_t k = std::min(m - done, bs - b.size());
      b.append(p + done, k);
      done += k;
      s.len += k;
    }
    s.charged += m;
    st.open_bytes += m;
    st.size += m;
    s.last_write_ns = now_ns();
    p += m;
    n -= m;
    if (s.len == cs) cut(self, s);
  }
}

void arm_idle_tick(self_ptr self) {
  if (self->state.tick_armed) return;
  self->state.tick_armed = true;
  self->delayed_send(self, kIdleCut, msg::tick_atom::value);
}

// ---- reads ------------------------------------------------------------------

struct ReadOp {
  BusyPtr busy;
  std::string buf;
  size_t remaining = 0;
  bool failed = false;
  // A cached slice list may be stale: another mount compacted or rewrote the
  // chunk and the old blocks were deleted. The first failure then drops the
  // lists and reads once more with fresh ones (attempt 1); answers of the
  // earlier attempt are ignored.
  uint32_t attempt = 0;
  std::vector<std::pair<uint64_t, std::string>> overlay;  // (offset in buf, bytes)
  caf::response_promise rp;
};

void finish_read(const std::shared_ptr<ReadOp>& op) {
  for (auto& [off, bytes] : op->overlay) std::memcpy(&op->buf[off], bytes.data(), bytes.size());
  op->rp.deliver(std::move(op->buf));
}

const std::vector<meta::Segment>& segments(handle_state& st, uint64_t chunk) {
  ChunkView& v = st.chunks.at(chunk);
  if (!v.resolved) {
    v.segs = meta::resolve_slices(v.slices, st.cfg.chunk_size);
    v.resolved = true;
  }
  return v.segs;
}

struct Fetch {
  std::string key;
  std::string checksum;
  uint32_t block_size;
  uint64_t off, len, dst;
};

// Plan a read whose chunk lists are all cached: zeros are already in the
// buffer, committed data comes from blocks, buffered data from the overlay.
Status plan_read(handle_state& st, uint64_t off, uint64_t len, std::vector<Fetch>& out) {
  const uint64_t cs = st.cfg.chunk_size, bs = st.cfg.block_size;
  uint64_t end = off + len;
  for (uint64_t c = off / cs; c * cs < end; ++c) {
    uint64_t c_begin = std::max(off, c * cs) - c * cs;
    uint64_t c_end = std::min(end, (c + 1) * cs) - c * cs;
    for (const meta::Segment& g : segments(st, c)) {
      uint64_t a = std::max(c_begin, g.pos), b = std::min(c_end, g.pos + g.len);
      if (a >= b || !g.slice) continue;
      uint64_t s_off = g.slice_off + (a - g.pos);
      uint64_t dst = c * cs + a - off;
      for (const meta::BlockRange& br : meta::slice_range_to_blocks(s_off, b - a, bs)) {
        if (br.index >= g.slice->blocks.size())
          return Status::Error(EIO, "slice " + std::to_string(g.slice->id) + " has no block " +
                                        std::to_string(br.index));
        const meta::Block& blk = g.slice->blocks[br.index];
        out.push_back(Fetch{key_of(st, blk.slice_id, blk.index, blk.size), blk.checksum, blk.size,
                            br.off, br.len, dst});
        dst += br.len;
      }
    }
  }
  return Status::Ok();
}

void prefetch_after(self_ptr self, uint64_t from) {
  auto& st = self->state;
  if (!st.cfg.prefetch || st.cfg.readahead_blocks == 0 || from >= st.size) return;
  uint64_t len = std::min<uint64_t>(st.size - from, st.cfg.readahead_blocks * st.cfg.block_size);
  uint64_t c_first = from / st.cfg.chunk_size, c_last = (from + len - 1) / st.cfg.chunk_size;
  for (uint64_t c = c_first; c <= c_last; ++c)
    if (!st.chunks.count(c)) return;  // not known yet; the next read will tell
  std::vector<Fetch> f;
  if (!plan_read(st, from, len, f).ok()) return;
  if (st.prefetched.size() > 256) st.prefetched.clear();
  for (auto& x : f)
    if (st.prefetched.insert(x.key).second)
      self->send(st.cfg.readers, msg::prefetch_atom::value, x.key, x.block_size);
}

void start_read(self_ptr self, uint64_t off, std::shared_ptr<ReadOp> op);

void do_read(self_ptr self, uint64_t off, std::shared_ptr<ReadOp> op) {
  auto& st = self->state;
  std::vector<Fetch> fetches;
  Status ps = plan_read(st, off, op->buf.size(), fetches);
  if (!ps.ok()) {
    op->rp.deliver(to_caf_error(ps));
    return;
  }
  if (st.last_read_end == off) prefetch_after(self, off + op->buf.size());
  st.last_read_end = off + op->buf.size();
  if (fetches.empty()) {
    finish_read(op);
    return;
  }
  op->remaining = fetches.size();
  const uint32_t attempt = op->attempt;
  for (auto& f : fetches) {
    uint64_t dst = f.dst, want = f.len;
    std::string key = f.key;
    self->request(st.cfg.readers, kDataTimeout, msg::get_block_atom::value, f.key, f.block_size,
                  f.off, f.len, f.checksum)
        .then(
            [=](std::string& data) {
              if (op->failed || op->attempt != attempt) return;
              if (data.size() != want) {
                op->failed = true;
                op->rp.deliver(to_caf_error(Status::Error(
                    EIO, "block " + key + " returned " + std::to_string(data.size()) +
                             " bytes, expected " + std::to_string(want))));
                return;
              }
              std::memcpy(&op->buf[dst], data.data(), data.size());
              if (--op->remaining == 0) finish_read(op);
            },
            [=](caf::error& e) {
              if (op->failed || op->attempt != attempt) return;
              if (op->attempt == 0) {
                auto& st = self->state;
                spdlog::debug("ino {}: read at {} failed ({}); retrying with fresh slice lists", st.cfg.ino, off,
                              from_caf_error(e).msg);
                ++op->attempt;
                st.chunks.clear();
                ++st.epoch;
                std::fill(op->buf.begin(), op->buf.end(), '\0');
                start_read(self, off, op);
                return;
              }
              op->failed = true;
              op->rp.deliver(e);
            });
  }
}

// Fetch the slice lists of every chunk the read touches that is not cached,
// then plan and run it. Loops because a truncate or reopen may drop lists
// while the fetches are in flight.
void start_read(self_ptr self, uint64_t off, std::shared_ptr<ReadOp> op) {
  auto& st = self->state;
  std::vector<uint64_t> missing;
  for (uint64_t c = off / st.cfg.chunk_size; c * st.cfg.chunk_size < off + op->buf.size(); ++c)
    if (!st.chunks.count(c)) missing.push_back(c);
  if (missing.empty()) {
    do_read(self, off, op);
    return;
  }
  auto left = std::make_shared<size_t>(missing.size());
  for (uint64_t c : missing) {
    const uint64_t gen = st.chunk_gen[c], epoch = st.epoch;
    self->request(st.cfg.meta, kMetaTimeout, msg::slices_atom::value, st.cfg.ino, c)
        .then(
            [=](std::vector<Slice>& v) {
              if (op->failed) return;
              auto& st = self->state;
              if (st.chunk_gen[c] == gen && st.epoch == epoch) {
                auto& cv = st.chunks[c];
                cv.slices = std::move(v);
                cv.resolved = false;
              }  // else: stale, start_read fetches it again
              if (--*left == 0) start_read(self, off, op);
            },
            [=](caf::error& e) {
              if (op->failed) return;
              op->failed = true;
              op->rp.deliver(e);
            });
  }
}

// A read of [off, off+len) as of now: this mount's uncommitted bytes are
// snapshotted here, oldest first, so the read sees every write before it.
void start_read_now(self_ptr self, uint64_t off, uint64_t len, caf::response_promise rp, BusyPtr b) {
  auto& st = self->state;
  if (off >= st.size || len == 0) {
    rp.deliver(std::string());
    return;
  }
  len = std::min(len, st.size - off);
  auto op = std::make_shared<ReadOp>();
  op->busy = std::move(b);
  op->buf.assign(len, '\0');
  op->rp = std::move(rp);
  for (auto& [seq, s] : st.inflight) {
    if (s.append) continue;   // newer than the read: it waited for older appends
    uint64_t s_begin = s.chunk * st.cfg.chunk_size + s.pos;
    uint64_t a = std::max(off, s_begin), e = std::min(off + len, s_begin + s.len);
    if (a >= e) continue;
    std::string bytes;
    bytes.reserve(e - a);
    for (uint64_t at = a - s_begin; at < e - s_begin;) {
      const std::string& blk = *s.blocks[at / st.cfg.block_size];
      uint64_t bo = at % st.cfg.block_size;
      uint64_t m = std::min<uint64_t>(e - s_begin - at, blk.size() - bo);
      bytes.append(blk, bo, m);
      at += m;
    }
    op->overlay.emplace_back(a - off, std::move(bytes));
  }
  start_read(self, off, op);
}

caf::behavior inode_handle(self_ptr self, HandleConfig cfg, uint64_t initial_size) {
  self->state.cfg = std::move(cfg);
  self->state.size = initial_size;
  using namespace s3l::msg;
  return {
      [=](write_atom, uint64_t off, const std::string& data) -> caf::result<uint64_t> {
        auto& st = self->state;
        const uint64_t cs = st.cfg.chunk_size;
        uint64_t growth = 0, done = 0;
        if (!st.sticky.ok()) {
          st.cfg.budget->release(data.size());
          return to_caf_error(st.sticky);
        }
        // A positioned write after an append: the append goes first.
        if (st.open_append) cut(self, st.inflight.at(st.open_append));
        while (done < data.size()) {
          uint64_t at = off + done;
          uint64_t n = std::min<uint64_t>(data.size() - done, cs - at % cs);
          growth += write_piece(self, at / cs, at % cs, data.data() + done, n);
          done += n;
        }
        st.cfg.budget->release(data.size() - std::min<uint64_t>(growth, data.size()));
        st.size = std::max(st.size, off + data.size());
        if (st.open_bytes > st.cfg.handle_buffer_limit) cut_all(self);
        arm_idle_tick(self);
        return static_cast<uint64_t>(data.size());
      },
      [=](append_atom, const std::string& data) -> caf::result<uint64_t> {
        auto& st = self->state;
        if (!st.sticky.ok()) {
          st.cfg.budget->release(data.size());
          return to_caf_error(st.sticky);
        }
        // Positioned writes before an append go first: they are older.
        for (auto& kv : st.inflight)
          if (!kv.second.append) cut(self, kv.second);
        append_data(self, data.data(), data.size());
        if (st.open_bytes > st.cfg.handle_buffer_limit) cut_all(self);
        arm_idle_tick(self);
        return static_cast<uint64_t>(data.size());
      },
      [=](read_atom, uint64_t off, uint64_t len) -> caf::result<std::string> {
        auto& st = self->state;
        auto rp = self->make_response_promise();
        if (st.appends_inflight == 0) {
          start_read_now(self, off, len, rp, busy(self));
          return rp;
        }
        // Where appends land is known only once they commit: read after that.
        cut_all(self);
        uint64_t newest_append = 0;
        for (auto& kv : st.inflight)
          if (kv.second.append) newest_append = kv.first;
        st.waiters.push_back(Waiter{newest_append, [=, b = busy(self)](Status s) mutable {
                                      if (!s.ok()) {
                                        // Not ours to report: flush/close still must see it.
                                        if (self->state.sticky.ok()) self->state.sticky = s;
                                        rp.deliver(to_caf_error(s));
                                        return;
                                      }
                                      start_read_now(self, off, len, rp, b);
                                    }});
        return rp;
      },
      [=](flush_atom) -> caf::result<void> {
        auto& st = self->state;
        cut_all(self);
        if (st.inflight.empty()) {
          Status s = st.sticky;
          st.sticky = Status::Ok();
          return to_caf_result(std::move(s));
        }
        auto rp = self->make_response_promise();
        st.waiters.push_back(Waiter{st.inflight.rbegin()->first, [rp, b = busy(self)](Status s) mutable {
                                      if (s.ok()) rp.deliver(caf::unit);
                                      else rp.deliver(to_caf_error(s));
                                    }});
        return rp;
      },
      [=](cut_atom) { cut_all(self); },
      [=](tick_atom) {
        auto& st = self->state;
        st.tick_armed = false;
        int64_t idle_before = now_ns() - std::chrono::nanoseconds(kIdleCut).count();
        bool open_left = false;
        for (auto& kv : st.inflight) {
          if (kv.second.state != WSlice::State::open) continue;
          if (kv.second.last_write_ns <= idle_before) cut(self, kv.second);
          else open_left = true;
        }
        if (open_left) arm_idle_tick(self);
      },
      [=](fattr_atom) -> caf::result<Attr> {
        auto rp = self->make_response_promise<Attr>();
        auto b = busy(self);
        self->request(self->state.cfg.meta, kMetaTimeout, getattr_atom::value, self->state.cfg.ino)
            .then(
                [=](Attr& a) mutable {
                  (void)b;
                  auto& st = self->state;
                  // Another client committed since this handle last looked
                  // (size or mtime moved past what this mount wrote): the
                  // cached slice lists are stale, e.g. `tail -f` after a
                  // remote append would read zeros up to the new size.
                  if (a.mtime_ns != st.seen_mtime || (st.inflight.empty() && a.size != st.size)) {
                    st.chunks.clear();
                    ++st.epoch;
                  }
                  st.seen_mtime = a.mtime_ns;
                  if (st.inflight.empty()) st.size = a.size;
                  else a.size = std::max(a.size, st.size);
                  rp.deliver(a);
                },
                [=](caf::error& e) mutable { rp.deliver(e); });
        return rp;
      },
      [=](ftrunc_atom, uint64_t size) -> caf::result<Attr> {
        auto& st = self->state;
        auto rp = self->make_response_promise<Attr>();
        auto b = busy(self);
        auto truncate = [=](Status flushed) mutable {
          (void)b;
          if (!flushed.ok()) {
            rp.deliver(to_caf_error(flushed));
            return;
          }
          self->request(self->state.cfg.meta, kMetaTimeout, truncate_atom::value,
                        self->state.cfg.ino, size, now_ns())
              .then(
                  [=](Attr& a) mutable {
                    auto& st = self->state;
                    st.seen_mtime = a.mtime_ns;
                    st.chunks.clear();  // zero slices and dropped slices: reload
                    ++st.epoch;
                    st.size = st.inflight.empty() ? a.size : std::max(a.size, size);
                    rp.deliver(a);
                  },
                  [=](caf::error& e) mutable { rp.deliver(e); });
        };
        cut_all(self);
        if (st.inflight.empty()) {
          Status s = st.sticky;
          st.sticky = Status::Ok();
          truncate(s);
        } else {
          st.waiters.push_back(Waiter{st.inflight.rbegin()->first, truncate});
        }
        return rp;
      },
      [=](close_atom) { self->delayed_send(self, std::chrono::seconds(1), reap_atom::value); },
      [=](reap_atom) {
        auto& st = self->state;
        if (*st.busy == 0 && st.inflight.empty() && st.waiters.empty()) self->quit();
        else self->delayed_send(self, std::chrono::seconds(1), reap_atom::value);
      },
      [=](reopen_atom, uint64_t meta_size) {
        auto& st = self->state;
        st.chunks.clear();
        ++st.epoch;
        if (st.inflight.empty()) st.size = meta_size;
      },
  };
}

}  // namespace

caf::actor spawn_inode_handle(caf::actor_system& sys, HandleConfig cfg, uint64_t initial_size) {
  return sys.spawn(inode_handle, std::move(cfg), initial_size);
}

}  // namespace s3l
