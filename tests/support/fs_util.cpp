#include "tests/support/fs_util.hpp"

#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <stdexcept>

namespace s3l::test {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

[[noreturn]] void fail(const std::string& what, const std::string& path, int e) {
  throw std::runtime_error(what + " " + path + ": " + errno_name(e) + " (" + std::strerror(e) + ")");
}

constexpr size_t kIoChunk = 1 << 20;

}  // namespace

void fill_pattern(uint64_t seed, uint64_t offset, char* buf, size_t len) {
  const uint64_t key = splitmix64(seed);
  size_t i = 0;
  while (i < len) {
    const uint64_t pos = offset + i;
    const uint64_t word = splitmix64(key ^ (pos / 8));
    const size_t skip = pos % 8;
    const size_t n = std::min<size_t>(8 - skip, len - i);
    for (size_t k = 0; k < n; ++k) buf[i + k] = static_cast<char>(word >> (8 * (skip + k)));
    i += n;
  }
}

std::string pattern(uint64_t seed, uint64_t offset, size_t len) {
  std::string s(len, '\0');
  fill_pattern(seed, offset, s.data(), len);
  return s;
}

void Hasher::update(const char* p, size_t n) {
  len_ += n;
  while (n > 0) {
    size_t take = std::min(n, 8 - tail_len_);
    std::memcpy(tail_ + tail_len_, p, take);
    tail_len_ += take;
    p += take;
    n -= take;
    if (tail_len_ == 8) {
      uint64_t w;
      std::memcpy(&w, tail_, 8);
      h_ = rotl(h_ ^ (w * 0x87c37b91114253d5ull), 31) * 0x4cf5ad432745937full;
      tail_len_ = 0;
    }
  }
}

uint64_t Hasher::digest() const {
  uint64_t w = 0;
  std::memcpy(&w, tail_, tail_len_);
  return splitmix64(h_ ^ splitmix64(w ^ (static_cast<uint64_t>(tail_len_) << 56)) ^ len_);
}

std::string hex64(uint64_t v) {
  char b[17];
  snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(v));
  return b;
}

std::string first_difference(const std::string& a, const std::string& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      size_t run = 0;
      while (i + run < n && a[i + run] != b[i + run]) ++run;
      return "first difference at byte " + std::to_string(i) + " (" + std::to_string(run) +
             " differing bytes from there; got 0x" + hex64(static_cast<unsigned char>(a[i])).substr(14) +
             ", expected 0x" + hex64(static_cast<unsigned char>(b[i])).substr(14) + ")";
    }
  }
  if (a.size() != b.size()) {
    return "sizes differ: " + std::to_string(a.size()) + " vs " + std::to_string(b.size()) +
           " (identical up to " + std::to_string(n) + ")";
  }
  return "identical";
}

void write_file(const std::string& path, const std::string& data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) fail("open(O_CREAT)", path, errno);
  try {
    pwrite_all(fd, data.data(), data.size(), 0, path);
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) fail("close", path, errno);
}

std::string read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open(O_RDONLY)", path, errno);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int e = errno;
      ::close(fd);
      fail("read", path, e);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

void pwrite_all(int fd, const char* p, size_t n, uint64_t off, const std::string& what) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) fail("pwrite at " + std::to_string(off) + " of", what, errno);
    if (w == 0) throw std::runtime_error("pwrite returned 0 at " + std::to_string(off) + " of " + what);
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
}

std::string pread_exact(int fd, size_t n, uint64_t off, const std::string& what) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::pread(fd, out.data() + got, n - got, static_cast<off_t>(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) fail("pread at " + std::to_string(off + got) + " of", what, errno);
    if (r == 0) {
      throw std::runtime_error("short read of " + what + ": wanted " + std::to_string(n) + " bytes at " +
                               std::to_string(off) + ", EOF after " + std::to_string(got));
    }
    got += static_cast<size_t>(r);
  }
  return out;
}

struct stat stat_path(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) fail("stat", path, errno);
  return st;
}

struct stat lstat_path(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) fail("lstat", path, errno);
  return st;
}

uint64_t write_pattern_file(const std::string& path, uint64_t seed, uint64_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("open(O_CREAT)", path, errno);
  std::string buf(kIoChunk, '\0');
  Hasher h;
  try {
    for (uint64_t off = 0; off < size; off += kIoChunk) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(kIoChunk, size - off));
      fill_pattern(seed, off, buf.data(), n);
      h.update(buf.data(), n);
      pwrite_all(fd, buf.data(), n, off, path);
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) fail("close", path, errno);
  return h.digest();
}

