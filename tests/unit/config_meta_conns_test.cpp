// --meta-conns: default, bounds with their messages, the config file, the
// command line over the file, the help text; and how the mount splits the
// connections into readers and writers per engine (actors/meta_service.hpp).
#define BOOST_TEST_MODULE config_meta_conns
#include <boost/test/unit_test.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "actors/meta_service.hpp"
#include "config/cli.hpp"

using namespace s3l::config;

namespace {

s3l::Result<Invocation> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "s3layerfs-daemon");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return parse_command_line(static_cast<int>(argv.size()), argv.data());
}

std::string error_of(std::vector<std::string> args) {
  auto r = parse(args);
  BOOST_REQUIRE_MESSAGE(!r.ok(), "expected a parse error");
  BOOST_TEST(r.err() == EINVAL);
  BOOST_TEST(r.msg().find('\n') == std::string::npos);
  return r.msg();
}

struct TempFile {
  std::string dir, path;
  explicit TempFile(const std::string& text) {
    char tmpl[] = "/tmp/s3l-meta-conns-test-XXXXXX";
    BOOST_REQUIRE(mkdtemp(tmpl));
    dir = tmpl;
    path = dir + "/s3l.conf";
    std::ofstream(path, std::ios::binary) << text;
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

const std::string kMeta = "sqlite3:///var/lib/s3l/meta.db";

}  // namespace

BOOST_AUTO_TEST_CASE(default_is_four) {
  auto r = parse({"mount", kMeta, "/mnt/s3l"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->mount.meta_conns == 4u);
}

BOOST_AUTO_TEST_CASE(bounds_on_the_command_line) {
  for (const char* good : {"2", "3", "8", "64"}) {
    auto r = parse({"mount", kMeta, "/m", "--meta-conns", good});
    BOOST_REQUIRE_MESSAGE(r.ok(), good << ": " << r.msg());
    BOOST_TEST(r->mount.meta_conns == std::stoul(good));
  }
  auto r = parse({"mount", kMeta, "/m", "--meta-conns=16"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->mount.meta_conns == 16u);

  BOOST_TEST(error_of({"mount", kMeta, "/m", "--meta-conns", "1"}) == "mount: --meta-conns: must be in [2, 64], got 1");
  BOOST_TEST(error_of({"mount", kMeta, "/m", "--meta-conns", "0"}) == "mount: --meta-conns: must be in [2, 64], got 0");
  BOOST_TEST(error_of({"mount", kMeta, "/m", "--meta-conns", "65"}) == "mount: --meta-conns: must be in [2, 64], got 65");
  BOOST_TEST(error_of({"mount", kMeta, "/m", "--meta-conns", "-3"}) == "mount: --meta-conns: must be in [2, 64], got -3");
  BOOST_TEST(error_of({"mount", kMeta, "/m", "--meta-conns", "four"}) == "mount: --meta-conns: bad number 'four' (expected a whole number in [2, 64])");
  BOOST_TEST(error_of({"mount", kMeta, "/m", "--meta-conns"}) == "option --meta-conns needs a value (N)");
  // Only mount has it.
  BOOST_TEST(error_of({"fsck", kMeta, "--meta-conns", "4"}) == "unknown option --meta-conns for fsck");
}

BOOST_AUTO_TEST_CASE(from_the_config_file_and_overridden_by_the_command_line) {
  TempFile f("[mount]\nmeta-url = " + kMeta + "\nmountpoint = /mnt/s3l\nmeta-conns = 12\n");
  auto r = parse({"mount", "--config", f.path});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->mount.meta_conns == 12u);
  r = parse({"mount", "--config", f.path, "--meta-conns", "3"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->mount.meta_conns == 3u);

  TempFile bad("[mount]\nmeta-conns = 100\n");
  std::string msg = error_of({"mount", "--config", bad.path, kMeta, "/m"});
  BOOST_TEST(msg.find(bad.path + ":2: [mount] meta-conns: must be in [2, 64], got 100") != std::string::npos, msg);
  TempFile wrong_section("[fsck]\nmeta-conns = 4\n");
  msg = error_of({"fsck", "--config", wrong_section.path, kMeta});
  BOOST_TEST(msg.find("unknown key 'meta-conns' in [fsck] (it belongs in [mount] or [gc-node])") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(help_shows_the_option_and_its_default) {
  const std::string h = help_text(Command::mount);
  BOOST_TEST(h.find("--meta-conns N") != std::string::npos, h);
  auto line_start = h.find("--meta-conns N");
  auto line_end = h.find("(default: 4)", line_start);
  BOOST_TEST((line_end != std::string::npos), h);
}

// The split: at least one reader and one writer; one writer on SQLite.
BOOST_AUTO_TEST_CASE(split_per_engine) {
  using s3l::split_meta_conns;
  for (size_t n = 2; n <= 64; ++n) {
    auto sq = split_meta_conns(n, true);
    BOOST_TEST(sq.writers == 1u);
    BOOST_TEST(sq.readers == n - 1);
    auto pg = split_meta_conns(n, false);
    BOOST_TEST(pg.readers + pg.writers == n);
    BOOST_TEST(pg.writers == n / 2);
    BOOST_TEST(pg.readers >= 1u);
    BOOST_TEST(pg.writers >= 1u);
  }
  BOOST_TEST(split_meta_conns(4, false).writers == 2u);
  BOOST_TEST(split_meta_conns(5, false).writers == 2u);
  BOOST_TEST(split_meta_conns(5, false).readers == 3u);
  BOOST_TEST(s3l::serializes_writers("sqlite3:///var/lib/s3l/meta.db"));
  BOOST_TEST(s3l::serializes_writers("sqlite3://rel.db?sync=full"));
  BOOST_TEST(!s3l::serializes_writers("postgres://s3l@db1/s3l"));
  BOOST_TEST(!s3l::serializes_writers("postgresql://s3l@db1/s3l"));
}
