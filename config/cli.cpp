#include "config/cli.hpp"

#include <cctype>
#include <set>

#include "config/ini.hpp"
#include "config/option_table.hpp"

namespace s3l::config {
namespace {

Status usage(std::string msg) { return Status::Error(EINVAL, std::move(msg)); }

struct Assignment {
  const OptionSpec* spec;
  std::string value;
  std::string shown;   // how the user spelled it, for messages: "--block-size", "-f"
};

// The tables one parse consults: command options first, then the common ones.
struct Tables {
  std::vector<const std::vector<OptionSpec>*> lists;
  const OptionSpec* find_long(const std::string& name, bool cli) const {
    for (auto* l : lists)
      for (const auto& o : *l)
        if (o.name == name && (cli ? o.on_cli : o.in_file)) return &o;
    return nullptr;
  }
  const OptionSpec* find_short(char c) const {
    for (auto* l : lists)
      for (const auto& o : *l)
        if (o.short_name == c && o.on_cli) return &o;
    return nullptr;
  }
};

bool is_option(const std::string& a) { return a.size() > 1 && a[0] == '-'; }

// "-1" and "-.5" after an option are (bad) values, not options: the setter
// then says "must be >= 0" instead of "needs a value".
bool is_option_not_number(const std::string& a) {
  return is_option(a) && !std::isdigit(static_cast<unsigned char>(a[1])) && a[1] != '.';
}

// Parses the option at args[i] (advancing i past its value).
// `where` completes "unknown option --x" (e.g. " for mount").
Result<Assignment> parse_option(const std::vector<std::string>& args, size_t& i, const Tables& t,
                                const std::string& where) {
  const std::string& a = args[i];
  const OptionSpec* spec = nullptr;
  std::string shown = a, value;
  bool has_value = false;
  if (a.compare(0, 2, "--") == 0) {
    auto eq = a.find('=');
    shown = a.substr(0, eq);
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
      has_value = true;
    }
    spec = t.find_long(shown.substr(2), true);
  } else if (a.size() == 2) {
    spec = t.find_short(a[1]);
  }
  if (!spec) return usage("unknown option " + shown + where);
  if (spec->is_flag) {
    if (!has_value) value = "true";   // --flag alone; --flag=BOOL is the explicit form
  } else if (!has_value) {
    if (i + 1 >= args.size() || is_option_not_number(args[i + 1]))
      return usage("option " + shown + " needs a value (" + spec->value_name + ")");
    value = args[++i];
  }
  return Assignment{spec, value, shown};
}

Status apply(const OptionSpec& spec, const std::string& value, const std::string& context) {
  if (value.empty()) return usage(context + ": empty value");
  Status st = spec.set(value);
  if (!st.ok()) return usage(context + ": " + st.msg);
  return Status::Ok();
}

// Which command sections know `key`, for the hint after "unknown key".
std::string key_hint(const std::string& key, const std::string& section) {
  std::string owners;
  for (Command c : {Command::format, Command::mount, Command::fsck, Command::gc, Command::gc_node}) {
    Invocation scratch;
    CommandSpec s = command_spec(c, scratch);
    for (const auto& o : s.options)
      if (o.name == key && section != command_name(c)) owners += std::string(owners.empty() ? "" : " or ") + "[" + command_name(c) + "]";
  }
  return owners.empty() ? "" : " (it belongs in " + owners + ")";
}

// Applies one section to `t`'s options. Keys set are added to `set_keys`.
Status apply_section(const IniFile& file, const IniSection& sec, const Tables& t, std::set<std::string>* set_keys) {
  for (const auto& e : sec.entries) {
    std::string where = file.path + ":" + std::to_string(e.line) + ": ";
    const OptionSpec* spec = t.find_long(e.key, false);
    if (!spec) return usage(where + "unknown key '" + e.key + "' in [" + sec.name + "]" + key_hint(e.key, sec.name));
    Status st = apply(*spec, e.value, where + "[" + sec.name + "] " + e.key);
    if (!st.ok()) return st;
    if (set_keys) set_keys->insert(e.key);
  }
  return Status::Ok();
}

// Applies [common] and the section of `inv.command`; every other section is
// checked against a scratch Invocation so that a typo anywhere is reported.
Status apply_file(const IniFile& file, Invocation& inv, const Tables& cmd_tables, std::set<std::string>& set_keys) {
  const IniSection* mine = nullptr;
  for (const auto& sec : file.sections) {
    Command c = Command::none;
    if (sec.name == "common") continue;   // applied below, before the command's section
    if (!parse_command(sec.name, c) || !command_implemented(c))
      return usage(file.path + ":" + std::to_string(sec.line) + ": unknown section [" + sec.name +
                   "] (expected [common], [format], [mount], [fsck], [gc], [gc-node], [shell] or [status])");
    if (c == inv.command) {
      mine = &sec;
      continue;
    }
    Invocation scratch;
    CommandSpec spec = command_spec(c, scratch);
    auto common = common_options(scratch.common);
    Status st = apply_section(file, sec, Tables{{&spec.options, &common}}, nullptr);
    if (!st.ok()) return st;
  }
  auto common = common_options(inv.common);
  for (const auto& sec : file.sections)
    if (sec.name == "common") {
      Status st = apply_section(file, sec, Tables{{&common}}, nullptr);
      if (!st.ok()) return st;
    }
  if (mine) return apply_section(file, *mine, cmd_tables, &set_keys);
  return Status::Ok();
}

// Places the command-line positionals. All of them given: they override the
// file. Fewer: they fill, in order, the ones the file did not set; anything
// else would be ambiguous and is refused.
Status apply_positionals(const CommandSpec& spec, const std::vector<std::string>& given, const Tables& t,
                         std::set<std::string>& set_keys) {
  const std::string cmd = command_name(spec.command);
  const size_t n = spec.positionals.size();
  std::string all;
  for (const auto& k : spec.positionals) all += " " + positional_display(k);
  if (given.size() > n)
    return usage("unexpected argument '" + given[n] + "' for " + cmd + " (usage: " + cmd + all + " [options])");
  std::vector<std::string> targets;
  if (given.size() == n) {
    targets = spec.positionals;
  } else {
    std::vector<std::string> missing;
    for (const auto& k : spec.positionals)
      if (!set_keys.count(k)) missing.push_back(k);
    if (given.size() > missing.size()) {
      std::string from_file;
      for (const auto& k : spec.positionals)
        if (set_keys.count(k)) from_file += std::string(from_file.empty() ? "" : ", ") + k;
      return usage(cmd + ": " + std::to_string(given.size()) + " argument(s) given but the config file already sets " +
                   from_file + "; give all of" + all + " on the command line, or only the ones the file lacks");
    }
    targets.assign(missing.begin(), missing.begin() + static_cast<long>(given.size()));
  }
  for (size_t i = 0; i < given.size(); ++i) {
    const OptionSpec* o = t.find_long(targets[i], false);
    Status st = apply(*o, given[i], cmd + ": " + positional_display(targets[i]));
    if (!st.ok()) return st;
    set_keys.insert(targets[i]);
  }
  return Status::Ok();
}

}  // namespace

