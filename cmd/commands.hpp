#pragma once
#include "config/options.hpp"

namespace s3l::cmd {
int run_format(const config::FormatOptions& o);
int run_mount(const config::MountOptions& o);
int run_fsck(const config::FsckOptions& o);
int run_gc(const config::GcOptions& o);
int run_upgrade(const config::UpgradeOptions& o);
int run_gc_node(const config::GcNodeOptions& o);
int run_shell(const config::ShellOptions& o);
int run_status(const config::StatusOptions& o);
}  // namespace s3l::cmd
