// Turning a Nomad task into an OCI bundle sworn can run.
//
// Nomad hands the driver its configuration as go-cty msgpack (SetConfig's
// plugin config, each task's driver config) and the task itself as a
// TaskConfig message. This library decodes the former, takes the latter as
// a plain TaskRequest (the driver converts from protobuf), and writes a
// bundle directory: config.json plus an empty rootfs/ that sworn fills with
// bind mounts (chroot_env read-only; alloc/, local/, secrets/, tmp/
// read-write where Nomad's environment says they are).
//
//   auto plugin = SWORN_TRY(ParsePluginConfig(SWORN_TRY(DecodeCtyMsgpack(bytes, "plugin config"))));
//   auto task = SWORN_TRY(ParseTaskDriverConfig(SWORN_TRY(DecodeCtyMsgpack(t.msgpack, "task config"))));
//   auto b = SWORN_TRY(BuildBundle(req, task, plugin));
//   SWORN_TRY(WriteBundle(b));      // b.dir/config.json, b.dir/rootfs, resolv.conf, hosts
//
// Depends only on the runtime core (errors, promise tables); never on gRPC.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace sworn::bundle {

// go-cty msgpack → JSON: maps → objects, arrays → arrays, str and bin →
// strings, ints and floats → numbers, nil → null. Empty input → {}.
// Malformed input, unknown values (ext type 0) and any other ext type are
// kInvalidArgument errors naming `what` and the byte offset where known.
Result<nlohmann::json> DecodeCtyMsgpack(std::string_view bytes, std::string_view what);

// exec's default chroot_env: host path → path in the task's root.
const std::map<std::string, std::string>& DefaultChrootEnv();
// exec's default capabilities (Docker's minus NET_RAW), without "CAP_".
const std::vector<std::string>& DefaultCaps();

// `plugin "sworn" { config { ... } }`. Every field has a default, so an empty
// or absent config is valid. HCL names in comments.
struct PluginConfig {
  std::string sworn_path;                            // sworn_path: "" = beside the plugin, then PATH
  std::string state_dir = "/run/nomad-driver-sworn";  // state_dir: sworn --root and driver state
  std::map<std::string, std::string> chroot_env;     // chroot_env: empty in config = DefaultChrootEnv()
  std::vector<std::string> allow_caps = DefaultCaps();  // allow_caps: may hold "all"
  std::string default_pid_mode = "private";          // default_pid_mode: private | host
  std::string default_ipc_mode = "private";          // default_ipc_mode: private | host
  bool allow_host_pid = false;                       // allow_host_pid: may a task ask pid_mode = "host"?
  bool allow_host_ipc = false;                       // allow_host_ipc: may a task ask ipc_mode = "host"?
  std::string cgroup_parent = "/nomad.slice";        // cgroup_parent: used when Nomad gives no cpuset_cgroup
  std::string default_user = "nobody";               // default_user: for a task with no `user` (as exec); "root" allowed
};
// Validates types and values; errors name the field ("allow_caps[2]: unknown capability \"FOO\"").
Result<PluginConfig> ParsePluginConfig(const nlohmann::json& cty);

// The task's `config { ... }`. Field names are the HCL names; a job written
// for the pledge driver (command, args, promises, unveil, importance) parses
// unchanged.
struct TaskDriverConfig {
  std::string command;                  // required
  std::vector<std::string> args;
  std::string promises;                 // "" = no pledge; else space-separated, each a known promise
  std::vector<std::string> unveil;      // "perms:path", perms from rwxc
  std::vector<std::string> unveil_tcp;  // "bind:PORT" / "connect:PORT"
  std::string importance;               // "" = nice 0; else lowest | low | normal | high | highest (pledge's nice)
  std::string penalty;                  // "" (sworn's default, eperm) | eperm | kill
  // Learn mode (sworn.pledge.learn): NOT a sandbox; every call allowed and
  // recorded, the smallest policy proposed at exit (promises ignored).
  bool learn = false;
  std::vector<std::string> cap_add, cap_drop;
  std::string pid_mode, ipc_mode;       // "" = the plugin's default; private | host
  // A minimal PID 1 (sworn.init) that forwards StopTask's and SignalTask's
  // signals to the program and reaps; only with a private pid namespace.
  bool init = true;
  std::string work_dir;                 // "" = "/" (image) or the task dir (host)
  std::string filesystem = "image";     // image | host
};
Result<TaskDriverConfig> ParseTaskDriverConfig(const nlohmann::json& cty);

struct Mount {
  std::string task_path, host_path;
  bool readonly = false;
  std::string propagation_mode;  // "" | private | host-to-task | bidirectional
};
struct Device {
  std::string task_path, host_path, cgroup_permissions;
};

// What the driver takes from Nomad's TaskConfig message.
struct TaskRequest {
  std::string id;        // "<alloc_id>/<task>/<8 hex>"
  std::string name;      // task name
  std::string alloc_id;
  std::string alloc_dir;  // host path; the task dir is alloc_dir/name
  std::string user;       // "" = the plugin's default_user; a name, "uid" or "uid:gid"
  std::map<std::string, std::string> env;
  int64_t cpu_shares = 0;     // MHz; linux_resources.cpu_shares
  int64_t memory_mb = 0, memory_max_mb = 0;
  std::string cpuset_cpus;    // reserved cores
  std::string cpuset_cgroup;  // Nomad's task cgroup, absolute (/sys/fs/cgroup/...) or relative
  std::vector<Mount> mounts;
  std::vector<Device> devices;
  std::string netns_path;     // network_isolation_spec.path (group mode), "" = host network
  std::string hostname, host_address;  // network_isolation_spec.hostsConfig
  std::vector<std::string> dns_servers, dns_searches, dns_options;
};

// A container id for sworn from Nomad's task id: [A-Za-z0-9_.-] only,
// unique per task id, at most 128 bytes.
std::string ContainerId(std::string_view task_id);
std::string TaskDir(const TaskRequest& t);  // alloc_dir/name

struct Bundle {
  std::string dir;               // TaskDir/sworn
  std::string container_id;
  std::string cgroups_path;      // as in config.json linux.cgroupsPath
  bool reuse_cgroup = false;     // Nomad's own cgroup: sworn delete keeps it; the driver recreates it if gone
  nlohmann::json config;         // the OCI config
  std::string resolv_conf, hosts;  // file contents to write beside config.json ("" = none)
};

// Builds the OCI config. Checks what can be checked before sworn runs and
// names the field or path: unknown promise, unveil path missing on the host
// side of its mount, cap_add outside allow_caps, host pid/ipc not allowed,
// unknown user, command empty.
Result<Bundle> BuildBundle(const TaskRequest& t, const TaskDriverConfig& c, const PluginConfig& p);
// Writes dir/config.json atomically, creates dir/rootfs (0755), and the
// resolv.conf / hosts files when set. Replaces an older bundle in place.
Result<void> WriteBundle(const Bundle& b);

}  // namespace sworn::bundle
