#include "cmd/common.hpp"

#include <unistd.h>

#include <climits>
#include <iostream>

namespace s3l::cmd {

int fail(const std::string& what, const std::string& msg, int code) {
  std::cerr << "s3layerfs-daemon: " << what << ": " << msg << std::endl;
  return code;
}

std::string absolute_meta_url(const std::string& url) {
  const std::string scheme = "sqlite3://";
  if (url.rfind(scheme, 0) != 0) return url;
  std::string path = url.substr(scheme.size());
  if (path.empty() || path[0] == '/') return url;
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd)) return url;
  return scheme + std::string(cwd) + "/" + path;
}

Result<Volume> open_volume(const std::string& meta_url) {
  Volume v;
  auto m = meta::open_meta(meta_url, false);
  if (!m.ok()) return m.status;
  v.meta = std::move(m.value);
  auto s = v.meta->load_settings();
  if (!s.ok()) return s.status;
  v.settings = s.value;
  auto st = store::open_store(v.settings.storage_url, false);
  if (!st.ok()) return Status::Error(st.err(), "object store " + v.settings.storage_url + ": " + st.msg());
  v.store = std::move(st.value);
  return v;
}

}  // namespace s3l::cmd
