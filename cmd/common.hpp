// Shared pieces of the subcommands: exit codes, error lines, opening a volume.
#pragma once
#include <memory>
#include <string>

#include "meta/meta.hpp"
#include "store/object_store.hpp"
#include "util/result.hpp"

namespace s3l::cmd {

// Exit codes (docs/configuration.md).
constexpr int kExitOk = 0;
constexpr int kExitProblems = 1;  // fsck found problems
constexpr int kExitUsage = 2;     // bad flag, value or config file
constexpr int kExitRuntime = 3;   // database, store or mount failure

// Prints "s3layerfs-daemon: <what>: <msg>" to stderr and returns kExitRuntime.
int fail(const std::string& what, const std::string& msg, int code = kExitRuntime);

// sqlite3://relative/path -> sqlite3:///abs/path, so the URL survives chdir
// (the daemon changes to / when it detaches). Other URLs are returned as is.
std::string absolute_meta_url(const std::string& url);

struct Volume {
  std::unique_ptr<meta::Meta> meta;
  meta::VolumeSettings settings;
  std::shared_ptr<store::ObjectStore> store;
};

// Opens an existing, formatted volume: its database, settings and store.
Result<Volume> open_volume(const std::string& meta_url);

}  // namespace s3l::cmd
