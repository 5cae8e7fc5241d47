// Single-value parsers of the config layer: sizes, numbers, booleans, URLs,
// volume names, log levels, and the logger setup.
#define BOOST_TEST_MODULE config_values
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include "config/options.hpp"
#include "config/values.hpp"
#include "util/log.hpp"

#include <spdlog/spdlog.h>

using namespace s3l::config;

static bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

BOOST_AUTO_TEST_CASE(sizes_good) {
  struct { const char* in; uint64_t out; } cases[] = {
      {"0", 0}, {"4096", 4096}, {"64K", 64ull << 10}, {"64k", 64ull << 10}, {"4M", 4ull << 20},
      {"4m", 4ull << 20}, {"1G", 1ull << 30}, {"1T", 1ull << 40}, {"4MB", 4ull << 20}, {"4MiB", 4ull << 20},
      {"300M", 300ull << 20}, {"10G", 10ull << 30}, {"512B", 512}, {"16777215T", 16777215ull << 40},
      {"18446744073709551615", UINT64_MAX}};
  for (const auto& c : cases) {
    auto r = parse_size(c.in);
    BOOST_TEST_INFO(c.in);
    BOOST_TEST(r.ok());
    BOOST_TEST(*r == c.out);
  }
}

BOOST_AUTO_TEST_CASE(sizes_bad) {
  for (const char* s : {"", "M", "-1", "+4", "4 M", " 4M", "4M ", "1.5G", "4X", "4MM", "4iB", "4Mb", "0x10", "4MiBs",
                        "18446744073709551616", "16777215T1", "16777216T", "99999999999999999999"}) {
    auto r = parse_size(s);
    BOOST_TEST_INFO("'" << s << "'");
    BOOST_TEST(!r.ok());
    BOOST_TEST(r.err() == EINVAL);
    BOOST_TEST(contains(r.msg(), std::string("'") + s + "'"));   // the message quotes the bad input
  }
  BOOST_TEST(contains(parse_size("1.5G").msg(), "fractions"));
  BOOST_TEST(contains(parse_size("16777216T").msg(), "too large"));
}

BOOST_AUTO_TEST_CASE(size_formatting_round_trips) {
  BOOST_TEST(format_size(0) == "0");
  BOOST_TEST(format_size(4096) == "4K");
  BOOST_TEST(format_size(4ull << 20) == "4M");
  BOOST_TEST(format_size(10ull << 30) == "10G");
  BOOST_TEST(format_size(1ull << 40) == "1T");
  BOOST_TEST(format_size(1000) == "1000");
  BOOST_TEST(format_size((1ull << 20) + 1024) == "1025K");
  for (uint64_t v : std::initializer_list<uint64_t>{0, 1, 1000, 4096, 3ull << 20, (5ull << 30) + 7, UINT64_MAX})
    BOOST_TEST(*parse_size(format_size(v)) == v);
}

BOOST_AUTO_TEST_CASE(bounded_sizes) {
  BOOST_TEST(*parse_size_in("64K", kMinBlockSize, kMaxBlockSize, true) == kMinBlockSize);
  BOOST_TEST(*parse_size_in("64M", kMinBlockSize, kMaxBlockSize, true) == kMaxBlockSize);
  BOOST_TEST(contains(parse_size_in("32K", kMinBlockSize, kMaxBlockSize, true).msg(), "between 64K and 64M"));
  BOOST_TEST(contains(parse_size_in("128M", kMinBlockSize, kMaxBlockSize, true).msg(), "got 128M"));
  BOOST_TEST(contains(parse_size_in("3M", kMinBlockSize, kMaxBlockSize, true).msg(), "power of two"));
  BOOST_TEST(!parse_size_in("0", kMinBlockSize, kMaxBlockSize, true).ok());
  BOOST_TEST(*parse_size_in("3M", 0, UINT64_MAX, false) == 3ull << 20);
}

