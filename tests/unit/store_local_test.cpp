#define BOOST_TEST_MODULE store_local
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "store/local_store.hpp"
#include "tests/support/store_conformance.hpp"

namespace fs = std::filesystem;
using namespace s3l;
using namespace s3l::store;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/s3l-store-local-XXXXXX";
    BOOST_TEST_REQUIRE(::mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path, ec);
  }
};

std::unique_ptr<ObjectStore> open_ok(const std::string& url, bool create) {
  auto r = open_store(url, create);
  BOOST_TEST_REQUIRE(r.ok(), url << ": " << r.msg());
  return std::move(*r);
}

// Every regular file under dir, relative paths.
std::vector<std::string> files_under(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

// ---- the shared conformance suite ---------------------------------------------

struct Fixture {
  TempDir dir;
  std::unique_ptr<ObjectStore> st = open_ok("file://" + dir.path + "/store", true);
};

BOOST_FIXTURE_TEST_CASE(conformance_put_get_head, Fixture) { test::conf_put_get_head(*st, "t/"); }
BOOST_FIXTURE_TEST_CASE(conformance_ranged_get, Fixture) { test::conf_ranged_get(*st, "t/"); }
BOOST_FIXTURE_TEST_CASE(conformance_missing, Fixture) { test::conf_missing(*st, "t/"); }
BOOST_FIXTURE_TEST_CASE(conformance_remove, Fixture) { test::conf_remove(*st, "t/"); }
BOOST_FIXTURE_TEST_CASE(conformance_list_many, Fixture) { test::conf_list_many(*st, "t/"); }
BOOST_FIXTURE_TEST_CASE(conformance_odd_keys, Fixture) { test::conf_odd_keys(*st, "t/"); }
BOOST_FIXTURE_TEST_CASE(conformance_replace, Fixture) { test::conf_replace(*st, "t/"); }
BOOST_FIXTURE_TEST_CASE(conformance_top_dirs, Fixture) { test::conf_top_dirs(*st, "topdirs"); }
BOOST_FIXTURE_TEST_CASE(conformance_all_at_top_level, Fixture) {
  test::run_store_conformance(*st, "");
}

// ---- file:// specifics ---------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(keys_the_filesystem_cannot_name_directly, Fixture) {
  const std::vector<std::string> keys = {
      std::string(900, 'L'),                       // one component > NAME_MAX
      std::string(300, '%') + "/" + std::string(600, 'q'),  // escapes triple its length
      std::string(255, 'a') + "." ,
      "a", "a/b", "a/b/c",                         // a key is also a "directory" of others
      "a//b", "/lead", "trail/", "/", "//",        // empty components
      ".", "..", "./x", "../x", "x/./y", "x/../y", "..." ,
      "%", "%o", "%+", "%t", "x%o/y", "x%+", "%layout", "%probe%t1",  // look like our suffixes
  };
  for (const auto& k : keys) {
    Status s = st->put(k, k.data(), k.size());
    BOOST_TEST_REQUIRE(s.ok(), "put '" << k << "': " << s.msg);
  }
  for (const auto& k : keys) {
    auto g = st->get(k);
    BOOST_TEST(g.ok(), "get '" << k << "': " << g.msg());
    if (g.ok()) BOOST_TEST((*g == k));
  }
  auto l = st->list("");
  BOOST_TEST_REQUIRE(l.ok(), l.msg());
  std::vector<std::string> want = keys, got;
  std::sort(want.begin(), want.end());
  for (auto& o : *l) got.push_back(o.key);
  BOOST_TEST(got == want, boost::test_tools::per_element());
  // Nothing escaped the root, every name fits NAME_MAX.
  for (auto& f : files_under(dir.path + "/store")) {
    for (auto& part : fs::path(f)) BOOST_TEST(part.string().size() <= 255u, f);
  }
  BOOST_TEST(st->remove_many(keys).msg == "");
  // Removing everything prunes the directories: only the layout marker is left.
  BOOST_TEST(files_under(dir.path + "/store") == std::vector<std::string>{"%layout"},
             boost::test_tools::per_element());
  size_t entries = 0;
  for (auto& e : fs::directory_iterator(dir.path + "/store")) { (void)e; ++entries; }
  BOOST_TEST(entries == 1u);
}

BOOST_FIXTURE_TEST_CASE(path_mapping_is_readable, Fixture) {
  BOOST_TEST(*local_object_path("vol/chunks/0/1/1234_0_4096") == "vol/chunks/0/1/1234_0_4096%o");
  BOOST_TEST(*local_object_path("a%b") == "a%25b%o");
  BOOST_TEST(*local_object_path("a//b") == "a/%/b%o");
  BOOST_TEST(*local_object_path("../x") == "%../x%o");
  auto p = local_object_path(std::string(450, 'x'));
  BOOST_TEST_REQUIRE(p.ok());
  BOOST_TEST(*p == std::string(150, 'x') + "%+/" + std::string(150, 'x') + "%+/" +
                      std::string(150, 'x') + "%o");
}

