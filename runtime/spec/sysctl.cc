// linux.sysctl: only keys the container's own namespaces isolate, as runc's
// configs/validate allows them. Anything else would be written into the
// host's value (sysctl files outside a namespace are global).
#include <sys/stat.h>

#include "spec/json_field.h"
#include "spec/spec.h"

namespace sworn::spec {
namespace {

constexpr std::string_view kIpcKeys[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",        "kernel.sem",
                                         "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"};

bool IsIpcKey(std::string_view k) {
  for (auto n : kIpcKeys)
    if (k == n) return true;
  return k.starts_with("fs.mqueue.");
}

// A joined namespace may be the runtime's own (`ip netns` bind of the
// host's, or /proc/1/ns/ipc): then the key reaches the host all the same.
Result<bool> SharesHost(const Namespace* ns) {
  if (!ns) return true;
  if (ns->path.empty()) return false;
  std::string self = std::string("/proc/self/ns/") + NsProcName(ns->type);
  struct stat ours, theirs;
  if (stat(self.c_str(), &ours) < 0) return Fail(SysError("stat", self));
  if (stat(ns->path.c_str(), &theirs) < 0)
    return Fail(SysError("stat", std::string("linux.namespaces ") + NsName(ns->type) + " path " + ns->path));
  return ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino;
}

std::string Needs(const std::string& key, const char* ns) {
  return "\"" + key + "\" needs " + ns + " namespace of the container's own in linux.namespaces (it would change the host's)";
}

}  // namespace

Result<void> CheckSysctls(const Spec& s) {
  const Linux& l = s.linux;
  for (const auto& [key, value] : l.sysctl) {
    std::string f = "linux.sysctl." + key;
    SWORN_TRY(CheckNoNul(key, "linux.sysctl"));
    SWORN_TRY(CheckNoNul(value, f));
    if (IsIpcKey(key)) {
      if (SWORN_TRY(SharesHost(l.Find(NsType::kIpc)))) return Fail(FieldError(f, Needs(key, "an ipc")));
      continue;
    }
    if (key.starts_with("net.")) {
      if (SWORN_TRY(SharesHost(l.Find(NsType::kNetwork)))) return Fail(FieldError(f, Needs(key, "a network")));
      continue;
    }
    if (key == "kernel.hostname" || key == "kernel.domainname") {
      if (SWORN_TRY(SharesHost(l.Find(NsType::kUts)))) return Fail(FieldError(f, Needs(key, "a uts")));
      if (key == "kernel.hostname" && !s.hostname.empty())
        return Fail(FieldError(f, "conflicts with the hostname field; set only one"));
      if (key == "kernel.domainname" && !s.domainname.empty())
        return Fail(FieldError(f, "conflicts with the domainname field; set only one"));
      continue;
    }
    return Fail(FieldError(f, "\"" + key + "\" is not isolated by any namespace (allowed: net.* with a network namespace; "
                                          "fs.mqueue.*, kernel.msg*/sem/shm* with ipc; kernel.hostname/domainname with uts)"));
  }
  return {};
}

}  // namespace sworn::spec
