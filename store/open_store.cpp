// open_store: picks the backend from the storage URL.
#include <cerrno>

#include "store/local_store.hpp"
#include "store/object_store.hpp"
#include "store/s3_store.hpp"

namespace s3l::store {

Result<std::unique_ptr<ObjectStore>> open_store(const std::string& url, bool create,
                                                const StoreOptions& options) {
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
      return open_s3_store(url, create, options);
  }
  return Status::Error(EINVAL, "unsupported storage URL '" + url +
                                   "': expected file:///absolute/dir, http(s)://host[:port]/BUCKET"
                                   " or s3://BUCKET");
}

Result<std::unique_ptr<ObjectStore>> open_store(const std::string& url, bool create) {
  return open_store(url, create, StoreOptions{});
}

}  // namespace s3l::store
