// Help text, generated from the option tables so that the options and the
// defaults shown are always the ones the parser uses.
#include <sstream>

#include "config/cli.hpp"
#include "config/option_table.hpp"

namespace s3l::config {
namespace {

constexpr size_t kColumn = 30;   // where descriptions start

void row(std::ostringstream& out, const std::string& left, const std::string& right) {
  out << "  " << left;
  if (left.size() + 2 < kColumn) out << std::string(kColumn - 2 - left.size(), ' ');
  else out << "\n" << std::string(kColumn, ' ');
  out << right << "\n";
}

std::string option_left(const OptionSpec& o) {
  std::string s = o.short_name ? std::string("-") + o.short_name + ", " : "";
  s += "--" + o.name;
  if (!o.is_flag) s += " " + o.value_name;
  return s;
}

void common_rows(std::ostringstream& out, bool with_version) {
  CommonOptions defaults;
  for (const auto& o : common_options(defaults)) row(out, option_left(o), o.help + " (default: " + o.show() + ")");
  row(out, "-h, --help", "show this help and exit");
  if (with_version) row(out, "--version", "print the version and exit");
}

const char* const kExitCodes =
    "Exit codes: 0 success, 1 fsck found problems or gc found leaked objects (not deleted),\n"
    "2 usage or configuration error, 3 runtime failure (database, store, mount).\n";

}  // namespace

std::string help_text(Command c) {
  std::ostringstream out;
  if (c == Command::none) {
    out << "Usage: s3layerfs-daemon <command> [options] [arguments]\n"
           "       s3layerfs-daemon --help | --version\n\n"
           "S3LayerFS: a POSIX filesystem keeping file data as immutable blocks in an object store\n"
           "and metadata in an SQL database.\n\nCommands:\n";
    for (Command k : {Command::format, Command::mount, Command::fsck, Command::gc, Command::status, Command::shell,
                      Command::gc_node, Command::upgrade})
      row(out, command_name(k), command_summary(k));
    out << "\nCommon options (accepted by every command, before or after it):\n";
    common_rows(out, true);
    out << "\n" << kExitCodes << "Run 's3layerfs-daemon <command> --help' for the options of a command.\n";
    return out.str();
  }
  if (!command_implemented(c)) {
    out << "Usage: s3layerfs-daemon " << command_name(c) << "\n\n" << command_summary(c) << "\n";
    return out.str();
  }

  Invocation defaults;
  CommandSpec spec = command_spec(c, defaults);
  const std::string cmd = command_name(c);
  out << "Usage: s3layerfs-daemon " << spec.usage << "\n\n" << spec.description << "\n\n";
  out << "Arguments (may instead be given as keys in [" << cmd << "] of the config file):\n";
  for (const auto& k : spec.positionals)
    for (const auto& o : spec.options)
      if (o.name == k) row(out, positional_display(k), o.help);
  out << "\nOptions (config-file keys have the same names, without --):\n";
  for (const auto& o : spec.options) {
    if (!o.on_cli) continue;
    bool required = false;
    for (const auto& r : spec.required) required |= (r == o.name);
    row(out, option_left(o), o.help + (required ? "" : " (default: " + o.show() + ")"));
  }
  out << "\nCommon options:\n";
  common_rows(out, false);
  std::string flag;
  bool sizes = false;
  for (const auto& o : spec.options) {
    if (o.is_flag && flag.empty()) flag = o.name;
    sizes |= (o.value_name == "SIZE");
  }
  out << "\n";
  if (sizes) out << "Sizes: 4096, 64K, 4M, 1G, 1T (binary units, optional B or iB suffix).\n";
  out << "A flag also takes an explicit value, to override the config file: --" << flag << "=false.\n"
      << kExitCodes;
  return out.str();
}

}  // namespace s3l::config