BOOST_AUTO_TEST_CASE(booleans) {
  for (const char* t : {"true", "TRUE", "True", "yes", "YES", "1"}) BOOST_TEST(*parse_bool(t) == true);
  for (const char* f : {"false", "False", "no", "NO", "0"}) BOOST_TEST(*parse_bool(f) == false);
  for (const char* b : {"", "on", "off", "y", "n", "2", "truee", " true"}) {
    auto r = parse_bool(b);
    BOOST_TEST(!r.ok());
    BOOST_TEST(contains(r.msg(), "bad boolean"));
  }
}

BOOST_AUTO_TEST_CASE(whole_numbers) {
  BOOST_TEST(*parse_uint("1", 1, 256) == 1u);
  BOOST_TEST(*parse_uint("256", 1, 256) == 256u);
  BOOST_TEST(contains(parse_uint("0", 1, 256).msg(), "must be in [1, 256], got 0"));
  BOOST_TEST(contains(parse_uint("257", 1, 256).msg(), "got 257"));
  BOOST_TEST(contains(parse_uint("-3", 1, 256).msg(), "got -3"));
  BOOST_TEST(contains(parse_uint("99999999999999999999999", 1, 256).msg(), "must be in"));
  for (const char* b : {"", "x", "1.0", "1e2", "0x10", " 1", "+1", "1 "}) {
    auto r = parse_uint(b, 1, 256);
    BOOST_TEST_INFO("'" << b << "'");
    BOOST_TEST(!r.ok());
    BOOST_TEST(contains(r.msg(), "bad number"));
  }
}

BOOST_AUTO_TEST_CASE(seconds) {
  BOOST_TEST(*parse_seconds("0", 86400) == 0.0);
  BOOST_TEST(*parse_seconds("1", 86400) == 1.0);
  BOOST_TEST(*parse_seconds("0.5", 86400) == 0.5);
  BOOST_TEST(*parse_seconds(".25", 86400) == 0.25);
  BOOST_TEST(*parse_seconds("86400", 86400) == 86400.0);
  BOOST_TEST(contains(parse_seconds("-1", 86400).msg(), "between 0 and 86400"));
  BOOST_TEST(contains(parse_seconds("86401", 86400).msg(), "got 86401"));
  for (const char* b : {"", ".", "inf", "nan", "1e3", "0x10", "1.2.3", "1s", "-"}) {
    auto r = parse_seconds(b, 86400);
    BOOST_TEST_INFO("'" << b << "'");
    BOOST_TEST(!r.ok());
    BOOST_TEST(contains(r.msg(), "bad number of seconds"));
  }
}

BOOST_AUTO_TEST_CASE(meta_urls) {
  BOOST_TEST(*normalize_meta_url("sqlite3:///var/lib/s3l/meta.db") == "sqlite3:///var/lib/s3l/meta.db");
  BOOST_TEST(*normalize_meta_url("sqlite3:///var//lib/./s3l/meta.db") == "sqlite3:///var/lib/s3l/meta.db");
  char cwd[4096];
  BOOST_REQUIRE(getcwd(cwd, sizeof cwd));
  std::string base = std::string(cwd) == "/" ? "" : cwd;
  BOOST_TEST(*normalize_meta_url("sqlite3://meta.db") == "sqlite3://" + base + "/meta.db");   // daemon runs from /
  BOOST_TEST(*normalize_meta_url("sqlite3://a/../meta.db?sync=normal&busy_timeout=10") ==
             "sqlite3://" + base + "/meta.db?sync=normal&busy_timeout=10");
  BOOST_TEST(contains(normalize_meta_url("sqlite3://?sync=normal").msg(), "no database path"));
  BOOST_TEST(*normalize_meta_url("postgres://u@h/db") == "postgres://u@h/db");
  BOOST_TEST(contains(normalize_meta_url("mysql://x").msg(), "unsupported metadata URL scheme 'mysql://'"));
  BOOST_TEST(contains(normalize_meta_url("/var/meta.db").msg(), "bad metadata URL '/var/meta.db'"));
  BOOST_TEST(contains(normalize_meta_url("sqlite3://").msg(), "no database path"));
  BOOST_TEST(!normalize_meta_url("://x").ok());
}

