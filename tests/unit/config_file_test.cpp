// The config file (--config FILE): every option from the file, command-line
// overrides, positionals from the file, and errors naming file:line and key.
#define BOOST_TEST_MODULE config_file
#include <boost/test/unit_test.hpp>

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config/cli.hpp"
#include "config/ini.hpp"

using namespace s3l::config;
namespace fs = std::filesystem;

namespace {

// A fresh temporary directory per test case, removed afterwards.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/s3l-config-test-XXXXXX";
    BOOST_REQUIRE(mkdtemp(tmpl));
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text) {
    std::string p = path + "/" + name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
};

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

// The example of the contract (docs/configuration.md), with every option.
const char* const kFull = R"(# S3LayerFS configuration
[common]
log-level = info

[format]
meta-url = sqlite3:///var/lib/s3l/meta.db
name = vol1
storage = file:///var/lib/s3l/objects
block-size = 1M
force = yes

; mount options
[mount]
meta-url = sqlite3:///var/lib/s3l/meta.db
mountpoint = /mnt/s3l
foreground = true
cache-dir = /var/cache/s3l
cache-size = 20G
buffer-size = 1G
max-uploads = 64
fuse-threads = 8
attr-timeout = 0.5
entry-timeout = 2
allow-other = true
no-default-permissions = 1
readahead = 4

[fsck]
meta-url = sqlite3:///var/lib/s3l/fsck.db
check-data = TRUE
)";

}  // namespace

BOOST_AUTO_TEST_CASE(every_mount_option_from_file) {
  TempDir d;
  auto r = parse({"mount", "--config", d.write("s3l.conf", kFull)});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  const MountOptions& m = r->mount;
  BOOST_TEST(m.meta_url == "sqlite3:///var/lib/s3l/meta.db");
  BOOST_TEST(m.mountpoint == "/mnt/s3l");
  BOOST_TEST(m.foreground);
  BOOST_TEST(m.cache_dir == "/var/cache/s3l");
  BOOST_TEST(m.cache_size == 20ull << 30);
  BOOST_TEST(m.buffer_size == 1ull << 30);
  BOOST_TEST(m.max_uploads == 64u);
  BOOST_TEST(m.fuse_threads == 8u);
  BOOST_TEST(m.attr_timeout == 0.5);
  BOOST_TEST(m.entry_timeout == 2.0);
  BOOST_TEST(m.allow_other);
  BOOST_TEST(!m.default_permissions);
  BOOST_TEST(m.readahead_blocks == 4u);
  BOOST_TEST(m.common.log_level == "info");   // from [common]
  BOOST_TEST(m.common.config_file == d.path + "/s3l.conf");
}

BOOST_AUTO_TEST_CASE(every_format_and_fsck_option_from_file) {
  TempDir d;
  std::string conf = d.write("s3l.conf", kFull);
  auto r = parse({"format", "--config", conf});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->format.meta_url == "sqlite3:///var/lib/s3l/meta.db");
  BOOST_TEST(r->format.name == "vol1");
  BOOST_TEST(r->format.storage == "file:///var/lib/s3l/objects");
  BOOST_TEST(r->format.block_size == 1ull << 20);
  BOOST_TEST(r->format.force);
  BOOST_TEST(r->format.common.log_level == "info");
  // Only the command's own section applies: mount's settings do not leak into format.
  BOOST_TEST(r->mount.mountpoint.empty());

  r = parse({"fsck", "--config", conf});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->fsck.meta_url == "sqlite3:///var/lib/s3l/fsck.db");
  BOOST_TEST(r->fsck.check_data);
}

