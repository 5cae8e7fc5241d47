// s3layerfs-daemon upgrade: the only way an older metadata schema becomes the
// current one (mount and fsck refuse it, naming this command).
#include <iostream>

#include "cmd/commands.hpp"
#include "cmd/common.hpp"

namespace s3l::cmd {

int run_upgrade(const config::UpgradeOptions& o) {
  const std::string url = absolute_meta_url(o.meta_url);
  auto m = meta::open_meta(url, false);
  if (!m.ok()) return fail("upgrade", m.msg());
  auto found = m.value->upgrade_schema();
  if (!found.ok()) return fail("upgrade", found.msg());
  if (found.value == meta::kSchemaVersion)
    std::cout << "metadata schema is already at version " << meta::kSchemaVersion << "; nothing to do" << std::endl;
  else
    std::cout << "metadata schema upgraded from version " << found.value << " to " << meta::kSchemaVersion
              << std::endl;
  // Prove the result is what mount will accept.
  auto s = m.value->load_settings();
  if (!s.ok()) return fail("upgrade", "the upgraded volume does not load: " + s.msg());
  return kExitOk;
}

}  // namespace s3l::cmd
