#include "cmd/background_config.hpp"

namespace s3l::cmd {

BackgroundConfig background_config(const std::string& meta_url, const Volume& v, caf::actor meta,
                                   const StoreWorkers& workers, uint64_t session, std::chrono::seconds heartbeat,
                                   uint32_t compact_threshold, uint32_t compact_interval_s, BgStatsPtr stats) {
  BackgroundConfig bc;
  bc.meta = std::move(meta);
  bc.workers = workers;
  bc.session = session;
  bc.cleaner_interval = heartbeat;
  bc.compactor.open_meta = [meta_url] { return meta::open_meta(meta_url, false); };
  bc.compactor.store = v.store;
  bc.compactor.volume = v.settings;
  bc.compactor.threshold = compact_threshold;
  bc.compactor.interval = std::chrono::seconds(compact_interval_s);
  bc.stats = std::move(stats);
  return bc;
}

}  // namespace s3l::cmd