const char* command_name(Command c) {
  switch (c) {
    case Command::none: return "";
    case Command::format: return "format";
    case Command::mount: return "mount";
    case Command::fsck: return "fsck";
    case Command::gc: return "gc";
    case Command::status: return "status";
    case Command::shell: return "shell";
    case Command::gc_node: return "gc-node";
    case Command::upgrade: return "upgrade";
  }
  return "";
}

bool command_implemented(Command c) {
  return c == Command::format || c == Command::mount || c == Command::fsck || c == Command::upgrade ||
         c == Command::gc || c == Command::gc_node || c == Command::shell || c == Command::status;
}

Result<Invocation> parse_command_line(int argc, const char* const* argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i] ? argv[i] : "");

  Invocation inv;
  // --help anywhere (before "--") wins over everything else but an unknown command.
  bool help = false;
  for (const auto& a : args) {
    if (a == "--") break;
    if (a == "--help" || a == "-h") help = true;
  }

  // Before the command: --help, --version and the common options.
  auto common = common_options(inv.common);
  const Tables common_tables{{&common}};
  std::vector<Assignment> assigns;
  size_t i = 0;
  for (; i < args.size() && is_option(args[i]); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--help" || a == "-h") continue;
    if (a == "--version") {
      inv.version = true;
      continue;
    }
    auto r = parse_option(args, i, common_tables, help ? "" : " (options of a command go after it, e.g. mount -f)");
    if (r.ok() && !help) {
      // Check the value now: "--log-level fsck" should say "bad log level", not "missing command".
      CommonOptions scratch;
      auto check = common_options(scratch);
      Status st = apply(*Tables{{&check}}.find_long(r->spec->name, true), r->value, r->shown);
      if (!st.ok()) return st;
    }
    if (!r.ok()) {
      if (help) break;
      return r.status;
    }
    assigns.push_back(*r);
  }
  if (i >= args.size() || is_option(args[i])) {
    if (help || inv.version) {
      inv.help = help;
      return inv;
    }
    return usage("missing command (format, mount or fsck); see s3layerfs-daemon --help");
  }
  if (!parse_command(args[i], inv.command))
    return usage("unknown command '" + args[i] + "' (expected format, mount, fsck, gc, status, shell, gc-node or upgrade)");
  ++i;
  const std::string cmd = command_name(inv.command);
  if (help) {
    inv.help = true;
    return inv;
  }
  if (inv.version) return usage("--version takes no command");
  if (!command_implemented(inv.command)) return inv;   // the caller reports "not implemented yet"

  // After the command: its options, the common ones and positionals, in any order.
  CommandSpec spec = command_spec(inv.command, inv);
  const Tables tables{{&spec.options, &common}};
  std::vector<std::string> positionals;
  for (bool only_positionals = false; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_positionals || !is_option(a)) {
      positionals.push_back(a);
    } else if (a == "--") {
      only_positionals = true;
    } else {
      auto r = parse_option(args, i, tables, " for " + cmd);
      if (!r.ok()) return r.status;
      assigns.push_back(*r);
    }
  }

  // --config first, since the file comes before every other command-line option.
  std::set<std::string> set_keys;
  for (const auto& a : assigns)
    if (a.spec->name == "config") {
      Status st = apply(*a.spec, a.value, a.shown);
      if (!st.ok()) return st;
    }
  if (!inv.common.config_file.empty()) {
    auto file = read_ini_file(inv.common.config_file);
    if (!file.ok()) return file.status;
    Status st = apply_file(*file, inv, tables, set_keys);
    if (!st.ok()) return st;
  }
  for (const auto& a : assigns) {
    if (a.spec->name == "config") continue;
    Status st = apply(*a.spec, a.value, cmd + ": " + a.shown);
    if (!st.ok()) return st;
    set_keys.insert(a.spec->name);
  }
  Status st = apply_positionals(spec, positionals, tables, set_keys);
  if (!st.ok()) return st;

  for (const auto& k : spec.positionals)
    if (!set_keys.count(k))
      return usage(cmd + ": missing " + positional_display(k) + " argument (or " + k + " = ... in [" + cmd +
                   "] of the config file)");
  for (const auto& k : spec.required)
    if (!set_keys.count(k))
      return usage(cmd + ": missing --" + k + " (or " + k + " = ... in [" + cmd + "] of the config file)");

  inv.format.common = inv.common;
  inv.mount.common = inv.common;
  inv.fsck.common = inv.common;
  inv.gc.common = inv.common;
  inv.upgrade.common = inv.common;
  inv.gc_node.common = inv.common;
  inv.shell.common = inv.common;
  inv.status.common = inv.common;
  return inv;
}

}  // namespace s3l::config
