// Options of every subcommand. Defaults live here; config/parse_*.cpp fills
// them from a config file (--config FILE) and then from the command line,
// which overrides the file.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace s3l::config {

struct CommonOptions {
  std::string log_level = "warn";       // trace debug info warn error critical off
  std::string config_file;              // --config FILE (empty = none)
};

// How to reach an S3 store (http(s)://HOST/BUCKET or s3://BUCKET storage).
// Unset means: for format the default noted here, for mount and fsck what
// format stored in the volume settings. Credentials: the flags (or config
// file), else the volume settings (format --store-secret-in-meta), else
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (docs/storage.md).
struct S3Flags {
  std::optional<std::string> endpoint;    // --endpoint URL: http(s)://host[:port], for s3://BUCKET
  std::optional<std::string> region;      // --region NAME (default us-east-1)
  std::optional<std::string> access_key;  // --access-key ID
  std::optional<std::string> secret_key;  // --secret-key KEY (visible in ps: prefer env or file)
  std::optional<bool> virtual_hosted;     // --virtual-hosted (default path-style)
  std::optional<bool> verify_tls;         // --no-verify-tls sets false (default true)
  std::optional<std::string> ca_file;     // --ca-file PEM (default $AWS_CA_BUNDLE, else the system's)
  // The options given, as "--region, --endpoint" (credentials included), for messages.
  std::string given() const;
};

struct FormatOptions {
  CommonOptions common;
  std::string meta_url;                 // positional 1
  std::string name;                     // positional 2
  std::string storage;                  // --storage URL: file:///DIR, http(s)://HOST[:PORT]/BUCKET, s3://BUCKET
  uint64_t block_size = 4ull << 20;     // --block-size 4M (64K..64M, power of two)
  bool force = false;                   // --force
  S3Flags s3;
  bool store_secret_in_meta = false;    // --store-secret-in-meta: keep the credentials in the settings
};

struct MountOptions {
  CommonOptions common;
  std::string meta_url;                 // positional 1
  std::string mountpoint;               // positional 2
  bool foreground = false;              // --foreground / -f
  std::string cache_dir;                // --cache-dir D (default ~/.s3layerfs/cache/<uuid>)
  uint64_t cache_size = 10ull << 30;    // --cache-size 10G (0 disables the disk cache)
  uint64_t buffer_size = 300ull << 20;  // --buffer-size 300M: all dirty data in memory
  uint32_t max_uploads = 20;            // --max-uploads N: concurrent block uploads
  uint32_t fuse_threads = 16;           // --fuse-threads N
  double attr_timeout = 1.0;            // --attr-timeout SECONDS
  double entry_timeout = 1.0;           // --entry-timeout SECONDS
  // --heartbeat SECONDS: how often the session row is refreshed; a session
  // silent for 5 x this is stale and other mounts' cleaner recovers it.
  uint32_t heartbeat_s = 12;
  // Compaction: a chunk with at least this many committed slices is rewritten
  // as one by the compactor, which looks every --compact-interval seconds.
  // 24: reads of a chunk stay cheap (JuiceFS starts at a similar count) while
  // a file written in a few dozen pieces is left alone.
  uint32_t compact_threshold = 24;
  uint32_t compact_interval_s = 10;
  bool allow_other = false;             // --allow-other
  bool default_permissions = true;      // --no-default-permissions turns kernel checks off
  uint32_t readahead_blocks = 2;        // --readahead N blocks beyond the one being read
  // --meta-conns N: metadata connections, split into readers and writers by
  // the engine (actors/meta_service.hpp). 4 = one writer and three readers on
  // SQLite, two of each on PostgreSQL: modest, because every mount holds its
  // connections for its lifetime and PostgreSQL allows 100 by default.
  uint32_t meta_conns = 4;
  // --no-bgjob: no deleter, session cleaner or compactor in this mount; a
  // gc-node does that work (--gc-node names it, to send it compaction hints).
  bool no_bgjob = false;
  std::string gc_node;                  // --gc-node HOST:PORT (empty: none)
  std::string listen;                   // --listen HOST:PORT: answer `shell` there (empty: no)
  S3Flags s3;                           // override what the volume settings hold
};

