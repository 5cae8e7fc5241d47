#include "actors/background.hpp"

#include "actors/deleter.hpp"
#include "actors/session_cleaner.hpp"

namespace s3l {

Background spawn_background(caf::actor_system& sys, BackgroundConfig cfg) {
  if (!cfg.stats) cfg.stats = std::make_shared<BgStats>();
  Background b;
  b.deleter = spawn_deleter(sys, cfg.meta, cfg.workers.uploads, cfg.compactor.volume.name,
                            cfg.deleter_interval, cfg.delete_delay, cfg.stats);
  b.cleaner = spawn_session_cleaner(sys, cfg.meta, cfg.session, cfg.cleaner_interval, cfg.stats);
  cfg.compactor.session = cfg.session;
  cfg.compactor.stats = cfg.stats;
  b.compactor = spawn_compactor(sys, std::move(cfg.compactor));
  return b;
}

}  // namespace s3l
