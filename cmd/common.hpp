// Shared pieces of the subcommands: exit codes, error lines, opening a volume.
#pragma once
#include <chrono>
#include <memory>
#include <string>

#include "config/options.hpp"
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

// True for http://, https:// and s3:// storage URLs.
bool is_s3_url(const std::string& storage_url);

// EINVAL if S3 options were given for storage that is not S3 (a usage error:
// a silently ignored --region would hide a mistake).
Status check_s3_flags_apply(const std::string& storage_url, const config::S3Flags& flags);

// The store options of a volume: what format stored, each overridden by its
// flag. Credentials: the flags, else the stored ones (--store-secret-in-meta),
// else empty, and the store reads AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
store::StoreOptions store_options(const meta::VolumeSettings& s, const config::S3Flags& flags);

// The line for a store that could not be opened; names authentication
// failures as such. Never contains a secret (the store's messages do not).
std::string store_error(const std::string& storage_url, const Status& s);

struct Volume {
  std::unique_ptr<meta::Meta> meta;
  meta::VolumeSettings settings;
  std::shared_ptr<store::ObjectStore> store;
};

// Opens an existing, formatted volume: its database, settings and store
// (with `flags` over the stored store options). On failure *exit_code (if
// given) says whether it was a usage error (kExitUsage) or kExitRuntime.
Result<Volume> open_volume(const std::string& meta_url, const config::S3Flags& flags = {},
                           int* exit_code = nullptr);

// The session row of a mount or gc-node starting now on this host: stale
// once silent for 5 x `heartbeat`.
meta::SessionInfo new_session_info(const std::string& mountpoint, std::chrono::seconds heartbeat);

// Overwrites the values of --secret-key (and --access-key) in argv, so that
// `ps` and /proc/PID/cmdline stop showing them once the daemon is running.
// Best effort: they are visible until this runs; the environment or the
// config file is the safe way to pass them.
void hide_secrets_in_argv(int argc, char** argv);

}  // namespace s3l::cmd
