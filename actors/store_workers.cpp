#include "actors/store_workers.hpp"

#include <spdlog/spdlog.h>

#include "actors/messages.hpp"
#include "store/disk_cache.hpp"
#include "util/sha256.hpp"

namespace s3l {

namespace {

using StorePtr = std::shared_ptr<store::ObjectStore>;
using CachePtr = std::shared_ptr<store::BlockCache>;

caf::behavior upload_worker(caf::event_based_actor*, StorePtr st) {
  return {
      [=](msg::put_block_atom, const std::string& key,
          const SharedBytes& data) -> caf::result<std::string> {
        std::string sum = sha256_hex(data->data(), data->size());
        Status s = st->put_with_sha256(key, data->data(), data->size(), sum);
        if (!s.ok()) {
          spdlog::error("upload of {} failed: {}", key, s.msg);
          return to_caf_error(s);
        }
        return sum;
      },
      [=](msg::del_objs_atom, const std::vector<std::string>& keys) -> caf::result<void> {
        return to_caf_result(st->remove_many(keys));
      },
  };
}

caf::behavior reader_worker(caf::event_based_actor*, StorePtr st, CachePtr cache) {
  return {
      [=](msg::get_block_atom, const std::string& key, uint32_t block_size, uint64_t off,
          uint64_t len, const std::string& checksum) -> caf::result<std::string> {
        auto r = cache->read(key, block_size, off, len, *st, checksum);
        // A committed block whose object is gone is damage, not a missing file.
        if (r.err() == ENOENT) r.status = Status::Error(EIO, "block object missing: " + r.msg());
        if (!r.ok()) spdlog::error("read of {} failed: {}", key, r.msg());
        return to_caf_result(std::move(r));
      },
      [=](msg::prefetch_atom, const std::string& key, uint32_t block_size) {
        if (cache->limit() == 0 || cache->contains(key)) return;
        auto r = cache->read(key, block_size, 0, 1, *st);
        if (!r.ok()) spdlog::debug("prefetch of {} failed: {}", key, r.msg());
      },
  };
}

}  // namespace

StoreWorkers spawn_store_workers(caf::actor_system& sys, StorePtr store, CachePtr cache,
                                 size_t upload_workers, size_t reader_workers) {
  StoreWorkers w;
  w.uploads = caf::actor_pool::make(
      sys.dummy_execution_unit(), upload_workers,
      [&] { return sys.spawn<caf::detached>(upload_worker, store); },
      caf::actor_pool::round_robin());
  w.readers = caf::actor_pool::make(
      sys.dummy_execution_unit(), reader_workers,
      [&] { return sys.spawn<caf::detached>(reader_worker, store, cache); },
      caf::actor_pool::round_robin());
  return w;
}

}  // namespace s3l
