// Process-wide logging: spdlog's default logger writes to stderr with time,
// level and thread id. Quiet by default (warn); --log-level changes it.
#pragma once
#include <string>

#include "util/result.hpp"

namespace s3l {

// True for trace, debug, info, warn, error, critical, off (the --log-level values).
bool is_log_level(const std::string& level);

// Installs the stderr logger as spdlog's default and sets its level. Safe to
// call again (e.g. after daemonizing) to replace it. EINVAL on an unknown
// level, and the previous configuration stays in place.
Status init_logging(const std::string& level);

}  // namespace s3l
