#include "actors/messages.hpp"

namespace s3l {

caf::error to_caf_error(const Status& st) {
  int e = st.err > 0 && st.err < 256 ? st.err : EIO;
  return caf::error(static_cast<uint8_t>(e), caf::atom("s3l"), caf::make_message(st.msg));
}

Status from_caf_error(const caf::error& e) {
  if (!e) return Status::Ok();
  if (e.category() == caf::atom("s3l")) {
    std::string msg;
    if (e.context().match_elements<std::string>()) msg = e.context().get_as<std::string>(0);
    return Status::Error(e.code(), msg);
  }
  // The actor is gone (e.g. an inode handle closed by a concurrent release):
  // callers that can ask someone else (the meta service) do so on ESTALE.
  if (e == caf::sec::request_receiver_down || e.category() == caf::atom("exit"))
    return Status::Error(ESTALE, "actor exited: " + caf::to_string(e));
  // Timeouts and the like: the operation did not complete.
  return Status::Error(EIO, "actor error: " + caf::to_string(e));
}

}  // namespace s3l