BOOST_AUTO_TEST_CASE(storage_urls) {
  BOOST_TEST(*normalize_storage_url("file:///var/lib/s3l/objects") == "file:///var/lib/s3l/objects");
  BOOST_TEST(*normalize_storage_url("file:///var/lib/s3l/objects/") == "file:///var/lib/s3l/objects");
  BOOST_TEST(*normalize_storage_url("http://127.0.0.1:9000/bucket") == "http://127.0.0.1:9000/bucket");
  BOOST_TEST(*normalize_storage_url("s3://bucket") == "s3://bucket");
  BOOST_TEST(contains(normalize_storage_url("file://objects").msg(), "absolute directory"));
  BOOST_TEST(contains(normalize_storage_url("file://").msg(), "absolute directory"));
  BOOST_TEST(contains(normalize_storage_url("ftp://h/x").msg(), "unsupported storage URL scheme 'ftp://'"));
  BOOST_TEST(contains(normalize_storage_url("/var/objects").msg(), "bad storage URL"));
  BOOST_TEST(contains(normalize_storage_url("s3://").msg(), "no host or bucket"));
}

BOOST_AUTO_TEST_CASE(local_paths) {
  BOOST_TEST(*normalize_local_path("/mnt/x/") == "/mnt/x");
  BOOST_TEST(*normalize_local_path("/mnt//a/../x") == "/mnt/x");
  BOOST_TEST(*normalize_local_path("/") == "/");
  BOOST_TEST(normalize_local_path("rel/dir")->front() == '/');
  BOOST_TEST(!normalize_local_path("").ok());
}

BOOST_AUTO_TEST_CASE(volume_names) {
  for (std::string good : {std::string("vol1"), std::string("a"), std::string("My_Vol.2-x"), std::string(63, 'a')})
    BOOST_TEST(check_volume_name(good).ok());
  for (std::string bad : {std::string(""), std::string("-vol"), std::string(".vol"), std::string("v@l"),
                          std::string("v l"), std::string("v/l"), std::string(64, 'a')}) {
    auto st = check_volume_name(bad);
    BOOST_TEST_INFO("'" << bad << "'");
    BOOST_TEST(!st.ok());
    BOOST_TEST(contains(st.msg, "bad volume name '" + bad + "'"));
  }
}

BOOST_AUTO_TEST_CASE(log_levels_and_logger) {
  for (const char* l : {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    BOOST_TEST(s3l::is_log_level(l));
    BOOST_TEST(check_log_level(l).ok());
    BOOST_TEST(s3l::init_logging(l).ok());
  }
  for (const char* l : {"", "warning", "WARN", "err", "verbose"}) {
    BOOST_TEST(!s3l::is_log_level(l));
    BOOST_TEST(contains(check_log_level(l).msg, "bad log level"));
    BOOST_TEST(s3l::init_logging(l).err == EINVAL);
  }
  // The level really reaches spdlog's default logger, and a bad level keeps the old one.
  BOOST_TEST(s3l::init_logging("debug").ok());
  BOOST_TEST(spdlog::default_logger()->level() == spdlog::level::debug);
  BOOST_TEST(!s3l::init_logging("loud").ok());
  BOOST_TEST(spdlog::default_logger()->level() == spdlog::level::debug);
  BOOST_TEST(s3l::init_logging("error").ok());
  BOOST_TEST(spdlog::default_logger()->level() == spdlog::level::err);
  BOOST_TEST(s3l::init_logging("warn").ok());
  BOOST_TEST(spdlog::default_logger()->should_log(spdlog::level::warn));
  BOOST_TEST(!spdlog::default_logger()->should_log(spdlog::level::info));
}
