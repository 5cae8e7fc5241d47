// The bridge from non-actor threads (FUSE workers, CLI code) into the actor
// system: a blocking request with one reusable scoped_actor per OS thread.
// Replies arrive when the actor's work completes; errors become Status.
#pragma once
#include <caf/all.hpp>

#include <chrono>
#include <memory>

#include "actors/messages.hpp"

namespace s3l {

class Bridge {
 public:
  explicit Bridge(caf::actor_system& sys) : sys_(sys) {}

  // Request returning a value of type T. `timeout`: a deadline after which
  // the caller gets EIO, or caf::infinite (see kMetaWait).
  template <class T, class... Ts>
  Result<T> call(const caf::actor& dest, caf::duration timeout, Ts&&... xs) {
    Result<T> res{Status::Error(EIO, "no reply")};
    self()->request(dest, timeout, std::forward<Ts>(xs)...)
        .receive([&](T& x) { res = Result<T>(std::move(x)); },
                 [&](caf::error& e) { res = Result<T>(from_caf_error(e)); });
    after_call(res.status);
    return res;
  }

  // Request whose reply carries no value.
  template <class... Ts>
  Status call_void(const caf::actor& dest, caf::duration timeout, Ts&&... xs) {
    Status st = Status::Error(EIO, "no reply");
    self()->request(dest, timeout, std::forward<Ts>(xs)...)
        .receive([&]() { st = Status::Ok(); },
                 [&](caf::error& e) { st = from_caf_error(e); });
    after_call(st);
    return st;
  }

  // Must run on every thread that used the bridge before ~actor_system:
  // a live scoped_actor keeps the actor system from shutting down.
  static void release_this_thread();

 private:
  static std::unique_ptr<caf::scoped_actor>& slot();
  caf::scoped_actor& self();
  // A timed-out request leaves its late reply in the mailbox: drop the actor.
  void after_call(const Status& st);

  caf::actor_system& sys_;
};

// Timeouts: metadata calls should be quick; data calls may wait on uploads
// and back-pressure, so they get a long deadline (then EIO). Actors asking
// the meta service use kMetaTimeout.
constexpr std::chrono::milliseconds kMetaTimeout{std::chrono::minutes(2)};
constexpr std::chrono::milliseconds kDataTimeout{std::chrono::minutes(30)};

// How the VFS waits for a metadata call: without a deadline. A deadline
// never stopped the transaction (the meta actor runs it to its end, and the
// engine bounds its own waits: reconnect window, retries), so a timed-out
// create could answer EIO and still commit; and every deadline costs a
// wake-up of CAF's clock thread (3 of ~30 context switches of a create).
const caf::duration kMetaWait{caf::infinite};
const caf::duration kDataWait{kDataTimeout};

}  // namespace s3l
