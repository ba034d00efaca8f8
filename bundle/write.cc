// Naming (container id, task dir) and writing a bundle to disk.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "bundle/internal.h"
#include "core/sys.h"

namespace sworn::bundle {
namespace {

constexpr size_t kMaxIdLength = 128;

uint64_t Fnv1a64(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char ch : s) {
    h ^= ch;
    h *= 1099511628211ull;
  }
  return h;
}

Result<void> MakeDir(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) < 0 && errno != EEXIST) return Fail(SysError("mkdir", path));
  // An older bundle's directory, or the umask, may have left other bits.
  if (chmod(path.c_str(), mode) < 0) return Fail(SysError("chmod", path));
  return {};
}

// resolv.conf and hosts are bound into the task, whose user may not be
// root: 0644, written beside and renamed over. Empty content removes the
// file an older bundle may have left.
Result<void> WriteSideFile(const std::string& path, const std::string& content) {
  if (content.empty()) {
    if (unlink(path.c_str()) < 0 && errno != ENOENT) return Fail(SysError("unlink", path));
    return {};
  }
  std::string tmp = path + ".tmp";
  SWORN_TRY(WriteFile(tmp, content, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  if (chmod(tmp.c_str(), 0644) < 0) return Fail(SysError("chmod", tmp));
  if (rename(tmp.c_str(), path.c_str()) < 0) return Fail(SysError("rename", path));
  return {};
}

}  // namespace

std::string ContainerId(std::string_view task_id) {
  std::string out;
  for (char ch : task_id) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '.' || ch == '-';
    out += ch == '/' ? '.' : ok ? ch : '_';
  }
  if (out.empty() || out == "." || out == "..") out = "_" + out;  // not valid ids for sworn
  if (out.size() > kMaxIdLength) {
    char hash[18];
    snprintf(hash, sizeof(hash), "-%016llx", static_cast<unsigned long long>(Fnv1a64(task_id)));
    out = out.substr(0, kMaxIdLength - 17) + hash;
  }
  return out;
}

std::string TaskDir(const TaskRequest& t) { return internal::TrimSlashes(t.alloc_dir) + "/" + t.name; }

Result<void> WriteBundle(const Bundle& b) {
  if (b.dir.empty() || b.dir[0] != '/')
    return Fail(FieldError("bundle dir", "must be an absolute path, got \"" + b.dir + "\""));
  SWORN_TRY(MkdirAll(b.dir, 0700));
  SWORN_TRY(MakeDir(b.dir, 0700));
  SWORN_TRY(MakeDir(b.dir + "/rootfs", 0755));
  std::string text;
  try {
    text = b.config.dump(2) + "\n";
  } catch (const nlohmann::json::exception& e) {
    return Fail(MakeError(Errc::kInvalidArgument, std::string("config.json: ") + e.what()));
  }
  SWORN_TRY(WriteFileAtomic(b.dir + "/config.json", text));
  SWORN_TRY(WriteSideFile(b.dir + "/resolv.conf", b.resolv_conf));
  SWORN_TRY(WriteSideFile(b.dir + "/hosts", b.hosts));
  return {};
}

}  // namespace sworn::bundle
