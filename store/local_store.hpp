// The file:// backend: one regular file per object under a root directory.
//
// Key -> path mapping, layout version 1 (recorded in <root>/%layout):
//  * the key is split on '/'; every component becomes a directory level and the
//    last one the object file, whose name gets the suffix "%o" (so a key "a"
//    and a key "a/b" can both exist: file "a%o" and directory "a");
//  * '%' in a component is written "%25"; the components "", "." and ".." are
//    written "%", "%." and "%.." (so "a//b" and "../x" are ordinary keys);
//  * an escaped component longer than 200 bytes is split into pieces of
//    100..200 bytes; every piece but the last is a directory named "<piece>%+"
//    (so a 900-byte key without '/' works although NAME_MAX is 255);
//  * temp files are "<piece>%t<16 hex>", in the directory of their object;
//  * names starting with '%' and a letter (like "%layout") are reserved.
// Any byte except NUL may appear in a key; keys are at most kMaxKeyLen bytes.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "store/object_store.hpp"

namespace s3l::store {

constexpr uint32_t kLocalLayoutVersion = 1;

// `dir` must be absolute. Missing: ENOENT unless create (then created with
// parents). Not a directory: ENOTDIR. Not writable: the errno of the probe
// write (EACCES, EROFS, ...). Layout newer than this binary: EPROTO.
Result<std::unique_ptr<ObjectStore>> open_local_store(const std::string& dir, bool create);

// The relative path of a key's object file (exposed for tests and docs).
// EINVAL for an empty key or a NUL byte, ENAMETOOLONG over kMaxKeyLen.
Result<std::string> local_object_path(const std::string& key);

}  // namespace s3l::store