// gc-node: the background workers of a volume as a process of their own.
struct GcNodeOptions {
  CommonOptions common;
  std::string meta_url;                 // positional 1 (usually meta-url = ... in [gc-node])
  std::string listen = "127.0.0.1:7420"; // --listen HOST:PORT for mounts and shell
  uint32_t heartbeat_s = 12;            // --heartbeat: its own session, as for a mount
  uint32_t compact_threshold = 24;
  uint32_t compact_interval_s = 10;
  uint32_t meta_conns = 4;
  S3Flags s3;
};

// shell: send commands to a gc-node or a mount started with --listen.
struct ShellOptions {
  CommonOptions common;
  std::string address;                  // positional 1: HOST:PORT
  std::string run;                      // --run "CMD ARGS": one command, else read stdin
  uint32_t timeout_s = 10;              // --timeout SECONDS per command
};

struct FsckOptions {
  CommonOptions common;
  std::string meta_url;                 // positional 1
  bool check_data = false;              // --check-data: read every block and verify checksums
  bool repair = false;                  // --repair: fix what is safe to fix, then check again
  // --session-expiry SECONDS: a session whose last heartbeat is older counts
  // as dead (its orphans and pending slices are reported). 60 = 5 x the 12 s
  // heartbeat of a mount.
  uint64_t session_expiry_s = 60;
  S3Flags s3;                           // override what the volume settings hold
};

// gc: objects in the store that no metadata references (docs/gc.md).
struct GcOptions {
  CommonOptions common;
  std::string meta_url;                 // positional 1
  bool remove = false;                  // --delete: remove the leaked objects found
  uint64_t min_age_s = 3600;            // --min-age SECONDS: younger objects are never judged
  uint32_t threads = 8;                 // --threads N: concurrent store requests (HEAD, DELETE)
  bool compact = false;                 // --compact: first compact every chunk of 2+ slices
  S3Flags s3;                           // override what the volume settings hold
};

// status: the volume, its usage, sessions and waiting background work.
struct StatusOptions {
  CommonOptions common;
  std::string meta_url;                 // positional 1
};

struct UpgradeOptions {
  CommonOptions common;
  std::string meta_url;                 // positional 1
};

// Bounds enforced by the parser (docs/configuration.md explains each choice).
constexpr uint64_t kMinBlockSize = 64ull << 10;    // power of two in [64K, 64M]
constexpr uint64_t kMaxBlockSize = 64ull << 20;
constexpr uint64_t kMinBufferSize = 16ull << 20;   // buffer-size in [16M, 1T]
constexpr uint64_t kMaxBufferSize = 1ull << 40;
constexpr uint64_t kMinCacheSize = 16ull << 20;    // cache-size 0 (off) or >= 16M
constexpr uint32_t kMaxUploads = 256;              // max-uploads in [1, 256]
constexpr uint32_t kMaxFuseThreads = 256;          // fuse-threads in [1, 256]
constexpr uint32_t kMaxReadahead = 64;             // readahead in [0, 64] blocks
constexpr uint32_t kMinMetaConns = 2;              // meta-conns in [2, 64]: one reader + one writer
constexpr uint32_t kMaxMetaConns = 64;
constexpr double kMaxTimeoutSeconds = 86400.0;     // attr/entry-timeout in [0, 86400]
constexpr uint64_t kMaxSessionExpiry = 7ull * 86400;   // fsck --session-expiry in [1, a week] seconds
constexpr uint64_t kMaxGcMinAge = 10ull * 366 * 86400;   // gc --min-age in [0, ~10 years] seconds
constexpr uint32_t kMaxGcThreads = 256;            // gc --threads in [1, 256]

// Parse a byte size: "4096", "4K", "4M", "1G", "1T" (binary units, unit letter
// in either case, optional trailing "B"/"iB"). EINVAL + message on bad input
// or overflow; never throws.
Result<uint64_t> parse_size(const std::string& s);

// The shortest exact spelling of a size: 4194304 -> "4M", 1000 -> "1000".
std::string format_size(uint64_t bytes);

}  // namespace s3l::config
