// Looking at a test volume from outside the mount: its metadata (a fresh
// connection, whatever the engine) and whether the store holds exactly the
// objects the metadata references.
#pragma once
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "meta/meta.hpp"
#include "tests/support/mount_fixture.hpp"

namespace s3l::test {

// Opens the fixture's metadata with settings loaded; throws std::runtime_error.
std::unique_ptr<meta::Meta> open_volume_meta(const MountFixture& fx);

// Polls cond every 200 ms until it is true or `limit` passed; returns cond().
bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds limit);

// "" if every object under <volume>/chunks/ is named by a committed block
// and every committed block has its object; else how many leaked/missing
// objects there are, with an example of each (what `gc` would report).
std::string store_vs_metadata(const MountFixture& fx);

}  // namespace s3l::test
