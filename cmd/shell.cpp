// s3layerfs-daemon shell HOST:PORT: remote introspection of a running gc-node
// or mount (--listen). Sends each command (actors/node_api.hpp) and prints
// the answer as sorted `key = value` lines.
#include <unistd.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <iostream>
#include <sstream>

#include "actors/node_api.hpp"
#include "cmd/commands.hpp"
#include "cmd/common.hpp"
#include "config/values.hpp"

namespace s3l::cmd {

namespace {

void print_settings(const caf::settings& s, const std::string& prefix) {
  for (const auto& [key, value] : s) {
    std::string name = prefix.empty() ? key : prefix + "." + key;
    if (auto sub = caf::get_if<caf::settings>(&value)) {
      print_settings(*sub, name);
    } else if (auto str = caf::get_if<std::string>(&value)) {
      std::cout << name << " = " << *str << "\n";
    } else {
      std::cout << name << " = " << caf::to_string(value) << "\n";
    }
  }
}

std::string error_text(caf::actor_system& sys, const caf::error& e) {
  if (e.context().match_elements<std::string>()) return e.context().get_as<std::string>(0);
  if (e == caf::sec::request_timeout) return "no answer in time (is the node hung?)";
  return sys.render(e);
}

// Command words become CAF atoms: at most 10 of [A-Za-z0-9_].
bool valid_command(const std::string& w) {
  if (w.empty() || w.size() > 10) return false;
  for (char c : w)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

// One command line; true if it succeeded.
bool run_command(caf::actor_system& sys, const node_api& node, const std::string& line,
                 std::chrono::seconds timeout) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  if (words.empty()) return true;
  if (!valid_command(words[0])) {
    std::cerr << "shell: '" << words[0] << "' is not a command (try: help)" << std::endl;
    return false;
  }
  bool ok = false;
  caf::scoped_actor self{sys};
  self->request(node, timeout, caf::atom_from_string(words[0]),
                std::vector<std::string>(words.begin() + 1, words.end()))
      .receive(
          [&](const caf::settings& s) {
            print_settings(s, "");
            std::cout.flush();
            ok = true;
          },
          [&](caf::error& e) { std::cerr << "shell: " << words[0] << ": " << error_text(sys, e) << std::endl; });
  return ok;
}

}  // namespace

int run_shell(const config::ShellOptions& o) {
  auto hp = config::parse_host_port(o.address, false);
  if (!hp.ok()) return fail("shell", hp.msg(), kExitUsage);
  caf::actor_system_config cfg;
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("scheduler.max-threads", 1);
  configure_node_network(cfg);
  caf::actor_system sys{cfg};
  auto node = caf::io::remote_actor<node_api>(sys, hp->host, hp->port);
  if (!node) return fail("shell", "cannot reach " + o.address + ": " + error_text(sys, node.error()));
  const auto timeout = std::chrono::seconds(o.timeout_s);
  if (!o.run.empty()) return run_command(sys, *node, o.run, timeout) ? kExitOk : kExitProblems;

  const bool tty = ::isatty(0);
  bool all_ok = true;
  for (std::string line;;) {
    if (tty) std::cout << o.address << "> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    if (line == "quit" || line == "exit") break;
    all_ok = run_command(sys, *node, line, timeout) && all_ok;
  }
  return all_ok ? kExitOk : kExitProblems;
}

}  // namespace s3l::cmd
