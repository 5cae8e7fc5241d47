// Options of every subcommand. Defaults live here; config/parse_*.cpp fills
// them from a config file (--config FILE) and then from the command line,
// which overrides the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace s3l::config {

struct CommonOptions {
  std::string log_level = "warn";       // trace debug info warn error critical off
  std::string config_file;              // --config FILE (empty = none)
};

struct FormatOptions {
  CommonOptions common;
  std::string meta_url;                 // positional 1
  std::string name;                     // positional 2
  std::string storage;                  // --storage URL (file:///dir, later http(s)://, s3://)
  uint64_t block_size = 4ull << 20;     // --block-size 4M (64K..64M, power of two)
  bool force = false;                   // --force
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
  bool allow_other = false;             // --allow-other
  bool default_permissions = true;      // --no-default-permissions turns kernel checks off
  uint32_t readahead_blocks = 2;        // --readahead N blocks beyond the one being read
};

struct FsckOptions {
  CommonOptions common;
  std::string meta_url;                 // positional 1
  bool check_data = false;              // --check-data: read every block and verify checksums
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
constexpr double kMaxTimeoutSeconds = 86400.0;     // attr/entry-timeout in [0, 86400]

// Parse a byte size: "4096", "4K", "4M", "1G", "1T" (binary units, unit letter
// in either case, optional trailing "B"/"iB"). EINVAL + message on bad input
// or overflow; never throws.
Result<uint64_t> parse_size(const std::string& s);

// The shortest exact spelling of a size: 4194304 -> "4M", 1000 -> "1000".
std::string format_size(uint64_t bytes);

}  // namespace s3l::config