BOOST_AUTO_TEST_CASE(command_line_overrides_file) {
  TempDir d;
  std::string conf = d.write("s3l.conf", kFull);
  auto r = parse({"mount", "--buffer-size", "64M", "--config", conf, "--foreground=false", "--log-level", "error",
                  "--no-default-permissions=false", "--readahead=0", "sqlite3:///other.db", "/mnt/other"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->mount.buffer_size == 64ull << 20);   // given before --config, still wins
  BOOST_TEST(!r->mount.foreground);
  BOOST_TEST(r->mount.default_permissions);
  BOOST_TEST(r->mount.readahead_blocks == 0u);
  BOOST_TEST(r->mount.common.log_level == "error");
  BOOST_TEST(r->mount.meta_url == "sqlite3:///other.db");   // both positionals given: they override
  BOOST_TEST(r->mount.mountpoint == "/mnt/other");
  BOOST_TEST(r->mount.max_uploads == 64u);                  // untouched: from the file

  // --config before the command works too.
  r = parse({"--config", conf, "fsck", "--log-level=trace"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->fsck.check_data);
  BOOST_TEST(r->fsck.common.log_level == "trace");
}

BOOST_AUTO_TEST_CASE(section_log_level_overrides_common) {
  TempDir d;
  auto r = parse({"fsck", "--config",
                  d.write("c", "[fsck]\nlog-level = debug\nmeta-url = sqlite3:///m.db\n[common]\nlog-level = off\n")});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->fsck.common.log_level == "debug");   // [fsck] beats [common] whatever their order
}

BOOST_AUTO_TEST_CASE(positionals_from_file) {
  TempDir d;
  // The file gives meta-url only: the one command-line positional is the mountpoint.
  std::string conf = d.write("a", "[mount]\nmeta-url = sqlite3:///m.db\n");
  auto r = parse({"mount", "--config", conf, "/mnt/x"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->mount.meta_url == "sqlite3:///m.db");
  BOOST_TEST(r->mount.mountpoint == "/mnt/x");
  BOOST_TEST(contains(error_of({"mount", "--config", conf}), "mount: missing MOUNTPOINT argument"));

  // The file gives the mountpoint only: the one positional is the META-URL.
  conf = d.write("b", "[mount]\nmountpoint = /mnt/y\n");
  r = parse({"mount", "sqlite3:///n.db", "--config", conf});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->mount.meta_url == "sqlite3:///n.db");
  BOOST_TEST(r->mount.mountpoint == "/mnt/y");

  // Both from the file, none on the command line.
  conf = d.write("c", "[format]\nmeta-url = sqlite3:///m.db\nname = v\nstorage = file:///o\n");
  r = parse({"format", "--config", conf});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->format.name == "v");
}

// gc-node is meant to run from a config file alone: `gc-node --config FILE`.
BOOST_AUTO_TEST_CASE(gc_node_from_config_file) {
  TempDir d;
  std::string conf = d.write("gc", "[common]\nlog-level = info\n[gc-node]\nmeta-url = sqlite3:///m.db\n"
                                   "listen = 10.0.0.5:7421\nheartbeat = 3\ncompact-threshold = 50\n"
                                   "compact-interval = 30\nmeta-conns = 6\n");
  auto r = parse({"gc-node", "--config", conf});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  const auto& g = r->gc_node;
  BOOST_TEST(g.meta_url == "sqlite3:///m.db");
  BOOST_TEST(g.listen == "10.0.0.5:7421");
  BOOST_TEST(g.heartbeat_s == 3u);
  BOOST_TEST(g.compact_threshold == 50u);
  BOOST_TEST(g.compact_interval_s == 30u);
  BOOST_TEST(g.meta_conns == 6u);
  BOOST_TEST(g.common.log_level == "info");
  // The command line overrides the file.
  r = parse({"gc-node", "--config", conf, "--listen", "127.0.0.1:0"});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->gc_node.listen == "127.0.0.1:0");
  // Mistakes in the file name the line.
  conf = d.write("bad", "[gc-node]\nmeta-url = sqlite3:///m.db\nlisten = 127.0.0.1\n");
  BOOST_TEST(contains(error_of({"gc-node", "--config", conf}), "bad:3: [gc-node] listen: bad address '127.0.0.1'"));
  conf = d.write("nourl", "[gc-node]\nlisten = 127.0.0.1:1\n");
  BOOST_TEST(contains(error_of({"gc-node", "--config", conf}), "gc-node: missing META-URL argument"));
}

