// `create`: everything is set up and the init process waits on the exec
// fifo; the user's program runs only after `start`.
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "cgroup/cgroup.h"
#include "cgroup/devices.h"
#include "cgroup/resources.h"
#include "cgroup/self_join.h"
#include "container/container.h"
#include "container/spawn.h"
#include "core/json_input.h"
#include "core/log.h"
#include "core/sys.h"
#include "core/unix_socket.h"
#include "linux/creds.h"
#include "linux/idmap.h"
#include "linux/rootfs.h"
#include "process/hooks.h"
#include "process/init.h"
#include "security/bpf.h"
#include "security/oci_seccomp.h"
#include "security/sandbox.h"
#include "security/dmz.h"

namespace sworn::container {
namespace {

Result<std::string> RealPath(const std::string& p) {
  char buf[PATH_MAX];
  if (!realpath(p.c_str(), buf)) return Fail(SysError("bundle", p));
  return std::string(buf);
}

// Removes a half-made container's directory unless released.
struct DirCleanup {
  state::ContainerDir* dir;
  ~DirCleanup() {
    if (dir) (void)dir->Remove();
  }
};

Result<UniqueFd> MakeFifo(const std::string& path) {
  if (mkfifo(path.c_str(), 0600) < 0) return Fail(SysError("mkfifo", path));
  // O_RDWR never blocks on a fifo and keeps a writer open, so the init's
  // read waits for start's byte instead of seeing EOF.
  UniqueFd fd(open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) return Fail(SysError("open", path));
  return fd;
}

Result<UniqueFd> HooksThenReady(const process::SyncSocket& sync, const state::ContainerDir& dir, pid_t pid,
                                const spec::Spec& spec, state::ContainerState& st,
                                const security::BpfProgram* notify) {
  const auto& h = spec.hooks;
  if (process::AwaitsRuntimeHooks(h)) {
    // Saved with the pid but no start time: `state` run by a hook now
    // reports "creating" with the pid.
    SWORN_TRY(dir.Save(st));
    std::string hs = HookState(st, state::Status::kCreating);
    SWORN_TRY(process::RunHooks(h.prestart, "prestart", hs));
    SWORN_TRY(process::RunHooks(h.create_runtime, "createRuntime", hs));
    SWORN_TRY(sync.Send(process::SyncType::kHooksDone));
  }
  std::vector<std::string> warnings;
  auto pty = SWORN_TRY(AwaitReady(sync, notify, pid, notify ? HookState(st, state::Status::kCreated) : "", &warnings));
  // What Landlock could not enforce on this kernel is also on record.
  std::string dropped;
  for (const auto& w : warnings) dropped += (dropped.empty() ? "" : "; ") + w;
  if (!dropped.empty()) st.annotations["sworn.landlock.warnings"] = dropped;
  return pty;
}

// Issue #15: what can be known before start must not first fail after it.
// A profile that denies both exec calls (errno, kill, trap; a notify
// listener or a tracer may still let them through) lets the container be
// created and started, then it stops without a word: the filter denies the
// init even the write of its error.
Result<void> CheckExecPasses(const security::BpfProgram& p) {
  if (p.empty()) return {};
  auto denied = [&](int nr, uint64_t flags) {
    const uint64_t args[6] = {0, 0, 0, 0, flags, 0};
    uint32_t a = security::EmulateBpf(p.insns, nr, AUDIT_ARCH_X86_64, args) & SECCOMP_RET_ACTION_FULL;
    return a == SECCOMP_RET_ERRNO || a == SECCOMP_RET_KILL_PROCESS || a == SECCOMP_RET_KILL_THREAD ||
           a == SECCOMP_RET_TRAP;
  };
  if (denied(SYS_execve, 0) && denied(SYS_execveat, AT_EMPTY_PATH))
    return Fail(FieldError("linux.seccomp", "denies execve and execveat: the program could never start"));
  return {};
}

// What the parent writes while the child builds its rootfs (process/sync.h).
struct WhileBuilding {
  const cgroup::Resources* devices = nullptr;  // device rules still to write, to `set`
  const cgroup::CgroupSet* set = nullptr;
  bool queue_start = false;  // then kStart, read by the child once it is ready
};

// The parent's half of the sync ladder in process/sync.h.
Result<UniqueFd> DriveChild(const process::SyncSocket& sync, const state::ContainerDir& dir, pid_t pid,
                            const spec::Spec& spec,
                            const cgroup::Placement& cg, bool in_cgroup, state::ContainerState& st,
                            const NsPlan& plan, const security::BpfProgram* notify,
                            const std::vector<std::string>& joined, const WhileBuilding& meanwhile) {
  if (plan.write_maps) SWORN_TRY(WriteIdMaps(pid, spec.linux));
  // A cgroup namespace is rooted where the child is when it unshares, so
  // then it must wait for the join; otherwise both proceed at once.
  if (!plan.unshare_cgroupns) SWORN_TRY(sync.Send(process::SyncType::kGo, pid));
  SWORN_TRY(cg.Attach(pid, in_cgroup, joined));
  log::Debug("create: init attached to its cgroups");
  if (plan.unshare_cgroupns) SWORN_TRY(sync.Send(process::SyncType::kGo, pid));
  // Device rules bind the program, which runs only after kStart.
  if (meanwhile.devices) SWORN_TRY(cgroup::ApplyDeviceRules(*meanwhile.devices, *meanwhile.set));
  if (meanwhile.queue_start) SWORN_TRY(sync.Send(process::SyncType::kStart));
  // kHooksDone goes only after the child asks: queued earlier, it is unread
  // when a child that failed its mounts exits, and the kernel then resets
  // the socket, losing the error the child left for us.
  // Without hooks the child does not wait for it (one round trip less).
  SWORN_TRY(sync.Expect(process::SyncType::kRunHooks));
  st.pid = pid;
  auto pty = HooksThenReady(sync, dir, pid, spec, st, notify);
  // runtime.md: a failing prestart, createRuntime or createContainer hook
  // (or what follows them) stops the container and continues the
  // lifecycle at its destruction, which runs the poststop hooks (as runc's
  // destroy does); they are warnings there.
  if (!pty && !spec.hooks.poststop.empty()) {
    kill(pid, SIGKILL);
    process::RunHooksWarn(spec.hooks.poststop, "poststop", HookState(st, state::Status::kStopped));
  }
  return pty;
}

state::ContainerState InitialState(const CreateOptions& o, const std::string& bundle, const spec::Spec& spec,
                                   nlohmann::json config) {
  state::ContainerState st;
  st.id = o.id;
  st.oci_version = spec::kSpecVersion;
  st.bundle = bundle;
  st.rootfs = spec.root_path;
  st.created = NowRfc3339();
  st.owner_uid = geteuid();
  st.annotations = spec.annotations;
  st.config = std::move(config);
  return st;
}

}  // namespace

Result<Created> Create(const std::string& root, const CreateOptions& o) {
  SWORN_TRY(state::ValidateId(o.id));
  std::string bundle = SWORN_TRY(RealPath(o.bundle));
  std::string text = SWORN_TRY(spec::ReadJsonFile(bundle + "/config.json", "config.json", true));
  auto spec = SWORN_TRY(spec::ParseSpec(text, bundle));
  if (!spec.process) return Fail(FieldError("process", "is required to create a container"));
  auto plan = SWORN_TRY(PlanNamespaces(spec.linux));
  if (spec.process->capabilities)
    if (auto w = linux_creds::DropUngrantable(*spec.process->capabilities, !plan.userns); !w.empty()) log::Warn(w);
  // Checked again by Placement::Create; here before anything exists.
  SWORN_TRY(cgroup::PathComponents(spec.linux.cgroups_path));
  // Compiled here, in the parent: the child only loads bytes.
  log::Debug("create: start");
  auto seccomp = SWORN_TRY(security::CachedCompileOciSeccomp(spec.linux.seccomp, root + "/@cache"));
  SWORN_TRY(CheckExecPasses(seccomp));
  auto resources = SWORN_TRY(cgroup::ParseResources(spec.linux.resources));
  // Id-mapped mounts are made here, with the runtime's privileges; the init attaches them.
  auto idmap_trees = SWORN_TRY(linux_idmap::IdMappedTrees(spec));
  auto sandbox = SWORN_TRY(PrepareSandbox(root, spec.annotations, spec.root_path, *spec.process,
                                          (plan.clone_flags & CLONE_NEWPID) != 0));
  auto pid1 = SWORN_TRY(Pid1For(sandbox.spec, spec.linux));
  // Device rules always apply, as in runc: without them a container with
  // CAP_MKNOD could open the host's disks. linux.devices are allowed unless
  // the spec's rules deny them.
  resources.has_devices = true;
  cgroup::AllowDeviceNodes(resources.devices, spec.linux.devices);
  UniqueFd console;
  if (!o.console_socket.empty()) console = SWORN_TRY(ConnectUnix(o.console_socket, "--console-socket"));
  if (spec.process->terminal && !console && !o.pty_to_parent)
    return Fail(MakeError(Errc::kInvalidArgument, "process.terminal is true: --console-socket is required"));

  log::Debug("create: config parsed");
  auto dir = SWORN_TRY(state::ContainerDir::Create(root, o.id));
  DirCleanup dir_cleanup{&dir};
  auto st = InitialState(o, bundle, spec, std::move(spec.raw));
  // A BOM may open a file but not a value inside another document. A config
  // near the size bound is dumped compact instead, so the state stays below it.
  if (text.size() < kMaxJsonBytes / 2)
    st.config_text = text.starts_with("\xEF\xBB\xBF") ? text.substr(3) : std::move(text);
  // Saved before any cgroup exists, so a create killed at any later point
  // leaves a state that `delete --force` can clean up.
  // (With --systemd-cgroup the path is systemd's to choose: known once the scope exists.)
  st.systemd_cgroup = o.systemd_cgroup;
  if (!o.systemd_cgroup)
    for (const auto& h : SWORN_TRY(cgroup::Discover()))
      st.cgroup_dirs.push_back(h.mount + cgroup::ResolvePath(spec.linux.cgroups_path, o.id, h));
  // What exists now is not ours: such a delete must not remove (or, before
  // the init is placed, empty) it.
  st.cgroup_reused = cgroup::Existing(st.cgroup_dirs);
  SWORN_TRY(dir.Save(st));
  auto cg = o.systemd_cgroup ? SWORN_TRY(cgroup::Placement::Systemd(spec.linux.cgroups_path, o.id, resources))
                             : SWORN_TRY(cgroup::Placement::Create(spec.linux.cgroups_path, o.id));
  st.cgroup_reused = cg.Reused();
  // Rootless, hierarchies the user may not write are left out.
  st.cgroup_dirs = cg.dirs();
  // `run`: the program may start while the state is saved (nothing in the
  // container reads it), unless a startContainer hook could ask for it.
  // --pid-file names the pid before the program runs, as at create.
  bool early_start = o.foreground && spec.hooks.start_container.empty() && o.pid_file.empty();
  // With nothing to wait for between kReady and the start either, the device
  // rules are written while the child builds its rootfs (process/sync.h).
  bool overlap = early_start && !seccomp.notify && !process::AwaitsRuntimeHooks(spec.hooks);
  auto set = SWORN_TRY(cgroup::ResolveSet(cg.dirs()));
  // Limits are in place before the init process joins the cgroup.
  SWORN_TRY(cgroup::Apply(resources, set, !overlap));
  log::Debug("create: cgroups ready");
  // `run` starts the init over the sync socket; only `create` needs the fifo.
  UniqueFd fifo, exec_done;
  if (!o.foreground) {
    fifo = SWORN_TRY(MakeFifo(dir.FifoPath()));
    exec_done = SWORN_TRY(MakeFifo(dir.ExecDonePath()));
  }
  auto [parent_sock, child_sock] = SWORN_TRY(process::SyncSocket::Pair());

  process::InitRequest req;
  req.spec = &spec;
  req.id = o.id;
  req.sync = &child_sock;
  req.fifo_fd = fifo.get();
  req.exec_done_fd = exec_done.get();
  req.console_fd = console.get();
  req.pty_to_parent = o.pty_to_parent;
  req.no_pivot = o.no_pivot;
  req.no_new_keyring = o.no_new_keyring;
  req.preserve_fds = o.preserve_fds;
  req.userns = plan.userns;
  req.unshare_cgroupns = plan.unshare_cgroupns;
  req.unshare_flags = plan.unshare_flags;
  req.joins = std::move(plan.joins);
  req.cgroup_dirs = cg.dirs();
  auto self_join = cgroup::OpenSelfJoin(cg.dirs());
  req.join_fds = self_join.raw();
  req.join_dirs = self_join.dirs;
  for (const auto& t : idmap_trees) req.idmap_fds.push_back(t.get());
  // The state hooks in the container get on stdin (none: no JSON to build).
  if (!spec.hooks.create_container.empty() || !spec.hooks.start_container.empty())
    req.hook_state = nlohmann::json::parse(HookState(st, state::Status::kCreating));
  if (!seccomp.empty()) req.filters.push_back(&seccomp);
  auto dmz = SWORN_TRY(TrampolineFor(seccomp));
  dmz.AttachTo(req);
  // Denials of `run` are printed on its stderr too; a detached container's
  // only go to its record (a caller reading create's stderr to EOF must not
  // wait for the container).
  SWORN_TRY(StartPledgeReporter(sandbox, dir.path(), o.foreground, spec.process->args));
  sandbox.AttachTo(req);
  req.pid1_fd = pid1.get();

  Spawned child;
  {
    auto scope = SWORN_TRY(ChildNsScope::Enter(plan, spec.linux));
    child = SWORN_TRY(Spawn(plan.clone_flags, cg.v2_fd(), [&] {
      parent_sock.Close();
      process::ContainerInit(req);
    }));
  }
  ChildGuard guard(child.pid, child.pidfd.get());
  child_sock.Close();
  log::Debug("create: cloned init " + std::to_string(child.pid));
  plan.joins = std::move(req.joins);
  WhileBuilding meanwhile;
  if (overlap) meanwhile = {&resources, &set, !cg.NeedsAttach(child.in_cgroup, self_join.dirs)};
  auto pty = SWORN_TRY(DriveChild(parent_sock, dir, child.pid, spec, cg, child.in_cgroup, st, plan,
                                  seccomp.notify ? &seccomp : nullptr, self_join.dirs, meanwhile));

  log::Debug("create: init ready");
  if (early_start && !meanwhile.queue_start) SWORN_TRY(parent_sock.Send(process::SyncType::kStart));
  st.pid = child.pid;
  st.pid_start = state::ProcessStartTime(child.pid);
  SWORN_TRY(dir.Save(st));
  if (!o.pid_file.empty())
    SWORN_TRY(WithContext(WriteFileAtomic(o.pid_file, std::to_string(child.pid)), "--pid-file"));
  if (!spec.linux.Find(spec::NsType::kMount)) SWORN_TRY(linux_fs::RecordHostMounts(dir.path(), spec.root_path));
  cg.Commit();
  guard.Release();
  dir_cleanup.dir = nullptr;
  Created out{child.pid, std::move(child.pidfd), std::move(pty)};
  out.pid1 = pid1.get() >= 0;
  out.started = early_start;
  if (o.foreground) out.sync = UniqueFd(dup(parent_sock.fd()));
  out.st = std::move(st);
  return out;
}

}  // namespace sworn::container
