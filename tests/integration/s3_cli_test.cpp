// format, mount and fsck on S3 storage, as real processes against a real
// S3 server that checks signatures (s3rver 5.0.0): wrong secrets fail clearly
// and early, credentials are stored only on request, the non-secret options
// are stored so that mount needs only credentials, a bucket holding another
// volume is refused, and secrets stay out of messages, logs and `ps`.
#define BOOST_TEST_MODULE s3_cli
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "meta/meta.hpp"
#include "tests/support/fs_util.hpp"
#include "tests/support/mount_fixture.hpp"
#include "tests/support/mounts.hpp"
#include "tests/support/s3_server.hpp"

using namespace s3l;
using namespace s3l::test;

namespace {

constexpr const char* kPrefix = "s3layerfs-daemon: ";
// A wrong secret nobody could confuse with other text in an output.
constexpr const char* kWrongSecret = "Wr0ngSecret-q7x9z";

S3Server* g_server = nullptr;

struct ServerFixture {
  ServerFixture() {
    g_server = new S3Server("s3l-cli-0");
    ::setenv("AWS_ACCESS_KEY_ID", S3Server::kAccessKey, 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", S3Server::kSecretKey, 1);
  }
  ~ServerFixture() { delete g_server; }   // every test case unmounts what it mounted
};
BOOST_TEST_GLOBAL_FIXTURE(ServerFixture);

S3Server& server() { return *g_server; }

// A bucket name of its own for every use.
std::string new_bucket() {
  static int n = 0;
  return "s3l-cli-" + std::to_string(++n);
}

struct Scratch {
  std::string dir;
  Scratch() {
    std::string t = "/tmp/s3l-s3cli-test-XXXXXX";
    BOOST_REQUIRE(mkdtemp(t.data()));
    dir = t;
    register_temp_dir(dir);
  }
  ~Scratch() {
    remove_tree(dir);
    unregister_temp_dir(dir);
  }
  std::string url(const std::string& name) const { return "sqlite3://" + dir + "/" + name; }
  std::string file(const std::string& name) const { return dir + "/" + name; }
};

// Runs the daemon with `env` changes first ("NAME=value" sets, "-u NAME" unsets).
RunResult cli(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  std::vector<std::string> argv{"env"};
  argv.insert(argv.end(), env.begin(), env.end());
  argv.push_back(MountFixture::daemon_path());
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, milliseconds(120000));
}

const std::vector<std::string> kNoEnvCredentials = {"-u", "AWS_ACCESS_KEY_ID", "-u", "AWS_SECRET_ACCESS_KEY",
                                                    "-u", "AWS_SESSION_TOKEN"};

void expect_failure(const RunResult& r, int code, const std::vector<std::string>& mentions, const std::string& what) {
  BOOST_CHECK_MESSAGE(r.code() == code, what << ": exit code " << r.code() << ", expected " << code << "\n"
                                             << r.describe());
  std::string err = r.err;
  if (!err.empty() && err.back() == '\n') err.pop_back();
  BOOST_CHECK_MESSAGE(!err.empty() && err.find('\n') == std::string::npos && err.rfind(kPrefix, 0) == 0,
                      what << ": stderr should be exactly one line starting with '" << kPrefix << "', got:\n"
                           << r.err);
  for (const auto& m : mentions)
    BOOST_CHECK_MESSAGE(r.err.find(m) != std::string::npos, what << ": the error should mention '" << m << "':\n"
                                                                 << r.err);
  BOOST_CHECK_MESSAGE(r.output().find(kWrongSecret) == std::string::npos,
                      what << ": the output repeats the secret:\n" << r.output());
}

// Unmounts a detached mount and waits until its daemon has exited (it
// commits and closes its session after the mount is gone).
void unmount_detached(const std::string& mnt) {
  RunResult u = run({"fusermount3", "-u", mnt});
  BOOST_REQUIRE_MESSAGE(u.code() == 0, u.describe());
  auto daemon_alive = [&] {
    for (const auto& e : std::filesystem::directory_iterator("/proc")) {
      const std::string pid = e.path().filename().string();
      if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
      std::string cmd = slurp("/proc/" + pid + "/cmdline");
      if (cmd.find("mount") != std::string::npos && cmd.find(mnt) != std::string::npos) return true;
    }
    return false;
  };
  for (int i = 0; i < 1200 && (find_mount(mnt) || daemon_alive()); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_CHECK_MESSAGE(!daemon_alive(), "the daemon of " << mnt << " did not exit within 60 s of the unmount");
  unregister_mount(mnt);
}

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

meta::VolumeSettings settings_of(const std::string& meta_url) {
  auto m = meta::open_meta(meta_url, false);
  BOOST_REQUIRE_MESSAGE(m.ok(), m.msg());
  auto s = m.value->load_settings();
  BOOST_REQUIRE_MESSAGE(s.ok(), s.msg());
  return *s;
}

// Every byte of the SQLite database and its WAL.
std::string db_bytes(const Scratch& s, const std::string& name) {
  return slurp(s.file(name)) + slurp(s.file(name + "-wal"));
}

}  // namespace

BOOST_AUTO_TEST_CASE(format_with_a_wrong_secret_fails_clearly_and_creates_nothing) {
  Scratch s;
  const std::string bucket = new_bucket();
  // From the environment...
  RunResult r = cli({"format", s.url("meta.db"), "vol", "--storage", server().url(bucket)},
                    {"AWS_SECRET_ACCESS_KEY=" + std::string(kWrongSecret)});
  expect_failure(r, 3, {"authentication", "SignatureDoesNotMatch", "secret key", server().url(bucket)},
                 "format with a wrong secret in the environment");
  BOOST_CHECK_MESSAGE(!exists(s.file("meta.db")), "a failed format left meta.db behind");
  BOOST_CHECK_MESSAGE(!exists(server().data_dir() + "/" + bucket), "a failed format created the bucket");
  // ... and from the command line.
  r = cli({"format", s.url("meta.db"), "vol", "--storage", server().url(bucket), "--secret-key", kWrongSecret});
  expect_failure(r, 3, {"authentication", "SignatureDoesNotMatch"}, "format with a wrong --secret-key");
  BOOST_CHECK(!exists(s.file("meta.db")));
  // A wrong access key is named as such.
  r = cli({"format", s.url("meta.db"), "vol", "--storage", server().url(bucket), "--access-key", "NOBODY"});
  expect_failure(r, 3, {"authentication", "InvalidAccessKeyId", "access key"}, "format with a wrong access key");
  // No credentials at all.
  r = cli({"format", s.url("meta.db"), "vol", "--storage", server().url(bucket)}, kNoEnvCredentials);
  expect_failure(r, 3, {"no S3 credentials", "AWS_ACCESS_KEY_ID"}, "format without credentials");
  BOOST_CHECK(!exists(s.file("meta.db")));
  BOOST_CHECK(!exists(server().data_dir() + "/" + bucket));
  // The right secret works, and creates the bucket.
  r = cli({"format", s.url("meta.db"), "vol", "--storage", server().url(bucket)});
  BOOST_REQUIRE_MESSAGE(r.code() == 0, r.describe());
  BOOST_CHECK(exists(server().data_dir() + "/" + bucket));
  BOOST_CHECK_EQUAL(cli({"fsck", s.url("meta.db")}).code(), 0);
}

BOOST_AUTO_TEST_CASE(mount_and_fsck_with_a_wrong_secret_fail_before_mounting) {
  Scratch s;
  const std::string mnt = s.file("mnt");
  ::mkdir(mnt.c_str(), 0755);
  RunResult r = cli({"format", s.url("meta.db"), "vol", "--storage", server().url(new_bucket())});
  BOOST_REQUIRE_MESSAGE(r.code() == 0, r.describe());

  r = cli({"mount", s.url("meta.db"), mnt, "--foreground"}, {"AWS_SECRET_ACCESS_KEY=" + std::string(kWrongSecret)});
  expect_failure(r, 3, {"mount: ", "authentication", "SignatureDoesNotMatch"}, "mount with a wrong secret (env)");
  BOOST_CHECK(!find_mount(mnt));
  // Detached: the parent must report it too, not a child in the background.
  r = cli({"mount", s.url("meta.db"), mnt, "--secret-key", kWrongSecret});
  expect_failure(r, 3, {"authentication", "SignatureDoesNotMatch"}, "detached mount with a wrong --secret-key");
  BOOST_CHECK(!find_mount(mnt));
  r = cli({"mount", s.url("meta.db"), mnt, "--foreground"}, kNoEnvCredentials);
  expect_failure(r, 3, {"no S3 credentials"}, "mount without credentials");
  BOOST_CHECK(!find_mount(mnt));

  r = cli({"fsck", s.url("meta.db"), "--secret-key", kWrongSecret});
  expect_failure(r, 3, {"fsck: ", "authentication", "SignatureDoesNotMatch"}, "fsck with a wrong secret");
  BOOST_CHECK_EQUAL(cli({"fsck", s.url("meta.db")}).code(), 0);
}

BOOST_AUTO_TEST_CASE(credentials_are_stored_only_on_request) {
  Scratch s;
  const std::string mnt = s.file("mnt");
  ::mkdir(mnt.c_str(), 0755);
  // Default: nothing secret in the database, mount needs credentials.
  RunResult r = cli({"format", s.url("plain.db"), "plain", "--storage", server().url(new_bucket())});
  BOOST_REQUIRE_MESSAGE(r.code() == 0, r.describe());
  meta::VolumeSettings plain = settings_of(s.url("plain.db"));
  BOOST_TEST(plain.s3_access_key.empty());
  BOOST_TEST(plain.s3_secret_key.empty());
  BOOST_CHECK_MESSAGE(db_bytes(s, "plain.db").find(S3Server::kSecretKey) == std::string::npos,
                      "the secret is in the database without --store-secret-in-meta");
  expect_failure(cli({"fsck", s.url("plain.db")}, kNoEnvCredentials), 3, {"no S3 credentials"},
                 "fsck of a volume without stored credentials, none given");

  // --store-secret-in-meta with the credentials given as flags (none in the
  // environment): mount and fsck then need none.
  r = cli({"format", s.url("kept.db"), "kept", "--storage", server().url(new_bucket()), "--store-secret-in-meta",
           "--access-key", S3Server::kAccessKey, "--secret-key", S3Server::kSecretKey},
          kNoEnvCredentials);
  BOOST_REQUIRE_MESSAGE(r.code() == 0, r.describe());
  BOOST_CHECK_MESSAGE(r.out.find("stored in the volume settings") != std::string::npos, r.out);
  meta::VolumeSettings kept = settings_of(s.url("kept.db"));
  BOOST_TEST(kept.s3_access_key == S3Server::kAccessKey);
  BOOST_TEST(kept.s3_secret_key == S3Server::kSecretKey);
  r = cli({"fsck", s.url("kept.db")}, kNoEnvCredentials);
  BOOST_CHECK_MESSAGE(r.code() == 0, r.describe());
  r = cli({"mount", s.url("kept.db"), mnt}, kNoEnvCredentials);   // detached
  BOOST_REQUIRE_MESSAGE(r.code() == 0, r.describe());
  register_mount(mnt);
  write_file(mnt + "/f", "stored credentials work");
  unmount_detached(mnt);
  // A flag still beats the stored secret.
  expect_failure(cli({"fsck", s.url("kept.db"), "--secret-key", kWrongSecret}, kNoEnvCredentials), 3,
                 {"SignatureDoesNotMatch"}, "fsck with a wrong --secret-key over a stored one");
  // The unmount committed the file (fsck counts its block).
  r = cli({"fsck", s.url("kept.db"), "--check-data"}, kNoEnvCredentials);
  BOOST_CHECK_MESSAGE(r.code() == 0 && r.out.find("(1 blocks checked with data)") != std::string::npos,
                      r.describe());

  // Nothing to store: a clear usage error, nothing created.
  r = cli({"format", s.url("none.db"), "none", "--storage", server().url(new_bucket()), "--store-secret-in-meta"},
          kNoEnvCredentials);
  expect_failure(r, 2, {"--store-secret-in-meta", "no credentials"}, "--store-secret-in-meta without credentials");
  BOOST_CHECK(!exists(s.file("none.db")));
}

BOOST_AUTO_TEST_CASE(stored_options_make_mount_need_only_credentials) {
  Scratch s;
  const std::string bucket = new_bucket();
  RunResult r = cli({"format", s.url("meta.db"), "vol", "--storage", "s3://" + bucket, "--endpoint",
                     server().endpoint(), "--region", "eu-central-1"});
  BOOST_REQUIRE_MESSAGE(r.code() == 0, r.describe());
  BOOST_CHECK_MESSAGE(r.out.find("region eu-central-1") != std::string::npos, r.out);
  meta::VolumeSettings st = settings_of(s.url("meta.db"));
  BOOST_TEST(st.storage_url == "s3://" + bucket);
  BOOST_TEST(st.s3_endpoint == server().endpoint());
  BOOST_TEST(st.s3_region == "eu-central-1");
  BOOST_TEST(!st.s3_virtual_hosted);
  BOOST_TEST(st.s3_verify_tls);

  // fsck and mount need no store option: they come from the settings.
  BOOST_CHECK_EQUAL(cli({"fsck", s.url("meta.db")}).code(), 0);
  const std::string mnt = s.file("mnt");
  ::mkdir(mnt.c_str(), 0755);
  r = cli({"mount", s.url("meta.db"), mnt});   // detached
  BOOST_REQUIRE_MESSAGE(r.code() == 0, r.describe());
  register_mount(mnt);
  write_pattern_file(mnt + "/data", 7, 5u << 20);
  unmount_detached(mnt);
  r = cli({"fsck", s.url("meta.db"), "--check-data"});
  BOOST_CHECK_MESSAGE(r.code() == 0 && r.out.find("(2 blocks checked with data)") != std::string::npos,
                      r.describe());
  // A flag overrides a stored option: another endpoint, where nothing listens.
  // (--log-level error: the retries are logged as warnings before the error line.)
  r = cli({"fsck", s.url("meta.db"), "--log-level", "error", "--endpoint",
           "http://127.0.0.1:" + std::to_string(free_tcp_port())});
  expect_failure(r, 3, {"onnect"}, "fsck with an overriding endpoint where nothing listens");
}

BOOST_AUTO_TEST_CASE(format_refuses_a_bucket_holding_another_volume) {
  Scratch s;
  const std::string url = server().url(new_bucket());
  RunResult r = cli({"format", s.url("a.db"), "vola", "--storage", url});
  BOOST_REQUIRE_MESSAGE(r.code() == 0, r.describe());
  const meta::VolumeSettings a = settings_of(s.url("a.db"));

  // Another volume name, another database: refused, even with --force.
  for (bool force : {false, true}) {
    std::vector<std::string> args{"format", s.url("b.db"), "volb", "--storage", url};
    if (force) args.push_back("--force");
    r = cli(args);
    expect_failure(r, 3, {"already holds volume 'vola'", a.uuid}, force ? "other volume, --force" : "other volume");
    BOOST_CHECK_MESSAGE(!exists(s.file("b.db")), "a refused format left b.db behind");
  }
  // The same name from another database: refused without --force (its
  // blocks would be overwritten), allowed with it.
  r = cli({"format", s.url("c.db"), "vola", "--storage", url});
  expect_failure(r, 3, {"already holds volume 'vola'", "--force"}, "same name, another database");
  BOOST_CHECK(!exists(s.file("c.db")));
  BOOST_CHECK_EQUAL(cli({"fsck", s.url("a.db")}).code(), 0);   // untouched
  r = cli({"format", s.url("c.db"), "vola", "--storage", url, "--force"});
  BOOST_CHECK_MESSAGE(r.code() == 0, r.describe());
  const meta::VolumeSettings c = settings_of(s.url("c.db"));
  BOOST_TEST(c.uuid != a.uuid);

  // Re-formatting a database with --force replaces its own volume, whatever
  // the new name; the old objects stay and format says so.
  r = cli({"format", s.url("c.db"), "volc", "--storage", url, "--force"});
  BOOST_CHECK_MESSAGE(r.code() == 0, r.describe());
  BOOST_CHECK_MESSAGE(r.out.find("replaced volume 'vola'") != std::string::npos, r.out);
  // The bucket now holds 'volc' and the left-over 'vola', which no database
  // claims: a new volume is refused, with or without --force.
  r = cli({"format", s.url("d.db"), "vold", "--storage", url, "--force"});
  expect_failure(r, 3, {"already holds volume"}, "bucket with two volumes");
}

BOOST_AUTO_TEST_CASE(secrets_stay_out_of_ps_and_logs) {
  Scratch s;
  RunResult r = cli({"format", s.url("meta.db"), "vol", "--storage", server().url(new_bucket()), "--log-level",
                     "trace"});
  BOOST_REQUIRE_MESSAGE(r.code() == 0, r.describe());
  BOOST_CHECK_MESSAGE(r.output().find("Signature=") == std::string::npos, "a signature was logged:\n" << r.output());

  // A wrong secret at trace level: neither the message nor any log line shows it.
  r = cli({"fsck", s.url("meta.db"), "--log-level", "trace", "--secret-key", kWrongSecret});
  BOOST_CHECK_EQUAL(r.code(), 3);
  BOOST_CHECK_MESSAGE(r.output().find(kWrongSecret) == std::string::npos, "the secret was printed:\n" << r.output());

  // Given as flags, the credentials disappear from /proc/PID/cmdline (what
  // ps shows) once the daemon has parsed them.
  const std::string mnt = s.file("mnt");
  ::mkdir(mnt.c_str(), 0755);
  const std::string log = s.file("daemon.log");
  Child d({"env", "-u", "AWS_ACCESS_KEY_ID", "-u", "AWS_SECRET_ACCESS_KEY", MountFixture::daemon_path(), "mount",
           s.url("meta.db"), mnt, "--foreground", "--log-level", "trace", "--access-key", S3Server::kAccessKey,
           "--secret-key=" + std::string(S3Server::kSecretKey)},
          log, log);
  register_mount(mnt);
  for (int i = 0; i < 400 && !find_mount(mnt) && d.running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  BOOST_REQUIRE_MESSAGE(find_mount(mnt), "the mount did not appear:\n" << slurp(log));
  std::string cmdline = slurp("/proc/" + std::to_string(d.pid()) + "/cmdline");
  for (auto& c : cmdline)
    if (c == '\0') c = ' ';
  BOOST_CHECK_MESSAGE(cmdline.find("mount") != std::string::npos, "not the daemon's command line: " << cmdline);
  BOOST_CHECK_MESSAGE(cmdline.find(S3Server::kSecretKey) == std::string::npos,
                      "ps still shows the credentials: " << cmdline);
  write_file(mnt + "/f", "x");
  BOOST_CHECK_EQUAL(run({"fusermount3", "-u", mnt}).code(), 0);
  auto st = d.wait_for(milliseconds(60000));
  BOOST_CHECK(st && st->exited && st->code == 0);
  unregister_mount(mnt);
  const std::string logged = slurp(log);
  BOOST_CHECK_MESSAGE(logged.find("Signature=") == std::string::npos, "a signature was logged");
  // S3RVER is both the access key and the secret of the test server; an
  // access key id is not secret, but nothing logs either.
  BOOST_CHECK_MESSAGE(logged.find(S3Server::kSecretKey) == std::string::npos,
                      "the daemon logged the credentials:\n" << logged.substr(0, 4000));
}

BOOST_AUTO_TEST_CASE(tls_is_verified_unless_disabled_loudly) {
  S3Server tls("s3l-tls-0", true);
  Scratch s;
  // Self-signed: refused by default, with a reason.
  RunResult r = cli({"format", s.url("meta.db"), "vol", "--storage", tls.url("s3l-tls-1")});
  expect_failure(r, 3, {"certificate"}, "format against a self-signed server");
  BOOST_CHECK(!exists(s.file("meta.db")));
  // Trusted with --ca-file: works, and the CA file is remembered.
  r = cli({"format", s.url("ca.db"), "vol", "--storage", tls.url("s3l-tls-1"), "--ca-file", tls.ca_file()});
  BOOST_REQUIRE_MESSAGE(r.code() == 0, r.describe());
  BOOST_TEST(settings_of(s.url("ca.db")).s3_ca_file == tls.ca_file());
  BOOST_CHECK_MESSAGE(cli({"fsck", s.url("ca.db")}).code() == 0, "fsck with the stored CA file");
  // --no-verify-tls: works, warns exactly once, and is stored.
  r = cli({"format", s.url("insecure.db"), "vol", "--storage", tls.url("s3l-tls-2"), "--no-verify-tls"});
  BOOST_REQUIRE_MESSAGE(r.code() == 0, r.describe());
  size_t warnings = 0;
  for (size_t p = r.err.find("DISABLED"); p != std::string::npos; p = r.err.find("DISABLED", p + 1)) ++warnings;
  BOOST_CHECK_MESSAGE(warnings == 1, "expected one TLS warning line, got " << warnings << ":\n" << r.err);
  BOOST_CHECK_MESSAGE(r.out.find("TLS NOT VERIFIED") != std::string::npos, r.out);
  BOOST_TEST(!settings_of(s.url("insecure.db")).s3_verify_tls);
  r = cli({"fsck", s.url("insecure.db")});
  BOOST_CHECK_MESSAGE(r.code() == 0 && r.err.find("DISABLED") != std::string::npos, r.describe());
  // ... until a flag turns verification back on.
  r = cli({"fsck", s.url("insecure.db"), "--no-verify-tls=false"});
  expect_failure(r, 3, {"certificate"}, "fsck with verification turned back on");
}

BOOST_AUTO_TEST_CASE(s3_options_on_other_storage_are_usage_errors) {
  Scratch s;
  const std::string objects = "file://" + s.dir + "/objects";
  RunResult r = cli({"format", s.url("meta.db"), "vol", "--storage", objects, "--region", "eu-west-1"});
  expect_failure(r, 2, {"--region", "do not apply"}, "--region with file:// storage");
  r = cli({"format", s.url("meta.db"), "vol", "--storage", objects, "--store-secret-in-meta"});
  expect_failure(r, 2, {"--store-secret-in-meta"}, "--store-secret-in-meta with file:// storage");
  r = cli({"format", s.url("meta.db"), "vol", "--storage", server().url(new_bucket()), "--endpoint",
           server().endpoint()});
  expect_failure(r, 2, {"endpoint", "s3://BUCKET"}, "--endpoint with an http:// storage URL");
  r = cli({"format", s.url("meta.db"), "vol", "--storage", "http://127.0.0.1:1"});
  expect_failure(r, 2, {"names no bucket"}, "storage URL without a bucket");
  BOOST_CHECK(!exists(s.file("meta.db")));
  r = cli({"format", s.url("meta.db"), "vol", "--storage", objects});
  BOOST_REQUIRE_MESSAGE(r.code() == 0, r.describe());
  r = cli({"fsck", s.url("meta.db"), "--endpoint", server().endpoint()});
  expect_failure(r, 2, {"--endpoint", "do not apply"}, "fsck --endpoint on a file:// volume");
}