BOOST_AUTO_TEST_CASE(duplicate_positional_is_refused) {
  TempDir d;
  // The file sets both; one positional on the command line is ambiguous.
  std::string conf = d.write("a", "[mount]\nmeta-url = sqlite3:///m.db\nmountpoint = /mnt/x\n");
  std::string e = error_of({"mount", "--config", conf, "/mnt/z"});
  BOOST_TEST(contains(e, "mount: 1 argument(s) given but the config file already sets meta-url, mountpoint"));
  // Too many positionals, file or not.
  BOOST_TEST(contains(error_of({"mount", "--config", conf, "sqlite3:///a", "/b", "/c"}), "unexpected argument '/c' for mount"));
  // The same key twice in a section.
  conf = d.write("b", "[fsck]\nmeta-url = sqlite3:///a\nmeta-url = sqlite3:///b\n");
  BOOST_TEST(contains(error_of({"fsck", "--config", conf}), conf + ":3: key 'meta-url' appears twice in [fsck] (first at line 2)"));
  // The same section twice.
  conf = d.write("c", "[fsck]\nmeta-url = sqlite3:///a\n[fsck]\ncheck-data = 1\n");
  BOOST_TEST(contains(error_of({"fsck", "--config", conf}), conf + ":3: section [fsck] appears twice"));
}

BOOST_AUTO_TEST_CASE(syntax) {
  TempDir d;
  // Comments, blank lines, CRLF, spaces, inline comments and quoted values.
  std::string conf = d.write("a",
                             "  # comment\r\n; another\r\n\r\n  [ mount ]   # trailing comment\r\n"
                             "meta-url=sqlite3:///m.db\r\n"
                             "\tmountpoint   =   \"/mnt/with # hash\"   ; why not\r\n"
                             "buffer-size = 32M # inline comment\r\n"
                             "cache-dir = /var/cache/a#b\r\n");
  auto r = parse({"mount", "--config", conf});
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_TEST(r->mount.meta_url == "sqlite3:///m.db");
  BOOST_TEST(r->mount.mountpoint == "/mnt/with # hash");
  BOOST_TEST(r->mount.buffer_size == 32ull << 20);
  BOOST_TEST(r->mount.cache_dir == "/var/cache/a#b");   // '#' without a space before it is data
  // An empty file and a file without the command's section are fine.
  r = parse({"fsck", "sqlite3:///m.db", "--config", d.write("empty", "")});
  BOOST_TEST(r.ok());
  r = parse({"fsck", "sqlite3:///m.db", "--config", d.write("other", "[mount]\nforeground = 1\n")});
  BOOST_TEST(r.ok());
  BOOST_TEST(!r->mount.foreground);
}

