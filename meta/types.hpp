// The metadata model shared by every layer: inodes, directory entries, chunks,
// slices and blocks. Plain structs, no engine knowledge.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace s3l::meta {

constexpr uint64_t kRootIno = 1;
constexpr uint32_t kFormatVersion = 1;   // volume settings layout ("format-version")
constexpr uint32_t kSchemaVersion = 3;   // SQL schema ("schema_version" table); history in meta/schema_upgrade.cpp
constexpr uint64_t kDefaultChunkSize = 64ull << 20;
constexpr uint64_t kDefaultBlockSize = 4ull << 20;
constexpr size_t kMaxNameLen = 255;
constexpr int64_t kDefaultSessionExpiryNs = 60'000'000'000;   // 5 x the default 12 s heartbeat

struct Attr {
  uint64_t ino = 0;
  uint32_t mode = 0;      // file type bits (S_IFREG, S_IFDIR, ...) | permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint32_t nlink = 0;
  uint64_t size = 0;      // bytes; for symlinks the target length; for dirs 4096
  uint64_t rdev = 0;
  int64_t atime_ns = 0;
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
};

struct Entry {             // one directory entry, with the attributes of its inode
  std::string name;
  Attr attr;
};

// Which fields of SetAttr to apply (values match nothing in FUSE on purpose).
enum SetAttrMask : uint32_t {
  kSetMode = 1, kSetUid = 2, kSetGid = 4, kSetAtime = 8, kSetMtime = 16,
  kSetAtimeNow = 32, kSetMtimeNow = 64, kSetCtime = 128,
};
struct SetAttr {
  uint32_t mask = 0;
  uint32_t mode = 0;       // permission bits only (07777)
  uint32_t uid = 0, gid = 0;
  int64_t atime_ns = 0, mtime_ns = 0, ctime_ns = 0;
};

// A block is an immutable object in the store. Its key is derived from
// (slice_id, index, size) by store/block_key.hpp; it is never overwritten.
struct Block {
  uint64_t id = 0;          // blocks.id
  uint64_t slice_id = 0;    // the slice that wrote it (part of the object key)
  uint32_t index = 0;       // block number inside that slice
  uint32_t size = 0;        // bytes
  std::string checksum;     // lowercase hex SHA-256 of the object content
};

// One write of contiguous bytes into one chunk. Later committed slices shadow
// earlier ones where they overlap (order of commit, kept per chunk in the
// database; not the id, which is handed out when the slice is cut). A zero slice (truncate) has no blocks
// and reads as zeros.
struct Slice {
  uint64_t id = 0;
  uint64_t ino = 0;
  uint64_t chunk = 0;       // chunk index: file offset / chunk_size
  uint64_t pos = 0;         // offset of the first byte inside the chunk
  uint64_t len = 0;         // bytes covered
  uint64_t off = 0;         // offset of the first byte inside the blocks' data (0 unless the
                            // slice shares its blocks with another: an append split at a chunk end)
  bool zero = false;
  std::vector<Block> blocks;  // in order; block i covers [i*block_size, ...) of the data
};

// A chunk and its number of committed slices (compaction candidates).
struct ChunkRef {
  uint64_t ino = 0;
  uint64_t chunk = 0;
  uint64_t slices = 0;
};

struct VolumeSettings {
  uint32_t format_version = kFormatVersion;
  std::string name;
  std::string uuid;
  uint64_t block_size = kDefaultBlockSize;
  uint64_t chunk_size = kDefaultChunkSize;
  std::string storage_url;
  int64_t created_ns = 0;
  // How to reach an S3 store: the non-secret options format was given, so
  // that mount needs only credentials. Volumes formatted before these keys
  // existed (same format_version 1) lack them and get these defaults.
  std::string s3_endpoint;          // for s3://BUCKET; "" = AWS for the region
  std::string s3_region;            // "" = us-east-1
  bool s3_virtual_hosted = false;
  bool s3_verify_tls = true;
  std::string s3_ca_file;           // "" = $AWS_CA_BUNDLE or the system's
  // Only with format --store-secret-in-meta; "" otherwise. Never logged.
  std::string s3_access_key;
  std::string s3_secret_key;
};

struct SessionInfo {
  uint64_t id = 0;
  std::string host;
  int64_t pid = 0;
  std::string mountpoint;
  std::string version;
  int64_t started_ns = 0;
  int64_t heartbeat_ns = 0;
  // Stale when the last heartbeat is older than this: the session cleaner of
  // another mount then recovers what it held (5 x the heartbeat interval).
  int64_t expiry_ns = kDefaultSessionExpiryNs;
};

struct FsStats {
  uint64_t used_bytes = 0;   // sum of regular file sizes
  uint64_t inodes = 0;       // live inodes
};

// A block whose last reference is gone; the deleter removes the object, then the row.
struct DeadBlock {
  uint64_t id = 0;
  uint64_t slice_id = 0;
  uint32_t index = 0;
  uint32_t size = 0;
  int64_t dead_since_ns = 0;
};

enum RenameFlags : uint32_t { kRenameNoReplace = 1, kRenameExchange = 2 };

struct RenameResult {
  uint64_t moved_ino = 0;
  uint64_t replaced_ino = 0;      // 0 if no target was replaced
  uint32_t replaced_nlink = 0;    // nlink of the replaced inode afterwards
};

struct UnlinkResult {
  uint64_t ino = 0;
  uint32_t nlink = 0;             // 0 means the inode is now an orphan of this session
};

// One problem found by a consistency check (fsck).
struct Problem {
  std::string kind;     // e.g. "dangling-entry", "size-mismatch", "missing-object"
  std::string where;    // path or ino/slice/block id
  std::string detail;
};

}  // namespace s3l::meta
