// Internal: the options of each command as a table bound to an Invocation.
// The parser (cli.cpp) and the help text (help.cpp) both read these tables, so
// every option, its config-file key, its validation and its shown default are
// defined exactly once.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "config/cli.hpp"

namespace s3l::config {

struct OptionSpec {
  std::string name;          // long option name (--name) and config-file key
  char short_name = 0;       // e.g. 'f' for -f; 0 = none
  bool is_flag = false;      // CLI: --name means true, --name=BOOL is explicit; file: key = BOOL
  bool on_cli = true;        // false for positional arguments (only their file key is an option)
  bool in_file = true;       // false for --config
  std::string value_name;    // for help: SIZE, N, URL, ...
  std::string help;
  std::function<Status(const std::string&)> set;   // validate and store (value is never empty)
  std::function<std::string()> show;               // the current value, shown as the default in help
};

struct CommandSpec {
  Command command = Command::none;
  std::string usage;                    // e.g. "mount <META-URL> <MOUNTPOINT> [options]"
  std::string summary;                  // one line for the command list
  std::string description;              // a few lines for `<command> --help`
  std::vector<std::string> positionals; // keys in order, e.g. {"meta-url", "mountpoint"}
  std::vector<std::string> required;    // options that must be given, e.g. {"storage"}
  std::vector<OptionSpec> options;      // includes the positionals (on_cli = false)
};

// --config and --log-level (--help is handled by the parser itself).
std::vector<OptionSpec> common_options(CommonOptions& common);

// The table of a command whose options exist (command_implemented(c)).
CommandSpec command_spec(Command c, Invocation& inv);

// Help line for an unimplemented command.
std::string command_summary(Command c);

// "meta-url" -> "META-URL", the name positionals have in usage and messages.
std::string positional_display(const std::string& key);

// Parses a command word ("gc-node" -> gc_node); false if unknown.
bool parse_command(const std::string& word, Command& out);

}  // namespace s3l::config
