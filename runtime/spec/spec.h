// Typed view of an OCI bundle's config.json (runtime-spec config.md and
// config-linux.md). ParseSpec validates while it converts: every error names
// the JSON field ("process.args[0]", "mounts[3].destination"). nlohmann
// exceptions never leave this module.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace sworn::spec {

// The runtime-spec version sworn implements: state, features, `spec`, --version.
inline constexpr char kSpecVersion[] = "1.3.0";

struct User {
  uid_t uid = 0;
  gid_t gid = 0;
  std::optional<mode_t> umask;
  std::vector<gid_t> additional_gids;
};

struct Rlimit {
  std::string name;  // "RLIMIT_NOFILE"
  int resource = 0;
  uint64_t soft = 0, hard = 0;
};

struct Capabilities {
  // Each set holds capability numbers (CAP_*), already validated.
  std::vector<int> bounding, effective, inheritable, permitted, ambient;
  // Names this libcap does not know: dropped, warned about at create/exec
  // (config.md: log a warning, SHOULD NOT fail).
  std::vector<std::string> unknown;
};

struct IoPriority {
  int klass = 0;  // IOPRIO_CLASS_*
  int priority = 0;
};

struct Scheduler {
  int policy = 0;  // SCHED_*
  int nice = 0;
  int priority = 0;
  uint64_t flags = 0;  // SCHED_FLAG_*
  uint64_t runtime = 0, deadline = 0, period = 0;
};

struct Process {
  bool terminal = false;
  unsigned console_height = 0, console_width = 0;
  User user;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::optional<int> oom_score_adj;
  std::string apparmor_profile, selinux_label;
  std::optional<IoPriority> io_priority;
  std::optional<Scheduler> scheduler;
};

// A mount with its options already split into what mount(2) and
// mount_setattr(2) take.
struct IdMap {
  uint32_t container_id = 0, host_id = 0, size = 0;
};

struct Mount {
  std::string destination, type, source;
  std::vector<std::string> options;  // as written
  unsigned long flags = 0;           // MS_* to set
  unsigned long propagation = 0;     // MS_SHARED/MS_SLAVE/... (| MS_REC)
  uint64_t attr_set = 0, attr_clr = 0;  // MOUNT_ATTR_* for the recursive r* options
  std::string data;                  // fs-specific options ("size=64k,mode=755")
  bool bind = false;
  bool tmpcopyup = false;
  // An id-mapped mount (uidMappings/gidMappings on the mount, or the
  // "idmap"/"ridmap" options with the container's own maps): the runtime
  // makes it with open_tree + mount_setattr(MOUNT_ATTR_IDMAP).
  bool idmap = false, idmap_recursive = false;
  std::vector<IdMap> uid_mappings, gid_mappings;
};

enum class NsType { kPid, kNetwork, kMount, kIpc, kUts, kUser, kCgroup, kTime };

struct Namespace {
  NsType type;
  std::string path;  // empty: create a new one
};

struct Device {
  std::string path;
  char type = 'c';  // c, b, u, p
  int64_t major = 0, minor = 0;
  std::optional<mode_t> file_mode;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
};

struct Hook {
  std::string path;
  std::vector<std::string> args, env;
  bool env_set = false;  // no "env": the hook inherits the runtime's environment (runc, crun)
  std::optional<int> timeout;
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMap> uid_mappings, gid_mappings;
  std::vector<Device> devices;
  std::string cgroups_path;
  nlohmann::json resources;  // typed by the cgroup module
  nlohmann::json seccomp;
  std::map<std::string, std::string> sysctl;
  std::vector<std::string> masked_paths, readonly_paths;
  unsigned long rootfs_propagation = 0;
  std::optional<int64_t> time_monotonic_secs, time_monotonic_nanos, time_boottime_secs, time_boottime_nanos;
  std::string mount_label;
  std::optional<unsigned long> personality;  // PER_LINUX or PER_LINUX32

  const Namespace* Find(NsType t) const;
};

struct Spec {
  std::string oci_version;  // the config's; sworn reports kSpecVersion
  std::string root_path;  // absolute, resolved against the bundle
  bool root_readonly = false;
  std::optional<Process> process;
  std::string hostname, domainname;
  std::vector<Mount> mounts;
  Linux linux;
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  nlohmann::json raw;  // the document as parsed, kept in the container's state
};

// Reads an untrusted JSON file, at most ParseJsonInput's size bound;
// regular_only refuses FIFOs, devices and directories (config.json).
Result<std::string> ReadJsonFile(const std::string& path, std::string_view what, bool regular_only);

// Parses config.json text. `bundle` (absolute) resolves a relative root.path.
Result<Spec> ParseSpec(std::string_view text, const std::string& bundle);
Result<Spec> LoadBundle(const std::string& bundle);
Result<Process> ParseProcess(const nlohmann::json& j, std::string_view field);
Result<Hooks> ParseHooks(const nlohmann::json& j);

Result<std::optional<IoPriority>> ParseIoPriority(const nlohmann::json& proc, const std::string& path);
Result<std::optional<Scheduler>> ParseScheduler(const nlohmann::json& proc, const std::string& path);
Result<void> ParsePersonality(const nlohmann::json& linux_obj, Linux& l);

// linux.sysctl: only keys isolated by a namespace the container has.
Result<void> CheckSysctls(const Spec& s);

// Mount option handling, shared with the CLI's spec defaults.
Result<void> ApplyMountOptions(Mount& m, std::string_view field);

const char* NsName(NsType t);          // "pid", "network", ...
const char* NsProcName(NsType t);      // "pid", "net", ... (the /proc/PID/ns name)
int NsCloneFlag(NsType t);

}  // namespace sworn::spec
