// The S3 backend: any S3-compatible server (rustfs, MinIO, AWS, s3rver)
// through libcurl with our own SigV4 signer (store/sigv4.hpp).
//
// URLs:  http(s)://host[:port]/BUCKET   path-style by default
//        s3://BUCKET                    with StoreOptions::endpoint (or AWS for the region)
// Every operation retries connection errors, timeouts, 500/502/503/504, 429,
// SlowDown and RequestTimeout with exponential backoff and jitter, within
// StoreOptions::retry_budget_ms / max_attempts; then it fails with EIO and a
// message naming the last error. Other 4xx are never retried.
#pragma once
#include <memory>
#include <string>

#include "store/object_store.hpp"

namespace s3l::store {

struct S3Location {
  std::string scheme;     // "http" or "https"
  std::string host;       // host[:port] as given, without the bucket
  std::string bucket;
};

// Parses the storage URL (and the endpoint for s3://). EINVAL with the reason.
Result<S3Location> parse_s3_url(const std::string& url, const StoreOptions& opt);

Result<std::unique_ptr<ObjectStore>> open_s3_store(const std::string& url, bool create,
                                                   const StoreOptions& opt);

}  // namespace s3l::store
