// Opening, formatting and settings of the metadata engine; id allocation
// with two connections on one database.
#define BOOST_TEST_MODULE meta_volume
#include "meta_fixture.hpp"

#include <set>
#include <thread>

#include "meta/sqlite_url.hpp"

using namespace s3l;
using namespace s3l::meta;
using namespace s3l::meta::test;

BOOST_AUTO_TEST_CASE(sqlite_urls) {
  auto a = parse_sqlite_url("sqlite3:///var/lib/x/meta.db");
  BOOST_REQUIRE(a.ok());
  BOOST_TEST(a->path == "/var/lib/x/meta.db");
  BOOST_TEST(!a->sync_full);  // default: durable at fsync (Meta::sync), not every commit
  BOOST_TEST(parse_sqlite_url("sqlite3:///x.db?sync=full")->sync_full);
  auto r = parse_sqlite_url("sqlite3://rel/meta.db?sync=normal&busy_timeout=100");
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->path == (std::filesystem::current_path() / "rel/meta.db").string());
  BOOST_TEST(!r->sync_full);
  BOOST_TEST(r->busy_timeout_ms == 100);
  BOOST_TEST(parse_sqlite_url("sqlite3://").err() == EINVAL);
  BOOST_TEST(parse_sqlite_url("sqlite3://x.db?sync=sometimes").err() == EINVAL);
  BOOST_TEST(parse_sqlite_url("sqlite3://x.db?cache=1").err() == EINVAL);
  BOOST_TEST(open_meta("mysql://user:secret@host/db", false).err() == EINVAL);
  BOOST_TEST(open_meta("mysql://user:secret@host/db", false).msg().find("secret") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(sqlite_open_and_empty_database) {
  std::string dir = make_temp_dir();
  std::string url = "sqlite3://" + dir + "/meta.db";   // default sync=normal
  BOOST_TEST(open_meta(url, false).err() == ENOENT);
  BOOST_TEST(open_meta("sqlite3://" + dir + "/no/such/dir/meta.db", true).err() == ENOENT);
  auto m = MetaFixture::open_or_fail(url, true);
  auto s = m->load_settings();
  BOOST_TEST(s.err() == ENODATA);
  BOOST_TEST(s.msg().find("format") != std::string::npos);
  MetaFixture::format_or_fail(*m);
  BOOST_TEST(m->load_settings().ok());
  // With sync=normal the commits sit in the WAL until sync() fsyncs it.
  BOOST_TEST(std::filesystem::exists(dir + "/meta.db-wal"));
  Status synced = m->sync();
  BOOST_TEST(synced.ok(), synced.msg);
  m.reset();
  auto again = MetaFixture::open_or_fail(url, false);   // now it exists
  BOOST_TEST(again->load_settings().ok());
  again.reset();
  std::filesystem::remove_all(dir);
}

BOOST_FIXTURE_TEST_SUITE(volume, MetaFixture)

BOOST_AUTO_TEST_CASE(settings_round_trip) {
  auto s = m->load_settings();
  BOOST_REQUIRE_MESSAGE(s.ok(), s.msg());
  VolumeSettings want = settings();
  BOOST_TEST(s->format_version == kFormatVersion);
  BOOST_TEST(s->name == want.name);
  BOOST_TEST(s->uuid == want.uuid);
  BOOST_TEST(s->block_size == want.block_size);
  BOOST_TEST(s->chunk_size == want.chunk_size);
  BOOST_TEST(s->storage_url == want.storage_url);
  BOOST_TEST(s->created_ns == want.created_ns);
  // a second connection reads the same
  auto other = open_or_fail(url, false);
  BOOST_TEST(other->load_settings()->uuid == want.uuid);
}

BOOST_AUTO_TEST_CASE(format_refuses_formatted_volume) {
  Attr f = mk(kRootIno, "precious");
  VolumeSettings s = settings();
  s.uuid = "another";
  Status st = m->format(s, 0, 0, false);
  BOOST_TEST(st.err == EEXIST);
  BOOST_TEST(st.msg.find("testvol") != std::string::npos);
  BOOST_TEST(m->lookup(kRootIno, "precious").ok());
  BOOST_TEST(m->load_settings()->uuid == settings().uuid);
  // with force everything is new
  BOOST_REQUIRE(m->format(s, 0, 0, true).ok());
  BOOST_TEST(m->lookup(kRootIno, "precious").err() == ENOENT);
  BOOST_TEST(m->load_settings()->uuid == "another");
  BOOST_TEST(attr(kRootIno).uid == 0u);
  // ids restart cleanly after a forced format (no stale in-memory batches)
  Attr g = mk(kRootIno, "g");
  BOOST_TEST(g.ino == kRootIno + 1);
  (void)f;
  expect_consistent();
}

BOOST_AUTO_TEST_CASE(format_validates_settings) {
  VolumeSettings s = settings();
  s.block_size = 3000;
  BOOST_TEST(m->format(s, 0, 0, true).err == EINVAL);
  s = settings();
  s.chunk_size = s.block_size * 3 + 1;
  BOOST_TEST(m->format(s, 0, 0, true).err == EINVAL);
  s = settings();
  s.name = "";
  BOOST_TEST(m->format(s, 0, 0, true).err == EINVAL);
  s = settings();
  s.format_version = kFormatVersion + 1;
  BOOST_TEST(m->format(s, 0, 0, true).err == EINVAL);
  BOOST_TEST(m->lookup(kRootIno, "x").err() == ENOENT);   // the volume is untouched
}

BOOST_AUTO_TEST_CASE(newer_schema_is_refused) {
  raw("UPDATE schema_version SET version = 99");
  auto s = m->load_settings();
  BOOST_TEST(s.err() == EPROTO);
  BOOST_TEST(s.msg().find("99") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(two_connections_allocate_distinct_ids) {
  auto other = open_or_fail(url, false);
  std::set<uint64_t> inos, slices;
  for (int i = 0; i < 200; ++i) {
    Meta& who = (i % 3 == 0) ? *other : *m;
    auto a = who.mknod(kRootIno, "f" + std::to_string(i), S_IFREG | 0644, 0, 0, 0, "", kT0);
    BOOST_REQUIRE_MESSAGE(a.ok(), a.msg());
    BOOST_TEST(inos.insert(a->ino).second);
    auto s = who.begin_slice(a->ino, 0, session);
    BOOST_REQUIRE_MESSAGE(s.ok(), s.msg());
    BOOST_TEST(slices.insert(*s).second);
    // a failing create must not disturb the allocator
    BOOST_TEST(who.mknod(kRootIno, "f" + std::to_string(i), S_IFREG, 0, 0, 0, "", kT0).err() == EEXIST);
  }
  BOOST_TEST(inos.size() == 200u);
  BOOST_TEST(m->statfs()->inodes == 201u);
  BOOST_TEST(other->readdir(kRootIno)->size() == 200u);
}

BOOST_AUTO_TEST_CASE(concurrent_writers_wait_for_each_other) {
  // Two connections on two threads (like two mounts) write at the same time:
  // the lock wait (busy_timeout / retry) must make every operation succeed.
  std::vector<std::string> errors[2];
  auto worker = [&](int w) {
    auto meta = open_meta(url, false);
    if (!meta.ok()) {
      errors[w].push_back(meta.msg());
      return;
    }
    for (int i = 0; i < 300; ++i) {
      std::string name = "w" + std::to_string(w) + "-" + std::to_string(i);
      auto a = (*meta)->mknod(kRootIno, name, S_IFREG | 0644, 0, 0, 0, "", kT0);
      if (!a.ok()) {
        errors[w].push_back(a.msg());
        continue;
      }
      if (i % 2 == 0) {
        auto u = (*meta)->unlink(kRootIno, name, session, kT0);
        if (!u.ok()) errors[w].push_back(u.msg());
        else if (Status p = (*meta)->purge(a->ino); !p.ok()) errors[w].push_back(p.msg);
      }
    }
  };
  std::thread t0(worker, 0), t1(worker, 1);
  t0.join();
  t1.join();
  for (auto& e : errors)
    for (auto& msg : e) BOOST_ERROR(msg);
  BOOST_TEST(m->readdir(kRootIno)->size() == 300u);
  BOOST_TEST(m->statfs()->inodes == 301u);
  expect_consistent();
}

BOOST_AUTO_TEST_SUITE_END()
