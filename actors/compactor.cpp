#include "actors/compactor.hpp"

#include <spdlog/spdlog.h>

#include <set>
#include <utility>

#include "actors/compaction.hpp"
#include "actors/messages.hpp"

namespace s3l {

namespace {

constexpr size_t kChunksPerPass = 16;

struct compactor_state {
  std::unique_ptr<meta::Meta> meta;   // opened on first use, reopened after errors
  std::set<std::pair<uint64_t, uint64_t>> hinted;   // (ino, chunk) named by mounts
  static inline const char* name = "compactor";
};
using self_ptr = caf::stateful_actor<compactor_state>*;

bool ensure_meta(self_ptr self, const CompactorConfig& cfg) {
  auto& st = self->state;
  if (st.meta) return true;
  auto m = cfg.open_meta();
  if (!m.ok()) {
    spdlog::warn("compactor: opening the metadata: {}", m.msg());
    return false;
  }
  st.meta = std::move(*m);
  return true;
}

void compact_one(self_ptr self, const CompactorConfig& cfg, uint64_t ino, uint64_t chunk) {
  auto r = compact_chunk(*self->state.meta, *cfg.store, cfg.cache.get(), cfg.volume, cfg.session, ino, chunk);
  if (!r.ok()) {
    spdlog::warn("compactor: inode {} chunk {}: {}", ino, chunk, r.msg());
    return;
  }
  if (r->outcome == CompactOutcome::compacted) {
    ++cfg.stats->chunks_compacted;
    spdlog::info("compactor: inode {} chunk {}: {} slices -> 1 ({} bytes)", ino, chunk, r->slices_before, r->bytes);
  } else if (r->outcome == CompactOutcome::changed) {
    spdlog::debug("compactor: inode {} chunk {} changed meanwhile; later", ino, chunk);
  }
}

// Hinted chunks first: a mount saw them fragment. A hint is only a name; the
// chunk is compacted only if it still has `threshold` slices.
void hinted_pass(self_ptr self, const CompactorConfig& cfg) {
  auto& st = self->state;
  if (st.hinted.empty() || !ensure_meta(self, cfg)) return;
  auto hinted = std::move(st.hinted);
  st.hinted.clear();
  for (const auto& [ino, chunk] : hinted) {
    auto slices = st.meta->chunk_slices(ino, chunk);
    if (!slices.ok()) {
      if (slices.err() != ENOENT) spdlog::warn("compactor: inode {} chunk {}: {}", ino, chunk, slices.msg());
      continue;
    }
    if (slices->size() >= cfg.threshold) compact_one(self, cfg, ino, chunk);
  }
}

void scan_pass(self_ptr self, const CompactorConfig& cfg) {
  auto& st = self->state;
  ++cfg.stats->compactor_passes;
  if (!ensure_meta(self, cfg)) return;
  auto chunks = st.meta->fragmented_chunks(cfg.threshold, kChunksPerPass);
  if (!chunks.ok()) {
    spdlog::warn("compactor: {}", chunks.msg());
    st.meta.reset();
    return;
  }
  for (const meta::ChunkRef& c : *chunks) compact_one(self, cfg, c.ino, c.chunk);
}

caf::behavior compactor(self_ptr self, CompactorConfig cfg) {
  if (!cfg.stats) cfg.stats = std::make_shared<BgStats>();
  self->delayed_send(self, cfg.interval, msg::tick_atom::value);
  return {
      [=](msg::tick_atom) {
        hinted_pass(self, cfg);
        scan_pass(self, cfg);
        self->delayed_send(self, cfg.interval, msg::tick_atom::value);
      },
      [=](msg::compact_hint_atom, uint64_t ino, uint64_t chunk) {
        auto& st = self->state;
        ++cfg.stats->compact_hints;
        // Served at the next tick, not at once: the chunk is probably still
        // being written, and a compaction racing the writer is thrown away
        // when its swap finds the slice list changed (read and upload wasted).
        if (st.hinted.size() < kMaxCompactHints) st.hinted.emplace(ino, chunk);   // else the scan finds it
      },
  };
}

}  // namespace

caf::actor spawn_compactor(caf::actor_system& sys, CompactorConfig cfg) {
  return sys.spawn<caf::detached>(compactor, std::move(cfg));
}

}  // namespace s3l
