// spec (a default config.json like runc's) and features (what sworn implements).
#include <fcntl.h>
#include <sys/capability.h>
#include <sys/stat.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "core/sys.h"
#include "spec/spec.h"

namespace sworn::cli {
namespace {

using nlohmann::json;

json DefaultMounts(bool rootless) {
  json m = json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
      {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
       {"options", rootless ? json{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
                            : json{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
      {{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
      {{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"}, {"options", {"nosuid", "noexec", "nodev"}}},
  });
  if (rootless)
    m.push_back({{"destination", "/sys"}, {"type", "none"}, {"source", "/sys"},
                 {"options", {"rbind", "nosuid", "noexec", "nodev", "ro"}}});
  else
    m.push_back({{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"}, {"options", {"nosuid", "noexec", "nodev", "ro"}}});
  m.push_back({{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"}, {"source", "cgroup"},
               {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}});
  return m;
}

json DefaultSpec(bool rootless) {
  json caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  json linux = {
      {"namespaces", json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}})},
      {"maskedPaths", {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                       "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}},
      {"readonlyPaths", {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}},
  };
  if (rootless) {
    linux["namespaces"].push_back({{"type", "user"}});
    json map = json::array({{{"containerID", 0}, {"hostID", geteuid()}, {"size", 1}}});
    linux["uidMappings"] = map;
    map[0]["hostID"] = getegid();
    linux["gidMappings"] = map;
  } else {
    linux["namespaces"].insert(linux["namespaces"].begin() + 1, json::object({{"type", "network"}}));
    linux["resources"] = {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}};
  }
  return {
      {"ociVersion", spec::kSpecVersion},
      {"process",
       {{"terminal", true}, {"user", {{"uid", 0}, {"gid", 0}}}, {"args", {"sh"}},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        {"rlimits", json::array({{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}})},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "sworn"},
      {"mounts", DefaultMounts(rootless)},
      {"linux", linux},
  };
}

json AllCapabilities() {
  json out = json::array();
  for (int c = 0; c <= CAP_LAST_CAP; ++c) {
    char* name = cap_to_name(c);
    std::string n = name;
    cap_free(name);
    for (auto& ch : n) ch = static_cast<char>(toupper(ch));
    if (StartsWith(n, "CAP_")) out.push_back(n);
  }
  return out;
}

}  // namespace

int SpecVerb(const Globals&, const std::vector<std::string>& args) {
  std::string bundle = ".";
  bool rootless = false;
  po::options_description d("spec options");
  d.add_options()("bundle,b", po::value(&bundle), "where to write config.json")(
      "rootless", po::bool_switch(&rootless), "a spec for a rootless container");
  auto p = ParseVerb(d, args);
  ExpectArgs("spec", p, 0, 0, "no arguments");
  std::string path = bundle + "/config.json";
  struct stat st;
  if (stat(path.c_str(), &st) == 0) return Report("spec: " + path + " exists; remove it first");
  auto r = WriteFile(path, DefaultSpec(rootless).dump(4) + "\n", O_WRONLY | O_CREAT | O_EXCL, 0644);
  return r ? 0 : Report(r.error().Message());
}

int Features(const Globals&, const std::vector<std::string>& args) {
  po::options_description d("features options");
  auto p = ParseVerb(d, args);
  ExpectArgs("features", p, 0, 0, "no arguments");
  json f = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", spec::kSpecVersion},
      {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions",
       {"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "idmap", "iversion", "lazytime", "loud",
        "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion", "nolazytime", "nomand", "norelatime",
        "nostrictatime", "nosuid", "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec",
        "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime", "rnosuid", "ro",
        "ridmap", "rprivate", "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime", "rsuid", "runbindable", "rw",
        "shared", "silent", "slave", "strictatime", "suid", "sync", "tmpcopyup", "unbindable"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}},
        {"capabilities", AllCapabilities()},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", true}, {"systemdUser", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions", {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                       "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
          {"operators", {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                         "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
          {"archs", {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64"}},
          {"knownFlags", {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                          "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}},
          {"supportedFlags", {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                              "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}},
        {"intelRdt", {{"enabled", false}}},
        {"mountExtensions", {{"idmap", {{"enabled", true}}}}}}},
      {"annotations", {{"org.opencontainers.sworn.version", "0.1.0"}}},
  };
  std::cout << f.dump(4) << "\n";
  return 0;
}

}  // namespace sworn::cli
