// A real S3LayerFS mount for integration tests: a temp dir, a volume formatted
// with the real binary (S3L_DAEMON_PATH), and `mount --foreground` running as a
// child in its own process group. Teardown always cleans up, even after a
// failure: unmount, stop the daemon's process group (TERM, then KILL), abort a
// hung FUSE connection, remove the temp dir.
//
// Environment (so the same suite runs on other backends later):
//   S3L_TEST_META_URL   metadata URL instead of sqlite3://<tmp>/meta.db
//                       (the volume is then formatted with --force)
//   S3L_TEST_STORAGE    storage URL instead of file://<tmp>/objects (the
//                       volume is then formatted with --force); "s3-auto"
//                       starts one S3 server for the test process
//                       (tests/support/s3_server.hpp) and gives every
//                       fixture a bucket of its own
//   S3L_TEST_MOUNT_ARGS extra mount options, split on spaces
//   S3L_TEST_LOG_LEVEL  the daemon's --log-level (default warn)
//   S3L_TEST_DAEMON     another s3layerfs-daemon binary
//   S3L_TEST_TMPDIR     where temp dirs go (default $TMPDIR or /tmp)
//   S3L_TEST_KEEP=1     keep the temp dir (meta.db, objects, daemon logs)
#pragma once
#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "store/object_store.hpp"
#include "tests/support/process.hpp"

namespace s3l::test {

class MountFixture;

struct FixtureOptions {
  std::string storage;                           // storage URL; "" = S3L_TEST_STORAGE or file://<tmp>/objects
  std::vector<std::string> format_args;          // appended to `format`
  std::vector<std::string> mount_args = {"--allow-other"};  // appended to `mount`
  milliseconds mount_timeout = milliseconds(20000);
  milliseconds unmount_timeout = milliseconds(120000);  // flushing dirty data may take a while
  // A second client: mount the volume another fixture already formatted (its
  // meta URL and storage URL) instead of formatting one. This fixture still
  // has its own temp dir, mountpoint, cache dir, daemon log and daemon process
  // group. Destroy it before `same_volume_as`, whose temp dir may hold the
  // SQLite file and the objects. `storage` and `format_args` are then ignored.
  const MountFixture* same_volume_as = nullptr;
};

class MountFixture {
 public:
  // Creates the temp dir, formats (unless opts.same_volume_as) and mounts.
  // Throws std::runtime_error with the command, its exit status and its
  // stderr if any step fails.
  explicit MountFixture(FixtureOptions opts = {});
  ~MountFixture();
  MountFixture(const MountFixture&) = delete;
  MountFixture& operator=(const MountFixture&) = delete;

  const std::string& root() const { return root_; }          // the temp dir
  const std::string& mountpoint() const { return mnt_; }
  std::string path(const std::string& rel) const { return mnt_ + "/" + rel; }
  const std::string& meta_url() const { return meta_url_; }
  const std::string& storage_url() const { return storage_; }
  // The object directory if the storage is file://, else "".
  std::string objects_dir() const;
  // Regular files under objects_dir(), relative paths, sorted.
  std::vector<std::string> object_files() const;
  // The fixture's object store, opened like the daemon opens it (S3
  // credentials from the environment), for inspecting or damaging objects
  // whatever the backend. Throws std::runtime_error if it cannot be opened.
  std::unique_ptr<store::ObjectStore> open_store() const;
  // Every object key in the store, sorted.
  std::vector<std::string> object_keys() const;
  static std::string daemon_path();

  // Starts `mount --foreground` and waits until the mount is in
  // /proc/self/mountinfo. Throws if the daemon exits early or it takes too long.
  void mount();
  // `fusermount3 -u`, then waits for the daemon to exit. Throws if unmounting
  // fails (e.g. EBUSY: a test left a file open) or the daemon exits non-zero.
  void unmount();
  void remount() {
    unmount();
    mount();
  }
  bool mounted() const;
  pid_t daemon_pid() const { return daemon_ ? daemon_->pid() : -1; }
  // Everything the daemons of this fixture wrote to stderr so far.
  std::string daemon_log() const;

  // Runs `s3layerfs-daemon <args...>` to completion.
  RunResult run_cli(const std::vector<std::string>& args, milliseconds timeout = milliseconds(300000)) const;
  RunResult fsck(const std::vector<std::string>& extra = {}) const;

 private:
  void format();
  void teardown() noexcept;

  FixtureOptions opts_;
  std::string root_, mnt_, meta_url_, storage_;
  bool custom_meta_ = false;
  bool custom_storage_ = false;
  std::unique_ptr<Child> daemon_;
  std::string daemon_log_path_;
  int mounts_ = 0;
};

// One mount per test executable, shared by its test cases: created on first
// use and unmounted cleanly when the test module ends (or at exit). If it
// cannot be created, every call throws the same error.
MountFixture& shared_mount();

}  // namespace s3l::test
