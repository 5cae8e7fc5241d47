// Small helpers for tests that exercise a mounted filesystem with plain
// syscalls: deterministic pseudo-random content, hashing, whole-file I/O that
// reports exactly which syscall failed, and recursive removal.
#pragma once
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <vector>

namespace s3l::test {

// Content that is a pure function of (seed, absolute offset): any range of a
// "virtual file" can be regenerated for comparison without keeping it.
void fill_pattern(uint64_t seed, uint64_t offset, char* buf, size_t len);
std::string pattern(uint64_t seed, uint64_t offset, size_t len);

// 64-bit content hash (not cryptographic; detects any realistic corruption).
class Hasher {
 public:
  void update(const char* p, size_t n);
  uint64_t digest() const;
 private:
  uint64_t h_ = 0x9e3779b97f4a7c15ull;
  uint64_t len_ = 0;
  char tail_[8] = {};
  size_t tail_len_ = 0;
};
std::string hex64(uint64_t v);

// First offset where a and b differ ("identical" if none): for messages.
std::string first_difference(const std::string& a, const std::string& b);

// Each throws std::runtime_error naming the syscall, the path and errno.
void write_file(const std::string& path, const std::string& data, mode_t mode = 0644);
std::string read_file(const std::string& path);
void pwrite_all(int fd, const char* p, size_t n, uint64_t off, const std::string& what);
std::string pread_exact(int fd, size_t n, uint64_t off, const std::string& what);  // short read = error
struct stat stat_path(const std::string& path);
struct stat lstat_path(const std::string& path);

// Writes `size` bytes of pattern(seed) to path in 1 MiB writes; returns the hash.
uint64_t write_pattern_file(const std::string& path, uint64_t seed, uint64_t size);
// Reads the whole file in 1 MiB reads, comparing it byte by byte against
// pattern(seed); returns "" if equal, else what differs (size, first byte).
std::string check_pattern_file(const std::string& path, uint64_t seed, uint64_t size);

// rm -rf that never crosses into another mounted filesystem.
void remove_tree(const std::string& path);

// "ENOENT"-style name of an errno value, for readable assertions.
std::string errno_name(int e);

// Runs `fn` in a forked child under uid/gid and returns what it wrote to the
// string it got (fn returns normally; exceptions become "exception: ...").
// Used for permission checks as a non-root user.
std::string run_as_user(uint32_t uid, uint32_t gid, void (*fn)(std::string& report, void* arg), void* arg);

}  // namespace s3l::test
