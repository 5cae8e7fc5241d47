// The S3 options of format, mount and fsck: command line, config file,
// storage URL and endpoint checks, "not given" kept apart from defaults (mount
// and fsck then use what the volume stores), and help that never shows a secret.
#define BOOST_TEST_MODULE config_s3
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/cli.hpp"
#include "config/values.hpp"

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

bool contains(const std::string& hay, const std::string& needle) {
  bool ok = hay.find(needle) != std::string::npos;
  if (!ok) BOOST_TEST_MESSAGE("'" << needle << "' not in: " << hay);
  return ok;
}

const std::string kMeta = "sqlite3:///var/lib/s3l/meta.db";

}  // namespace

BOOST_AUTO_TEST_CASE(format_takes_every_s3_option) {
  auto r = parse({"format", kMeta, "vol1", "--storage", "s3://my-bucket", "--endpoint", "http://127.0.0.1:9000/",
                  "--region", "eu-west-3", "--access-key", "AKID", "--secret-key", "s3cr3t", "--virtual-hosted",
                  "--no-verify-tls", "--ca-file", "/etc/ssl/my-ca.pem", "--store-secret-in-meta"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  const FormatOptions& f = r->format;
  BOOST_TEST(f.storage == "s3://my-bucket");
  BOOST_TEST(*f.s3.endpoint == "http://127.0.0.1:9000");   // trailing '/' removed
  BOOST_TEST(*f.s3.region == "eu-west-3");
  BOOST_TEST(*f.s3.access_key == "AKID");
  BOOST_TEST(*f.s3.secret_key == "s3cr3t");
  BOOST_TEST(*f.s3.virtual_hosted);
  BOOST_TEST(!*f.s3.verify_tls);
  BOOST_TEST(*f.s3.ca_file == "/etc/ssl/my-ca.pem");
  BOOST_TEST(f.store_secret_in_meta);
  BOOST_TEST(f.s3.given() ==
             "--endpoint, --region, --access-key, --secret-key, --virtual-hosted, --no-verify-tls, --ca-file");
}

BOOST_AUTO_TEST_CASE(unset_options_stay_unset) {
  auto r = parse({"mount", kMeta, "/mnt/x"});
  BOOST_REQUIRE(r.ok());
  const S3Flags& s = r->mount.s3;
  BOOST_TEST(!s.endpoint.has_value());
  BOOST_TEST(!s.region.has_value());
  BOOST_TEST(!s.access_key.has_value());
  BOOST_TEST(!s.secret_key.has_value());
  BOOST_TEST(!s.virtual_hosted.has_value());
  BOOST_TEST(!s.verify_tls.has_value());
  BOOST_TEST(!s.ca_file.has_value());
  BOOST_TEST(s.given().empty());
  r = parse({"format", kMeta, "v", "--storage", "http://h:1/bucket"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(!r->format.store_secret_in_meta);
  BOOST_TEST(r->format.s3.given().empty());
}

BOOST_AUTO_TEST_CASE(mount_and_fsck_override_the_stored_options) {
  auto r = parse({"mount", kMeta, "/mnt/x", "--region", "us-west-2", "--virtual-hosted=false",
                  "--no-verify-tls=false", "--secret-key=abc"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(*r->mount.s3.region == "us-west-2");
  BOOST_TEST(!*r->mount.s3.virtual_hosted);   // explicitly path-style
  BOOST_TEST(*r->mount.s3.verify_tls);        // explicitly verified
  BOOST_TEST(*r->mount.s3.secret_key == "abc");
  r = parse({"fsck", kMeta, "--access-key", "AK", "--endpoint", "https://s3.example.com"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(*r->fsck.s3.access_key == "AK");
  BOOST_TEST(*r->fsck.s3.endpoint == "https://s3.example.com");
  // --store-secret-in-meta is a format option only.
  BOOST_TEST(contains(error_of({"mount", kMeta, "/mnt/x", "--store-secret-in-meta"}),
                      "unknown option --store-secret-in-meta for mount"));
}

BOOST_AUTO_TEST_CASE(storage_urls_for_s3) {
  BOOST_TEST(*normalize_storage_url("http://127.0.0.1:9000/bucket") == "http://127.0.0.1:9000/bucket");
  BOOST_TEST(*normalize_storage_url("https://s3.example.com/b.x_y-z/") == "https://s3.example.com/b.x_y-z");
  BOOST_TEST(*normalize_storage_url("s3://bucket/") == "s3://bucket");
  for (const auto& [url, why] : std::vector<std::pair<std::string, std::string>>{
           {"http://127.0.0.1:9000", "names no bucket"},
           {"http://127.0.0.1:9000/", "names no bucket"},
           {"http://h/bucket/prefix", "no key prefix"},
           {"s3://bucket/prefix", "no key prefix"},
           {"http://AKID:pw123@h/bucket", "must not contain credentials"},
           {"http://h/bu cket", "bad bucket name"},
           {"http:///bucket", "no host or bucket"},
           {"ftp://h/bucket", "unsupported storage URL scheme"}}) {
    auto r = normalize_storage_url(url);
    BOOST_TEST(!r.ok(), url);
    BOOST_TEST(contains(r.msg(), why), url << ": " << r.msg());
    BOOST_TEST(r.msg().find("pw123") == std::string::npos, "the message repeats a secret: " << r.msg());
  }
  BOOST_TEST(normalize_endpoint("http://AKID:s3cret@h").msg().find("s3cret") == std::string::npos);
  BOOST_TEST(contains(error_of({"format", kMeta, "v", "--storage", "http://h:9000"}),
                      "format: --storage: storage URL 'http://h:9000' names no bucket"));
}

BOOST_AUTO_TEST_CASE(endpoint_and_region_values) {
  BOOST_TEST(*normalize_endpoint("http://127.0.0.1:9000") == "http://127.0.0.1:9000");
  BOOST_TEST(*normalize_endpoint("https://s3.eu-west-1.amazonaws.com/") == "https://s3.eu-west-1.amazonaws.com");
  for (const char* bad : {"127.0.0.1:9000", "ftp://h", "http://", "http://h/bucket", "http://a:b@h"})
    BOOST_TEST(!normalize_endpoint(bad).ok(), bad);
  BOOST_TEST(check_region("us-east-1").ok());
  BOOST_TEST(!check_region("us east").ok());
  BOOST_TEST(!check_region("").ok());
  BOOST_TEST(contains(error_of({"format", kMeta, "v", "--storage", "s3://b", "--endpoint", "localhost:9000"}),
                      "--endpoint: bad endpoint 'localhost:9000'"));
  BOOST_TEST(contains(error_of({"mount", kMeta, "/m", "--region", "a/b"}), "--region: bad region 'a/b'"));
  BOOST_TEST(contains(error_of({"mount", kMeta, "/m", "--no-verify-tls=maybe"}), "--no-verify-tls"));
  BOOST_TEST(contains(error_of({"mount", kMeta, "/m", "--secret-key"}), "--secret-key needs a value"));
}

BOOST_AUTO_TEST_CASE(credentials_and_options_from_the_config_file) {
  char tmpl[] = "/tmp/s3l-config-s3-XXXXXX";
  BOOST_REQUIRE(mkdtemp(tmpl));
  const std::string dir = tmpl, conf = dir + "/s3l.conf";
  std::ofstream(conf) << "[format]\nstorage = http://127.0.0.1:9000/vol-bucket\nregion = us-east-1\n"
                         "store-secret-in-meta = no\n"
                         "[mount]\naccess-key = AKIDFILE\nsecret-key = \"se cret#1\"\nvirtual-hosted = yes\n"
                         "no-verify-tls = true\nca-file = /etc/ca.pem\n"
                         "[fsck]\nendpoint = http://127.0.0.1:9000\n";
  auto r = parse({"--config", conf, "mount", kMeta, "/mnt/x"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(*r->mount.s3.access_key == "AKIDFILE");
  BOOST_TEST(*r->mount.s3.secret_key == "se cret#1");
  BOOST_TEST(*r->mount.s3.virtual_hosted);
  BOOST_TEST(!*r->mount.s3.verify_tls);
  // The command line beats the file.
  r = parse({"--config", conf, "mount", kMeta, "/mnt/x", "--secret-key", "fromcli", "--no-verify-tls=false"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(*r->mount.s3.secret_key == "fromcli");
  BOOST_TEST(*r->mount.s3.verify_tls);
  r = parse({"--config", conf, "format", kMeta, "v"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->format.storage == "http://127.0.0.1:9000/vol-bucket");
  BOOST_TEST(!r->format.store_secret_in_meta);
  // A bad value in the file names file:line and the key.
  std::ofstream(conf) << "[mount]\nendpoint = nowhere\n";
  auto e = parse({"--config", conf, "mount", kMeta, "/mnt/x"});
  BOOST_TEST(!e.ok());
  BOOST_TEST(contains(e.msg(), conf + ":2: [mount] endpoint: bad endpoint"));
  std::ofstream(conf) << "[mount]\nstore-secret-in-meta = yes\n";
  e = parse({"--config", conf, "mount", kMeta, "/mnt/x"});
  BOOST_TEST(contains(e.msg(), "unknown key 'store-secret-in-meta' in [mount] (it belongs in [format])"));
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(help_lists_the_options_and_never_a_secret) {
  for (Command c : {Command::format, Command::mount, Command::fsck}) {
    const std::string h = help_text(c);
    for (const char* s : {"--endpoint URL", "--region NAME", "--access-key ID", "--secret-key KEY", "--virtual-hosted",
                          "--no-verify-tls", "--ca-file FILE", "$AWS_SECRET_ACCESS_KEY", "prefer the environment"})
      BOOST_TEST(contains(h, s), command_name(c));
  }
  BOOST_TEST(contains(help_text(Command::format), "--store-secret-in-meta"));
  BOOST_TEST(contains(help_text(Command::format), "http(s)://HOST[:PORT]/BUCKET or s3://BUCKET"));
  BOOST_TEST(contains(help_text(Command::mount), "as formatted"));
  // The help of a parse that set a secret shows the placeholder, not the value.
  ::setenv("AWS_SECRET_ACCESS_KEY", "env-secret-value", 1);
  auto r = parse({"mount", kMeta, "/m", "--secret-key", "cli-secret-value", "--help"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->help);
  for (Command c : {Command::format, Command::mount, Command::fsck}) {
    BOOST_TEST(help_text(c).find("cli-secret-value") == std::string::npos);
    BOOST_TEST(help_text(c).find("env-secret-value") == std::string::npos);
  }
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
}