BOOST_AUTO_TEST_CASE(errors_name_file_line_and_key) {
  TempDir d;
  struct Case {
    std::string text;
    const char* expect;   // after "<path>:"
  } cases[] = {
      {"[mount]\nbuffer-sise = 1G\n", "2: unknown key 'buffer-sise' in [mount]"},
      {"[mount]\nstorage = file:///o\n", "2: unknown key 'storage' in [mount] (it belongs in [format])"},
      {"[common]\nmeta-url = sqlite3:///m\n", "2: unknown key 'meta-url' in [common] (it belongs in [format] or [mount] or [fsck] or [gc] or [gc-node])"},
      {"[common]\nconfig = /x\n", "2: unknown key 'config' in [common]"},
      {"[mount]\nhelp = true\n", "2: unknown key 'help' in [mount]"},
      {"[mnt]\nforeground = 1\n", "1: unknown section [mnt] (expected [common], [format], [mount], [fsck], [gc], [gc-node], [shell] or [status])"},
      {"[gcnode]\n", "1: unknown section [gcnode]"},
      {"# c\n\n[mount]\nforeground\n", "4: malformed line 'foreground' (expected key = value or [section])"},
      {"[mount\n", "1: malformed section header '[mount'"},
      {"[mount] x\n", "1: malformed section header"},
      {"[]\n", "1: empty section name"},
      {"[mount]\n= 3\n", "2: malformed line '= 3': no key before '='"},
      {"foreground = 1\n", "1: key 'foreground' outside of any section"},
      {"[mount]\nmax-uploads = ten\n", "2: [mount] max-uploads: bad number 'ten'"},
      {"[mount]\nmax-uploads = 0\n", "2: [mount] max-uploads: must be in [1, 256], got 0"},
      {"[mount]\nfuse-threads = 3.5\n", "2: [mount] fuse-threads: bad number '3.5'"},
      {"[mount]\nattr-timeout = soon\n", "2: [mount] attr-timeout: bad number of seconds 'soon'"},
      {"[mount]\nbuffer-size = 1X\n", "2: [mount] buffer-size: bad size '1X'"},
      {"[mount]\nbuffer-size = 1M\n", "2: [mount] buffer-size: must be between 16M and 1T, got 1M"},
      {"[mount]\nallow-other = maybe\n", "2: [mount] allow-other: bad boolean 'maybe'"},
      {"[mount]\nforeground = on\n", "2: [mount] foreground: bad boolean 'on'"},
      {"[mount]\ncache-dir =\n", "2: key 'cache-dir' has an empty value"},
      {"[mount]\ncache-dir = \"/x\n", "2: key 'cache-dir': missing closing quote"},
      {"[mount]\ncache-dir = \"/x\" y\n", "2: key 'cache-dir': unexpected text after the closing quote"},
      {"[common]\nlog-level = chatty\n", "2: [common] log-level: bad log level 'chatty'"},
      {"[mount]\nlog-level = chatty\n", "2: [mount] log-level: bad log level 'chatty'"},
      // Sections of other commands are checked too: a typo anywhere is reported.
      {"[format]\nblock-size = 3M\n[mount]\n", "2: [format] block-size: must be a power of two"},
      {"[fsck]\ncheck-data = perhaps\n", "2: [fsck] check-data: bad boolean 'perhaps'"},
      {"[format]\nname = v@l\n", "2: [format] name: bad volume name 'v@l'"},
      {"[format]\nstorage = file://rel\n", "2: [format] storage: storage URL 'file://rel' needs an absolute directory"},
      {std::string("[mount]\nforeground = 1\0\n", 24), "2: NUL byte in line"},
  };
  int n = 0;
  for (const auto& c : cases) {
    std::string conf = d.write("c" + std::to_string(n++), c.text);
    std::string e = error_of({"mount", "sqlite3:///m.db", "/mnt/x", "--config", conf});
    BOOST_TEST_INFO(c.text);
    BOOST_TEST(contains(e, conf + ":" + c.expect));
  }
}

BOOST_AUTO_TEST_CASE(file_errors) {
  TempDir d;
  // Missing file.
  std::string e = error_of({"fsck", "sqlite3:///m", "--config", d.path + "/nope.conf"});
  BOOST_TEST(e == "cannot read config file " + d.path + "/nope.conf: No such file or directory");
  // Unreadable: a directory opens but cannot be read.
  e = error_of({"fsck", "sqlite3:///m", "--config", d.path});
  BOOST_TEST(e == "cannot read config file " + d.path + ": Is a directory");
  // Too large (e.g. /dev/zero by mistake) is refused instead of read forever.
  e = error_of({"fsck", "sqlite3:///m", "--config", "/dev/zero"});
  BOOST_TEST(contains(e, "cannot read config file /dev/zero: larger than"));
  // --config without a value, or with an empty one.
  BOOST_TEST(error_of({"fsck", "sqlite3:///m", "--config"}) == "option --config needs a value (FILE)");
  BOOST_TEST(contains(error_of({"fsck", "sqlite3:///m", "--config="}), "--config: empty value"));
}

BOOST_AUTO_TEST_CASE(help_ignores_a_broken_file) {
  TempDir d;
  auto r = parse({"mount", "--config", d.write("bad", "[mnt]\n"), "--help"});
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r->help);
}

BOOST_AUTO_TEST_CASE(ini_reader_keeps_order_and_lines) {
  auto r = parse_ini("x.conf", "[b]\nk1 = v1\n\n[a]\nk2 = \"  spaced  \"\n");
  BOOST_REQUIRE_MESSAGE(r.ok(), r.msg());
  BOOST_REQUIRE(r->sections.size() == 2u);
  BOOST_TEST(r->sections[0].name == "b");
  BOOST_TEST(r->sections[0].line == 1);
  BOOST_TEST(r->sections[0].entries[0].key == "k1");
  BOOST_TEST(r->sections[0].entries[0].line == 2);
  BOOST_TEST(r->sections[1].line == 4);
  BOOST_TEST(r->sections[1].entries[0].value == "  spaced  ");
  BOOST_TEST(r->sections[1].entries[0].line == 5);
}
