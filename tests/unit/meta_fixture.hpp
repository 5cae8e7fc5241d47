// Shared fixture of the meta_*_test programs. The engine under test comes from
// S3L_TEST_META_URL (e.g. a PostgreSQL URL later); by default each test gets a
// fresh SQLite file in a temporary directory. Every test formats the volume
// with force, so the same tests run unchanged against any engine.
#pragma once
#include <sys/stat.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "meta/meta.hpp"
#include "meta/sql_conn.hpp"

namespace s3l::meta::test {

constexpr uint64_t kBlock = 64 << 10;    // small blocks and chunks keep data tests cheap
constexpr uint64_t kChunk = 256 << 10;   // 4 blocks per chunk
constexpr uint32_t kUid = 1000, kGid = 1000;
constexpr int64_t kT0 = 1'700'000'000'000'000'000;   // a fixed "now"

inline std::string make_temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "s3l-meta-test-XXXXXX").string();
  char* d = mkdtemp(tmpl.data());
  BOOST_REQUIRE_MESSAGE(d != nullptr, "mkdtemp failed");
  return d;
}

// A checksum-shaped string (the engine checks the format, not the content).
inline std::string fake_sha(uint64_t seed) {
  static const char* hex = "0123456789abcdef";
  std::string s(64, '0');
  for (int i = 0; i < 64; ++i) s[i] = hex[(seed * 2654435761u + i * 7) % 16];
  return s;
}

// A well-formed slice of [pos, pos+len) with blocks of kBlock.
inline Slice make_slice(uint64_t id, uint64_t ino, uint64_t chunk, uint64_t pos, uint64_t len) {
  Slice s;
  s.id = id;
  s.ino = ino;
  s.chunk = chunk;
  s.pos = pos;
  s.len = len;
  uint32_t idx = 0;
  for (uint64_t off = 0; off < len; off += kBlock, ++idx)
    s.blocks.push_back(Block{0, id, idx, static_cast<uint32_t>(std::min(kBlock, len - off)), fake_sha(id * 100 + idx)});
  return s;
}

struct MetaFixture {
  std::string dir;   // temp dir when using the default SQLite engine
  std::string url;
  std::unique_ptr<Meta> m;
  uint64_t session = 0;

  MetaFixture() {
    const char* env = std::getenv("S3L_TEST_META_URL");
    if (env && *env) {
      url = env;
    } else {
      dir = make_temp_dir();
      url = "sqlite3://" + dir + "/meta.db?sync=normal";   // durability is not under test here
    }
    m = open_or_fail(url, true);
    format_or_fail(*m);
    auto s = m->register_session(SessionInfo{0, "testhost", 42, "/mnt/test", "test", kT0, kT0});
    BOOST_REQUIRE_MESSAGE(s.ok(), s.msg());
    session = *s;
  }
  ~MetaFixture() {
    m.reset();
    if (!dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }

  static std::unique_ptr<Meta> open_or_fail(const std::string& u, bool create) {
    auto r = open_meta(u, create);
    BOOST_REQUIRE_MESSAGE(r.ok(), "open_meta(" << u << "): " << r.msg());
    return std::move(*r);
  }
  static VolumeSettings settings() {
    VolumeSettings s;
    s.name = "testvol";
    s.uuid = "0b7e4c1a-2f7d-4c53-9d0e-5b9f5c3a7e21";
    s.block_size = kBlock;
    s.chunk_size = kChunk;
    s.storage_url = "file:///tmp/s3l-test-store";
    s.created_ns = kT0;
    return s;
  }
  static void format_or_fail(Meta& meta) {
    Status st = meta.format(settings(), kUid, kGid, true);
    BOOST_REQUIRE_MESSAGE(st.ok(), "format: " << st.msg);
  }

  // Raw SQL on a second connection: how the fsck tests damage the metadata.
  void raw(const std::string& sql) {
    auto c = open_sql_conn(url, false);
    BOOST_REQUIRE_MESSAGE(c.ok(), c.msg());
    try {
      (*c)->exec(sql);
    } catch (const DbError& e) {
      BOOST_FAIL("raw SQL failed: " << e.what());
    }
  }

  Attr mk(uint64_t parent, const std::string& name, uint32_t mode = S_IFREG | 0644,
          const std::string& target = "") {
    auto r = m->mknod(parent, name, mode, kUid, kGid, 0, target, kT0);
    BOOST_REQUIRE_MESSAGE(r.ok(), "mknod " << name << ": " << r.msg());
    return *r;
  }
  Attr mkdir(uint64_t parent, const std::string& name) { return mk(parent, name, S_IFDIR | 0755); }
  Attr attr(uint64_t ino) {
    auto r = m->getattr(ino);
    BOOST_REQUIRE_MESSAGE(r.ok(), "getattr " << ino << ": " << r.msg());
    return *r;
  }
  // Writes [pos, pos+len) of one chunk through begin/commit; returns the slice.
  Slice write(uint64_t ino, uint64_t chunk, uint64_t pos, uint64_t len, int64_t now = kT0) {
    auto id = m->begin_slice(ino, chunk, session);
    BOOST_REQUIRE_MESSAGE(id.ok(), "begin_slice: " << id.msg());
    Slice s = make_slice(*id, ino, chunk, pos, len);
    auto a = m->commit_slice(s, chunk * kChunk + pos + len, now);
    BOOST_REQUIRE_MESSAGE(a.ok(), "commit_slice: " << a.msg());
    return s;
  }
  // The fixture's clock is kT0: sessions registered at kT0 are live for
  // check_consistency only when it is told so (the real clock is years later).
  std::vector<Problem> problems() {
    CheckOptions o;
    o.now_ns = kT0;
    auto r = m->check_consistency(o);
    BOOST_REQUIRE_MESSAGE(r.ok(), "check_consistency: " << r.msg());
    return *r;
  }
  void expect_consistent() {
    for (const Problem& p : problems())
      BOOST_ERROR("unexpected problem: " << p.kind << " at " << p.where << ": " << p.detail);
  }
  bool has_problem(const std::string& kind, const std::string& where_part) {
    for (const Problem& p : problems())
      if (p.kind == kind && p.where.find(where_part) != std::string::npos) return true;
    return false;
  }
};

}  // namespace s3l::meta::test
