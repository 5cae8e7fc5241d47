// open_store: picks the backend from the storage URL.
#include <cerrno>

#include "store/local_store.hpp"
#include "store/object_store.hpp"

namespace s3l::store {

Result<std::unique_ptr<ObjectStore>> open_store(const std::string& url, bool create) {
  const std::string file = "file://";
  if (url.compare(0, file.size(), file) == 0) {
    std::string path = url.substr(file.size());
    if (path.empty() || path[0] != '/')
      return Status::Error(EINVAL, "storage URL '" + url +
                                       "' must name an absolute directory, like file:///var/lib/s3l"
                                       " (three slashes: file:// then /path)");
    return open_local_store(path, create);
  }
  for (const char* s3 : {"http://", "https://", "s3://"}) {
    if (url.compare(0, std::char_traits<char>::length(s3), s3) == 0)
      return Status::Error(ENOTSUP, "storage URL '" + url + "': the S3 backend is not built yet");
  }
  return Status::Error(EINVAL, "unsupported storage URL '" + url +
                                   "': expected file:///absolute/dir");
}

}  // namespace s3l::store
