// The command line and config file of s3layerfs-daemon (contract:
// docs/configuration.md). A strict parser: every unknown option, key or
// section and every bad value is an error, never silently ignored.
#pragma once
#include <string>

#include "config/options.hpp"
#include "util/result.hpp"

namespace s3l::config {

enum class Command { none, format, mount, fsck, gc, status, shell, gc_node, upgrade };

// "format", "mount", ..., "gc-node"; "" for none.
const char* command_name(Command c);

// True for commands whose options exist (format, mount, fsck); the others
// are parsed only as far as the command word and --help.
bool command_implemented(Command c);

struct Invocation {
  Command command = Command::none;
  bool help = false;        // --help/-h given: print help_text(command), exit 0
  bool version = false;     // --version given (only without a command)
  CommonOptions common;     // log level and config file, whatever the command
  FormatOptions format;     // the one matching `command` is filled
  MountOptions mount;
  FsckOptions fsck;
  GcOptions gc;
  UpgradeOptions upgrade;
  GcNodeOptions gc_node;
  ShellOptions shell;
  StatusOptions status;
};

// Parses argv (argv[0] is the program name). Applies, in order: defaults,
// [common] then [<command>] of --config FILE, then the command-line options.
// Every failure is a usage or configuration error (exit code 2): status.err is
// EINVAL and status.msg one line without the "s3layerfs-daemon: " prefix.
Result<Invocation> parse_command_line(int argc, const char* const* argv);

// Usage plus every option with its default, for the binary (none) and each command.
std::string help_text(Command c);

}  // namespace s3l::config
