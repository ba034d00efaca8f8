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

// A joined network namespace may be the runtime's own (`ip netns` bind of
// the host's, or /proc/1/ns/net): then net.* reaches the host.
Result<bool> SharesHostNet(const Namespace* net) {
  if (!net) return true;
  if (net->path.empty()) return false;
  struct stat ours, theirs;
  if (stat("/proc/self/ns/net", &ours) < 0) return Fail(SysError("stat", "/proc/self/ns/net"));
  if (stat(net->path.c_str(), &theirs) < 0) return Fail(SysError("stat", "linux.namespaces network path " + net->path));
  return ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino;
}

}  // namespace

Result<void> CheckSysctls(const Spec& s) {
  const Linux& l = s.linux;
  for (const auto& [key, value] : l.sysctl) {
    std::string f = "linux.sysctl." + key;
    SWORN_TRY(CheckNoNul(key, "linux.sysctl"));
    SWORN_TRY(CheckNoNul(value, f));
    if (IsIpcKey(key)) {
      if (!l.Find(NsType::kIpc))
        return Fail(FieldError(f, "\"" + key + "\" needs an ipc namespace in linux.namespaces (it would change the host's)"));
      continue;
    }
    if (key.starts_with("net.")) {
      if (SWORN_TRY(SharesHostNet(l.Find(NsType::kNetwork))))
        return Fail(FieldError(f, "\"" + key + "\" needs a network namespace of the container's own (it would change the host's)"));
      continue;
    }
    if (key == "kernel.hostname" || key == "kernel.domainname") {
      if (!l.Find(NsType::kUts))
        return Fail(FieldError(f, "\"" + key + "\" needs a uts namespace in linux.namespaces (it would change the host's)"));
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
