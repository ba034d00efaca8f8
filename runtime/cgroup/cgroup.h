// Placement of a container in its cgroups: one directory per mounted
// hierarchy (cgroup2 and, on hybrid or v1 hosts, every v1 hierarchy).
// Resource limits and the cgroup verbs build on these directories.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "core/fd.h"

namespace sworn::cgroup {

struct Resources;

struct Hierarchy {
  std::string mount;        // /sys/fs/cgroup/memory
  std::string controllers;  // "memory", "cpu,cpuacct", "name=systemd"; "" for cgroup2
  bool v2 = false;
  std::string own_path;     // this process's cgroup in it, from /proc/self/cgroup
};

// Mounted cgroup hierarchies, from /proc/self/mountinfo.
Result<std::vector<Hierarchy>> Discover();

// The components of linux.cgroupsPath ("" and "." dropped). Refused, with an
// error naming the field and the value: a NUL byte, a ".." component, or a
// non-empty path with no component left (it would name a hierarchy root, or
// for a relative path the runtime's own cgroup, and `delete --force` would
// kill everything in it).
Result<std::vector<std::string>> PathComponents(const std::string& cgroups_path);

// Resolves linux.cgroupsPath as runc does for cgroupfs: absolute paths are
// taken from each hierarchy's root, relative ones below the runtime's own
// cgroup; empty means "/sworn/<id>", or when rootless (RootlessCgroups)
// "<id>" below the runtime's own cgroup, as runc's default: a delegated
// cgroup2 subtree is used that way. The result is normalized ("/a/b").
// cgroups_path must have passed PathComponents.
std::string ResolvePath(const std::string& cgroups_path, const std::string& id, const Hierarchy& h);

// Checks the cgroup dirs read from a state file: each must be a mounted
// hierarchy plus the container's own path (cgroups_path and id as in its
// config), normalized and below the hierarchy root.
Result<void> CheckStateDirs(const std::vector<std::string>& dirs, const std::string& cgroups_path,
                            const std::string& id);

// `exec --cgroup`: each spec is "PATH" (every hierarchy) or
// "CTRL[,CTRL]:PATH" (the v1 hierarchies with those controllers), PATH an
// existing cgroup below the container's. Returns dirs with those substituted;
// an error naming the flag and the value if PATH climbs out, names the
// container's own cgroup, or does not exist, or no hierarchy has CTRL.
Result<std::vector<std::string>> SubCgroupDirs(const std::vector<std::string>& dirs,
                                               const std::vector<std::string>& specs);

// The directories of one container. Removed on destruction unless Commit().
// Rootless without a cgroupsPath, hierarchies the user may not write are
// left out (runc's rootless cgroup manager); dirs() may then be empty.
class Placement {
 public:
  static Result<Placement> Create(const std::string& cgroups_path, const std::string& id);
  // --systemd-cgroup: a transient scope (cgroupsPath "slice:prefix:name")
  // with r as unit properties. systemd wants a process in a new scope, so
  // it is started holding this process: the init cloned next is born in
  // it, and Attach moves this process back where it was. Hierarchies
  // systemd leaves out get a directory of the same path, as in runc.
  static Result<Placement> Systemd(const std::string& cgroups_path, const std::string& id, const Resources& r);
  Placement(Placement&&) = default;
  Placement& operator=(Placement&&) = default;
  ~Placement();

  const std::vector<std::string>& dirs() const { return dirs_; }
  // Leaf directories that existed before (empty and thawed, else Create
  // refuses them): delete leaves them in place.
  std::vector<std::string> Reused() const;
  // fd of the cgroup2 directory for clone3(CLONE_INTO_CGROUP), or -1.
  int v2_fd() const { return v2_fd_.get(); }
  // Writes pid into cgroup.procs of every hierarchy (skipping cgroup2 when
  // the process was cloned into it, and those the process joined itself).
  Result<void> Attach(pid_t pid, bool skip_v2, const std::vector<std::string>& joined = {}) const;
  // Whether Attach has anything to write (a hierarchy the process neither
  // joined itself nor was cloned into, or systemd's rejoin).
  bool NeedsAttach(bool skip_v2, const std::vector<std::string>& joined) const;
  void Commit() { committed_ = true; }

 private:
  Placement() = default;
  std::vector<std::string> dirs_;
  std::vector<std::string> created_;  // directories this call made, deepest last
  UniqueFd v2_fd_;
  std::string v2_dir_;  // the cgroup2 directory v2_fd_ opens
  bool committed_ = false;
  std::string unit_;                  // systemd scope: stopped on destruction unless committed
  std::vector<std::string> rejoin_;   // where this process was before systemd moved it
  void Rejoin() const;
  // The dirs Attach writes the pid into.
  std::vector<std::string> ToAttach(bool skip_v2, const std::vector<std::string>& joined) const;
};

// Below: teardown.cc.
// dir and every cgroup below it, parents first.
std::vector<std::string> Tree(const std::string& dir);
// Whether pid is in one of dirs or below it, by /proc/PID/cgroup: a pid
// from a state file that is anywhere else is not the container's.
bool Contains(const std::vector<std::string>& dirs, pid_t pid);
// Pids in the container's cgroup (read from the first hierarchy that has it).
std::vector<pid_t> Pids(const std::vector<std::string>& dirs);
// Sends sig to every process in the cgroup.
Result<void> SignalAll(const std::vector<std::string>& dirs, int sig);
// SIGKILL to every process until the cgroups are empty (thawing them).
Result<void> KillAll(const std::vector<std::string>& dirs);
// The leaf directories of a not yet created container that exist already.
std::vector<std::string> Existing(const std::vector<std::string>& dirs);
// Kills what is left, waits for the cgroups to empty and removes them;
// `keep` (directories the container reused) are emptied but not removed.
Result<void> Destroy(const std::vector<std::string>& dirs, const std::vector<std::string>& keep = {});

}  // namespace sworn::cgroup
