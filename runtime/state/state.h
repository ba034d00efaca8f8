// Container state under --root: one directory per container holding
// state.json, the exec fifo (present while the container is `created`) and a
// lock. There is no daemon; every command takes the container's flock, so
// concurrent commands on one id are serialized.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fd.h"

namespace sworn::state {

// kUnknown: the state file is damaged; only `list` reports it.
enum class Status { kCreating, kCreated, kRunning, kPaused, kStopped, kUnknown };
const char* StatusName(Status s);

// Container ids as runc accepts them: [A-Za-z0-9_+.-]+, not "." or "..".
Result<void> ValidateId(std::string_view id);

struct ContainerState {
  std::string id;
  std::string oci_version;
  std::string bundle, rootfs;
  std::string created;  // RFC 3339 with nanoseconds, UTC
  uid_t owner_uid = 0;
  pid_t pid = 0;        // 0 until the init process exists
  uint64_t pid_start = 0;  // /proc/PID/stat starttime, guards against pid reuse
  std::map<std::string, std::string> annotations;
  std::vector<std::string> cgroup_dirs;  // absolute paths, one per hierarchy
  // Those of cgroup_dirs that existed before create: emptied by delete, not
  // removed, and left alone entirely if the init never got placed (pid 0).
  std::vector<std::string> cgroup_reused;
  bool systemd_cgroup = false;  // --systemd-cgroup: a transient scope, stopped by delete
  nlohmann::json config;  // the bundle's config.json as created (poststop hooks)
  // config.json's text, when this process read it: Dump writes it as is
  // rather than serialising config again (it parses to config).
  std::string config_text;

  nlohmann::json ToJson() const;
  std::string Dump() const;  // ToJson().dump(), without copying config
  static Result<ContainerState> FromJson(const nlohmann::json& j);

 private:
  nlohmann::json FieldsButConfig() const;
};

// A container's directory, locked for as long as this object lives.
class ContainerDir {
 public:
  // Creates <root>/<id>; fails with kAlreadyExists if the id is taken.
  static Result<ContainerDir> Create(const std::string& root, std::string_view id);
  // Opens an existing container; fails with kNotFound naming the id.
  // Readers (state, list, exec) pass lock=false: state.json is replaced
  // atomically, and they must not wait for a create that is running hooks.
  static Result<ContainerDir> Open(const std::string& root, std::string_view id, bool lock = true);

  const std::string& path() const { return path_; }
  const std::string& id() const { return id_; }
  std::string FifoPath() const { return path_ + "/exec.fifo"; }
  // Held open by the init until its execve (close-on-exec): EOF on it tells
  // `start` that the user's program runs, so poststart hooks come after it.
  std::string ExecDonePath() const { return path_ + "/exec.done"; }

  // Reads state.json: a regular file (never a symlink or fifo) of bounded
  // size and nesting, whose id and cgroup dirs must be the container's own.
  // kNotFound if there is none (a create interrupted before its first save).
  Result<ContainerState> Load() const;
  Result<void> Save(const ContainerState& s) const;
  // Status from the kernel's view: is the pid alive (and the same process),
  // is the exec fifo still there, is its cgroup frozen.
  Status CurrentStatus(const ContainerState& s) const;
  // Removes the directory and everything in it.
  Result<void> Remove();

 private:
  ContainerDir(std::string path, std::string id, UniqueFd lock)
      : path_(std::move(path)), id_(std::move(id)), lock_(std::move(lock)) {}
  std::string path_, id_;
  UniqueFd lock_;
};

// Ids of all containers under root, sorted.
Result<std::vector<std::string>> ListIds(const std::string& root);

// Start time of a process (field 22 of /proc/PID/stat), 0 if it is gone.
uint64_t ProcessStartTime(pid_t pid);
// True if pid runs and is not a zombie, and its start time matches.
bool ProcessAlive(pid_t pid, uint64_t start);

}  // namespace sworn::state
