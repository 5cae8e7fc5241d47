#include "cmd/common.hpp"

#include <unistd.h>

#include <climits>
#include <cstring>
#include <iostream>

#include "util/clock.hpp"

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

bool is_s3_url(const std::string& url) {
  for (const char* p : {"http://", "https://", "s3://"})
    if (url.rfind(p, 0) == 0) return true;
  return false;
}

Status check_s3_flags_apply(const std::string& storage_url, const config::S3Flags& flags) {
  if (is_s3_url(storage_url)) return Status::Ok();
  std::string given = flags.given();
  if (given.empty()) return Status::Ok();
  return Status::Error(EINVAL, "S3 options (" + given + ") do not apply to the storage " + storage_url +
                                   " (only to http(s)://HOST/BUCKET or s3://BUCKET)");
}

store::StoreOptions store_options(const meta::VolumeSettings& s, const config::S3Flags& f) {
  store::StoreOptions o;
  o.endpoint = f.endpoint.value_or(s.s3_endpoint);
  std::string region = f.region.value_or(s.s3_region);
  if (!region.empty()) o.region = region;
  o.virtual_hosted = f.virtual_hosted.value_or(s.s3_virtual_hosted);
  o.verify_tls = f.verify_tls.value_or(s.s3_verify_tls);
  o.ca_file = f.ca_file.value_or(s.s3_ca_file);
  o.access_key = f.access_key.value_or(s.s3_access_key);
  o.secret_key = f.secret_key.value_or(s.s3_secret_key);
  return o;
}

std::string store_error(const std::string& url, const Status& s) {
  std::string msg = "object store " + url + ": ";
  if (s.err == EACCES) msg += "authentication or authorization failed: ";
  return msg + s.msg;
}

Result<Volume> open_volume(const std::string& meta_url, const config::S3Flags& flags, int* exit_code) {
  if (exit_code) *exit_code = kExitRuntime;
  Volume v;
  auto m = meta::open_meta(meta_url, false);
  if (!m.ok()) return m.status;
  v.meta = std::move(m.value);
  auto s = v.meta->load_settings();
  if (!s.ok()) return s.status;
  v.settings = s.value;
  if (Status f = check_s3_flags_apply(v.settings.storage_url, flags); !f.ok()) {
    if (exit_code) *exit_code = kExitUsage;
    return Status::Error(EINVAL, "volume '" + v.settings.name + "': " + f.msg);
  }
  auto st = store::open_store(v.settings.storage_url, false, store_options(v.settings, flags));
  if (!st.ok()) return Status::Error(st.err(), store_error(v.settings.storage_url, st.status));
  v.store = std::move(st.value);
  return v;
}

void hide_secrets_in_argv(int argc, char** argv) {
  bool next_is_secret = false;
  for (int i = 1; i < argc; ++i) {
    char* a = argv[i];
    if (!a) continue;
    if (std::strcmp(a, "--") == 0) break;
    if (next_is_secret) {
      std::memset(a, '*', std::strlen(a));
      next_is_secret = false;
      continue;
    }
    for (const char* opt : {"--secret-key", "--access-key"}) {
      size_t n = std::strlen(opt);
      if (std::strncmp(a, opt, n) != 0) continue;
      if (a[n] == '\0') next_is_secret = true;
      else if (a[n] == '=') std::memset(a + n + 1, '*', std::strlen(a + n + 1));
    }
  }
}

meta::SessionInfo new_session_info(const std::string& mountpoint, std::chrono::seconds heartbeat) {
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  meta::SessionInfo si;
  si.host = host;
  si.pid = ::getpid();
  si.mountpoint = mountpoint;
  si.version = S3L_VERSION;
  si.started_ns = now_ns();
  si.heartbeat_ns = si.started_ns;
  si.expiry_ns = 5 * std::chrono::nanoseconds(heartbeat).count();
  return si;
}

}  // namespace s3l::cmd
