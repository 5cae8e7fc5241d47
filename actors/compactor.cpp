#include "actors/compactor.hpp"

#include <spdlog/spdlog.h>

#include "actors/compaction.hpp"
#include "actors/messages.hpp"

namespace s3l {

namespace {

constexpr size_t kChunksPerPass = 16;

struct compactor_state {
  std::unique_ptr<meta::Meta> meta;   // opened on first use, reopened after errors
  static inline const char* name = "compactor";
};
using self_ptr = caf::stateful_actor<compactor_state>*;

void pass(self_ptr self, const CompactorConfig& cfg) {
  auto& st = self->state;
  if (!st.meta) {
    auto m = cfg.open_meta();
    if (!m.ok()) {
      spdlog::warn("compactor: opening the metadata: {}", m.msg());
      return;
    }
    st.meta = std::move(*m);
  }
  auto chunks = st.meta->fragmented_chunks(cfg.threshold, kChunksPerPass);
  if (!chunks.ok()) {
    spdlog::warn("compactor: {}", chunks.msg());
    st.meta.reset();
    return;
  }
  for (const meta::ChunkRef& c : *chunks) {
    auto r = compact_chunk(*st.meta, *cfg.store, cfg.cache.get(), cfg.volume, cfg.session, c.ino, c.chunk);
    if (!r.ok()) {
      spdlog::warn("compactor: inode {} chunk {} ({} slices): {}", c.ino, c.chunk, c.slices, r.msg());
      continue;
    }
    if (r->outcome == CompactOutcome::compacted)
      spdlog::info("compactor: inode {} chunk {}: {} slices -> 1 ({} bytes)", c.ino, c.chunk, r->slices_before,
                   r->bytes);
    else if (r->outcome == CompactOutcome::changed)
      spdlog::debug("compactor: inode {} chunk {} changed meanwhile; later", c.ino, c.chunk);
  }
}

caf::behavior compactor(self_ptr self, CompactorConfig cfg) {
  self->delayed_send(self, cfg.interval, msg::tick_atom::value);
  return {
      [=](msg::tick_atom) {
        pass(self, cfg);
        self->delayed_send(self, cfg.interval, msg::tick_atom::value);
      },
  };
}

}  // namespace

caf::actor spawn_compactor(caf::actor_system& sys, CompactorConfig cfg) {
  return sys.spawn<caf::detached>(compactor, std::move(cfg));
}

}  // namespace s3l
