// s3layerfs-daemon: one binary, one subcommand per job.
#include <iostream>

#include "cmd/commands.hpp"
#include "cmd/common.hpp"
#include "config/cli.hpp"
#include "util/log.hpp"

using namespace s3l;

int main(int argc, char** argv) {
  auto inv = config::parse_command_line(argc, argv);
  if (!inv.ok()) {
    std::cerr << "s3layerfs-daemon: " << inv.msg() << " (see --help)" << std::endl;
    return cmd::kExitUsage;
  }
  cmd::hide_secrets_in_argv(argc, argv);  // parsed: ps need not show them any longer
  if (inv->version) {
    std::cout << "s3layerfs-daemon " << S3L_VERSION << std::endl;
    return cmd::kExitOk;
  }
  if (inv->help || inv->command == config::Command::none) {
    std::cout << config::help_text(inv->command);
    return inv->help ? cmd::kExitOk : cmd::kExitUsage;
  }
  if (Status s = init_logging(inv->common.log_level); !s.ok())
    return cmd::fail("log-level", s.msg, cmd::kExitUsage);
  switch (inv->command) {
    case config::Command::format: return cmd::run_format(inv->format);
    case config::Command::mount: return cmd::run_mount(inv->mount);
    case config::Command::fsck: return cmd::run_fsck(inv->fsck);
    case config::Command::gc: return cmd::run_gc(inv->gc);
    case config::Command::upgrade: return cmd::run_upgrade(inv->upgrade);
    case config::Command::gc_node: return cmd::run_gc_node(inv->gc_node);
    case config::Command::shell: return cmd::run_shell(inv->shell);
    case config::Command::status: return cmd::run_status(inv->status);
    default:
      return cmd::fail(config::command_name(inv->command), "not implemented yet", cmd::kExitUsage);
  }
}