std::string check_pattern_file(const std::string& path, uint64_t seed, uint64_t size) {
  struct stat st = stat_path(path);
  if (static_cast<uint64_t>(st.st_size) != size) {
    return path + ": st_size " + std::to_string(st.st_size) + ", expected " + std::to_string(size);
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("open(O_RDONLY)", path, errno);
  std::string got(kIoChunk, '\0'), want(kIoChunk, '\0');
  Hasher hg, hw;
  std::string problem;
  uint64_t off = 0;
  for (;;) {
    ssize_t r = ::read(fd, got.data(), kIoChunk);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      ::close(fd);
      fail("read at " + std::to_string(off) + " of", path, e);
    }
    if (r == 0) break;
    size_t n = static_cast<size_t>(r);
    if (off + n > size) {
      problem = "read returned data beyond the expected size " + std::to_string(size);
      break;
    }
    fill_pattern(seed, off, want.data(), n);
    hg.update(got.data(), n);
    hw.update(want.data(), n);
    if (problem.empty() && std::memcmp(got.data(), want.data(), n) != 0) {
      std::string d = first_difference(got.substr(0, n), want.substr(0, n));
      problem = "content differs in the read at offset " + std::to_string(off) + ": " + d;
    }
    off += n;
  }
  ::close(fd);
  if (problem.empty() && off != size) {
    problem = "read returned " + std::to_string(off) + " bytes in total, expected " + std::to_string(size);
  }
  if (problem.empty() && hg.digest() != hw.digest()) problem = "hash mismatch";  // cannot happen if bytes match
  return problem.empty() ? "" : path + ": " + problem + " (hash " + hex64(hg.digest()) + " vs " + hex64(hw.digest()) + ")";
}

void remove_tree(const std::string& path) {
  auto rm = [](const char* p, const struct stat*, int flag, struct FTW*) -> int {
    if (flag == FTW_DP) {
      ::rmdir(p);
    } else {
      ::unlink(p);
    }
    return 0;
  };
  nftw(path.c_str(), rm, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

std::string errno_name(int e) {
  static const std::map<int, const char*> names = {
      {0, "success"},      {EPERM, "EPERM"},       {ENOENT, "ENOENT"},   {EIO, "EIO"},
      {EBADF, "EBADF"},    {EACCES, "EACCES"},     {EBUSY, "EBUSY"},     {EEXIST, "EEXIST"},
      {EXDEV, "EXDEV"},    {ENOTDIR, "ENOTDIR"},   {EISDIR, "EISDIR"},   {EINVAL, "EINVAL"},
      {ENOSPC, "ENOSPC"},  {EROFS, "EROFS"},       {EMLINK, "EMLINK"},   {ENAMETOOLONG, "ENAMETOOLONG"},
      {ENOSYS, "ENOSYS"},  {ENOTEMPTY, "ENOTEMPTY"}, {ELOOP, "ELOOP"},   {ENODATA, "ENODATA"},
      {ENOTCONN, "ENOTCONN"}, {EFBIG, "EFBIG"},    {ETXTBSY, "ETXTBSY"}, {EOPNOTSUPP, "EOPNOTSUPP"},
      {ENXIO, "ENXIO"},    {EAGAIN, "EAGAIN"},     {EINTR, "EINTR"},     {ESTALE, "ESTALE"},
  };
  auto it = names.find(e);
  return it != names.end() ? it->second : "errno " + std::to_string(e);
}

std::string run_as_user(uint32_t uid, uint32_t gid, void (*fn)(std::string&, void*), void* arg) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2: " + std::string(std::strerror(errno)));
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    ::close(p[0]);
    std::string report;
    if (setgroups(0, nullptr) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
      report = "cannot switch to uid " + std::to_string(uid) + ": " + std::strerror(errno);
    } else {
      try {
        fn(report, arg);
      } catch (const std::exception& e) {
        report += std::string("exception: ") + e.what();
      }
    }
    size_t off = 0;
    while (off < report.size()) {
      ssize_t w = ::write(p[1], report.data() + off, report.size() - off);
      if (w <= 0) break;
      off += static_cast<size_t>(w);
    }
    _exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[4096];
  for (;;) {
    struct pollfd pfd = {p[0], POLLIN, 0};
    int r = ::poll(&pfd, 1, 60000);
    if (r == 0) {
      kill(pid, SIGKILL);
      out += "\n(timed out after 60 s; child killed)";
      break;
    }
    if (r < 0 && errno == EINTR) continue;
    ssize_t n = ::read(p[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(p[0]);
  int st = 0;
  waitpid(pid, &st, 0);
  return out;
}

}  // namespace s3l::test