BOOST_FIXTURE_TEST_CASE(bad_keys_are_rejected_clearly, Fixture) {
  BOOST_TEST(st->put("", "x", 1).err == EINVAL);
  BOOST_TEST(st->put(std::string("a\0b", 3), "x", 1).err == EINVAL);
  std::string too_long(kMaxKeyLen + 1, 'k');
  Status s = st->put(too_long, "x", 1);
  BOOST_TEST(s.err == ENAMETOOLONG);
  BOOST_TEST(s.msg.find("1025") != std::string::npos, s.msg);
  BOOST_TEST(st->get(too_long).err() == ENAMETOOLONG);
  BOOST_TEST(st->put(std::string(kMaxKeyLen, '%'), "x", 1).ok());  // longest key, worst escaping
}

BOOST_FIXTURE_TEST_CASE(put_is_durable_and_leaves_no_temp_files, Fixture) {
  BOOST_TEST_REQUIRE(st->put("v/k", "hello", 5).ok());
  BOOST_TEST(files_under(dir.path + "/store") ==
                 (std::vector<std::string>{"%layout", "v/k%o"}),
             boost::test_tools::per_element());
  // A leftover temp file from a crashed put is invisible to list/get.
  std::ofstream(dir.path + "/store/v/k%t0123456789abcdef") << "partial";
  auto l = st->list("");
  BOOST_TEST_REQUIRE(l.ok());
  BOOST_TEST(l->size() == 1u);
  BOOST_TEST(*st->get("v/k") == "hello");
}

BOOST_AUTO_TEST_CASE(reopen_sees_the_same_objects) {
  TempDir dir;
  {
    auto st = open_ok("file://" + dir.path + "/s", true);
    BOOST_TEST_REQUIRE(st->put("x/y", "data", 4).ok());
    BOOST_TEST(st->describe() == "file://" + dir.path + "/s");
  }
  auto st = open_ok("file://" + dir.path + "/s/", false);  // trailing slash is fine
  BOOST_TEST(*st->get("x/y") == "data");
}

BOOST_AUTO_TEST_CASE(url_and_directory_errors_are_clear) {
  TempDir dir;
  auto rel = open_store("file://relative/dir", true);
  BOOST_TEST(rel.err() == EINVAL);
  BOOST_TEST(rel.msg().find("absolute") != std::string::npos, rel.msg());
  BOOST_TEST(open_store("file://", true).err() == EINVAL);
  BOOST_TEST(open_store("ftp://x/y", true).err() == EINVAL);
  BOOST_TEST(open_store("/plain/path", true).err() == EINVAL);

  std::string missing = dir.path + "/missing/deeper";
  auto m = open_store("file://" + missing, false);
  BOOST_TEST(m.err() == ENOENT);
  BOOST_TEST(m.msg().find(missing) != std::string::npos, m.msg());
  BOOST_TEST(open_store("file://" + missing, true).ok());   // created with parents
  BOOST_TEST(fs::is_directory(missing));

  std::string file = dir.path + "/a-file";
  std::ofstream(file) << "x";
  auto f = open_store("file://" + file, true);
  BOOST_TEST(f.err() == ENOTDIR);
  BOOST_TEST(f.msg().find(file) != std::string::npos, f.msg());
}

BOOST_AUTO_TEST_CASE(unwritable_directory_is_refused) {
  TempDir dir;
  std::string ro = dir.path + "/ro";
  BOOST_TEST_REQUIRE(::mkdir(ro.c_str(), 0555) == 0);
  BOOST_TEST_REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
  // Root ignores permission bits: check as an unprivileged user in a child.
  pid_t pid = ::fork();
  BOOST_TEST_REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) ::_exit(100);
    auto r = open_store("file://" + ro, false);
    bool named = r.msg().find(ro) != std::string::npos;
    ::_exit(r.ok() ? 101 : (named ? r.err() : 102));
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  BOOST_TEST_REQUIRE(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == EACCES);
}

BOOST_AUTO_TEST_CASE(newer_layout_is_refused) {
  TempDir dir;
  { open_ok("file://" + dir.path, false); }
  std::ofstream(dir.path + "/%layout", std::ios::trunc) << "s3layerfs-local-store 2\n";
  auto r = open_store("file://" + dir.path, false);
  BOOST_TEST(r.err() == EPROTO);
  BOOST_TEST(r.msg().find("version 2") != std::string::npos, r.msg());
}

BOOST_FIXTURE_TEST_CASE(concurrent_puts_and_removes_in_one_directory, Fixture) {
  // remove() prunes empty directories while other threads create objects in
  // them: no put may fail and every surviving object must be readable.
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      // The directory empties (and is pruned) all the time.
      for (int i = 0; i < 300; ++i) {
        std::string k = "d/e/f/" + std::to_string(t) + "-" + std::to_string(i);
        Status s = st->put(k, k.data(), k.size());
        if (s.ok()) s = st->remove(k);
        if (!s.ok() && failures++ == 0) BOOST_TEST_MESSAGE("first failure: " << s.msg);
      }
      std::string k = "d/e/f/final-" + std::to_string(t);
      if (!st->put(k, k.data(), k.size()).ok()) ++failures;
    });
  }
  for (auto& t : ts) t.join();
  BOOST_TEST(failures.load() == 0);
  auto l = st->list("d/");
  BOOST_TEST_REQUIRE(l.ok());
  BOOST_TEST(l->size() == 4u);
  for (auto& o : *l) BOOST_TEST(*st->get(o.key) == o.key);
}
