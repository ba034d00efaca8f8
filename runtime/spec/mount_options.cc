// Mount options as runc and crun accept them: MS_* flags, propagation,
// the recursive "r*" attributes (applied with mount_setattr), and anything
// else passed through as filesystem data.
#include <linux/mount.h>
#include <sys/mount.h>

#include <string_view>

#include "spec/json_field.h"
#include "spec/spec.h"

namespace sworn::spec {
namespace {

struct FlagOpt {
  std::string_view name;
  bool clear;
  unsigned long flag;
};

constexpr FlagOpt kFlags[] = {
    {"async", true, MS_SYNCHRONOUS},   {"atime", true, MS_NOATIME},
    {"bind", false, MS_BIND},          {"defaults", false, 0},
    {"dev", true, MS_NODEV},           {"diratime", true, MS_NODIRATIME},
    {"dirsync", false, MS_DIRSYNC},    {"exec", true, MS_NOEXEC},
    {"iversion", false, MS_I_VERSION}, {"lazytime", false, MS_LAZYTIME},
    {"loud", true, MS_SILENT},         {"mand", false, MS_MANDLOCK},
    {"noatime", false, MS_NOATIME},    {"nodev", false, MS_NODEV},
    {"nodiratime", false, MS_NODIRATIME}, {"noexec", false, MS_NOEXEC},
    {"noiversion", true, MS_I_VERSION}, {"nolazytime", true, MS_LAZYTIME},
    {"nomand", true, MS_MANDLOCK},     {"norelatime", true, MS_RELATIME},
    {"nostrictatime", true, MS_STRICTATIME}, {"nosuid", false, MS_NOSUID},
    {"rbind", false, MS_BIND | MS_REC}, {"relatime", false, MS_RELATIME},
    {"remount", false, MS_REMOUNT},    {"ro", false, MS_RDONLY},
    {"rw", true, MS_RDONLY},           {"silent", false, MS_SILENT},
    {"strictatime", false, MS_STRICTATIME}, {"suid", true, MS_NOSUID},
    {"sync", false, MS_SYNCHRONOUS},
};

struct PropOpt {
  std::string_view name;
  unsigned long flag;
};

constexpr PropOpt kPropagation[] = {
    {"private", MS_PRIVATE}, {"rprivate", MS_PRIVATE | MS_REC},
    {"shared", MS_SHARED},   {"rshared", MS_SHARED | MS_REC},
    {"slave", MS_SLAVE},     {"rslave", MS_SLAVE | MS_REC},
    {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
};

struct AttrOpt {
  std::string_view name;
  bool clear;
  uint64_t attr;
};

// The atime attributes are one field in the kernel: setting any of them
// must also clear MOUNT_ATTR__ATIME.
constexpr AttrOpt kRecursive[] = {
    {"rro", false, MOUNT_ATTR_RDONLY},     {"rrw", true, MOUNT_ATTR_RDONLY},
    {"rnosuid", false, MOUNT_ATTR_NOSUID}, {"rsuid", true, MOUNT_ATTR_NOSUID},
    {"rnodev", false, MOUNT_ATTR_NODEV},   {"rdev", true, MOUNT_ATTR_NODEV},
    {"rnoexec", false, MOUNT_ATTR_NOEXEC}, {"rexec", true, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", false, MOUNT_ATTR_NODIRATIME}, {"rdiratime", true, MOUNT_ATTR_NODIRATIME},
    {"rrelatime", false, MOUNT_ATTR_RELATIME},     {"rnorelatime", true, MOUNT_ATTR_RELATIME},
    {"rnoatime", false, MOUNT_ATTR_NOATIME},       {"ratime", true, MOUNT_ATTR_NOATIME},
    {"rstrictatime", false, MOUNT_ATTR_STRICTATIME}, {"rnostrictatime", true, MOUNT_ATTR_STRICTATIME},
};

bool ApplyFlag(Mount& m, std::string_view o) {
  for (const auto& f : kFlags) {
    if (f.name != o) continue;
    if (f.clear)
      m.flags &= ~f.flag;
    else
      m.flags |= f.flag;
    return true;
  }
  return false;
}

bool ApplyPropagation(Mount& m, std::string_view o) {
  for (const auto& p : kPropagation) {
    if (p.name != o) continue;
    m.propagation = p.flag;
    return true;
  }
  return false;
}

bool ApplyRecursive(Mount& m, std::string_view o) {
  for (const auto& a : kRecursive) {
    if (a.name != o) continue;
    bool atime = a.attr == MOUNT_ATTR_RELATIME || a.attr == MOUNT_ATTR_NOATIME || a.attr == MOUNT_ATTR_STRICTATIME;
    if (a.clear) {
      m.attr_clr |= a.attr;
      m.attr_set &= ~a.attr;
    } else {
      m.attr_set |= a.attr;
      m.attr_clr &= ~a.attr;
      if (atime) m.attr_clr |= MOUNT_ATTR__ATIME;
    }
    return true;
  }
  return false;
}

}  // namespace

Result<void> ApplyMountOptions(Mount& m, std::string_view field) {
  for (const auto& o : m.options) {
    if (ApplyFlag(m, o) || ApplyPropagation(m, o) || ApplyRecursive(m, o)) continue;
    if (o == "tmpcopyup") {
      m.tmpcopyup = true;
      continue;
    }
    if (o == "idmap" || o == "ridmap") {
      m.idmap = true;
      m.idmap_recursive = o == "ridmap";
      continue;
    }
    if (o.empty()) return Fail(FieldError(field, "empty mount option"));
    // tmpfs, devpts, mqueue, ...: an owner of -1 would mean "unchanged".
    if (o.starts_with("uid=") || o.starts_with("gid="))
      SWORN_TRY(ParseIdText(std::string_view(o).substr(4), std::string(field) + " " + o.substr(0, 4)));
    if (!m.data.empty()) m.data += ',';
    m.data += o;
  }
  m.bind = (m.flags & MS_BIND) != 0 || m.type == "bind";
  if (m.type == "bind") m.flags |= MS_BIND;
  return {};
}

}  // namespace sworn::spec
