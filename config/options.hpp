// Options of every subcommand. Defaults live here; config/parse_*.cpp fills
// them from a config file (--config FILE) and then from the command line,
// which overrides the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

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

// Parse a byte size: "4096", "4K", "4M", "1G", "1T" (binary units, optional
// trailing "B"/"iB"). Throws ConfigError on bad input.
uint64_t parse_size(const std::string& s);

}  // namespace s3l::config
