#include "actors/meta_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>

#include "actors/messages.hpp"
#include "actors/meta_actor.hpp"

namespace s3l {

namespace {

bool is_read_only(caf::atom_value a) {
  using namespace s3l::msg;
  return a == lookup_atom::value || a == getattr_atom::value || a == readdir_atom::value || a == names_atom::value ||
         a == window_atom::value ||
         a == readlink_atom::value || a == statfs_atom::value || a == slices_atom::value ||
         a == dead_atom::value;
}

// Dispatch in the sender's context (actor_pool semantics): readers are the
// first `readers` workers, writers the rest; round robin within each group.
struct RoutePolicy {
  size_t readers;
  std::shared_ptr<std::atomic<size_t>> next_r = std::make_shared<std::atomic<size_t>>(0);
  std::shared_ptr<std::atomic<size_t>> next_w = std::make_shared<std::atomic<size_t>>(0);

  void operator()(caf::actor_system&, caf::actor_pool::uplock& guard,
                  const caf::actor_pool::actor_vec& vec, caf::mailbox_element_ptr& ptr,
                  caf::execution_unit* host) {
    auto& content = ptr->content();
    bool read = readers > 0 && content.size() > 0 && content.match_element<caf::atom_value>(0) &&
                is_read_only(content.get_as<caf::atom_value>(0));
    size_t writers = vec.size() - readers;
    size_t idx = read || writers == 0 ? next_r->fetch_add(1) % readers
                                      : readers + next_w->fetch_add(1) % writers;
    caf::actor selected = vec[idx];
    guard.unlock();
    selected->enqueue(std::move(ptr), host);
  }
};

}  // namespace

MetaConnSplit split_meta_conns(size_t total, bool serial_writers) {
  MetaConnSplit s;
  if (total < 2) total = 2;   // the option's lower bound; never a pool without readers
  s.writers = serial_writers ? 1 : std::max<size_t>(1, total / 2);
  s.readers = total - s.writers;
  return s;
}

bool serializes_writers(const std::string& meta_url) { return meta_url.rfind("sqlite3://", 0) == 0; }

Result<caf::actor> spawn_meta_service(caf::actor_system& sys, const MetaFactory& open,
                                      size_t readers, size_t writers, WriteCount writes) {
  if (writers == 0) return Status::Error(EINVAL, "the meta service needs at least one writer");
  std::vector<std::shared_ptr<meta::Meta>> conns;
  const size_t total = readers + writers;
  for (size_t i = 0; i < total; ++i) {
    auto m = open();
    if (!m.ok())
      return Status::Error(m.err(), "connection " + std::to_string(i + 1) + " of " + std::to_string(total) +
                                        ": " + m.msg());
    conns.emplace_back(std::move(m.value));
  }
  spdlog::info("meta service: {} reader and {} writer connections", readers, writers);
  size_t i = 0;
  auto pool = caf::actor_pool::make(
      sys.dummy_execution_unit(), conns.size(),
      [&] { return spawn_meta_actor(sys, conns[i++], writes); }, RoutePolicy{readers});
  return pool;
}

}  // namespace s3l
