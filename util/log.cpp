#include "util/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace s3l {
namespace {

// spdlog::level::from_str maps unknown names to "off", which would silently
// hide every message after a typo: use an explicit table instead.
bool to_level(const std::string& s, spdlog::level::level_enum& out) {
  static const std::pair<const char*, spdlog::level::level_enum> table[] = {
      {"trace", spdlog::level::trace}, {"debug", spdlog::level::debug},
      {"info", spdlog::level::info},   {"warn", spdlog::level::warn},
      {"error", spdlog::level::err},   {"critical", spdlog::level::critical},
      {"off", spdlog::level::off}};
  for (const auto& [name, lvl] : table)
    if (s == name) {
      out = lvl;
      return true;
    }
  return false;
}

}  // namespace

bool is_log_level(const std::string& level) {
  spdlog::level::level_enum l;
  return to_level(level, l);
}

Status init_logging(const std::string& level) {
  spdlog::level::level_enum lvl;
  if (!to_level(level, lvl))
    return Status::Error(EINVAL, "bad log level '" + level +
                                     "' (expected trace, debug, info, warn, error, critical or off)");
  // Colors only when stderr is a terminal (the sink checks), so logs captured
  // by systemd or tests stay plain text.
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("s3l", std::move(sink));
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ [%t] %v");
  logger->set_level(lvl);
  logger->flush_on(spdlog::level::warn);   // warnings must not sit in a buffer if we crash next
  spdlog::set_default_logger(std::move(logger));
  return Status::Ok();
}

}  // namespace s3l
