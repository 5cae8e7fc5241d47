// The meta actor: a detached actor that owns one metadata connection and
// serialises every transaction on it (SQLite allows one writer anyway).
#pragma once
#include <caf/all.hpp>

#include <memory>

#include "meta/meta.hpp"

namespace s3l {
caf::actor spawn_meta_actor(caf::actor_system& sys, std::shared_ptr<meta::Meta> m);
}
