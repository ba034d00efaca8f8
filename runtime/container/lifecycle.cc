// start, kill, delete, state, list.
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "cgroup/cgroup.h"
#include "cgroup/resources.h"
#include "cgroup/stats.h"
#include "cgroup/systemd.h"
#include "container/container.h"
#include "core/log.h"
#include "core/sys.h"
#include "linux/rootfs.h"
#include "process/hooks.h"
#include "process/sync.h"

namespace sworn::container {
namespace {

using state::Status;

Error NotRunning(const std::string& id, Status s) {
  return MakeError(Errc::kBadState, "container \"" + id + "\" is " + state::StatusName(s));
}

// Waits up to timeout_ms for a process (not necessarily our child) to exit.
bool WaitGone(pid_t pid, uint64_t start, int timeout_ms) {
  auto fd = PidfdOpen(pid);
  if (!fd) return true;
  if (!state::ProcessAlive(pid, start)) return true;
  pollfd p{fd->get(), POLLIN, 0};
  int r;
  do r = poll(&p, 1, timeout_ms);
  while (r < 0 && errno == EINTR);
  return r > 0;
}

bool IsFifo(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

Result<spec::Hooks> StoredHooks(const state::ContainerState& st) {
  return spec::ParseHooks(st.config);
}

// poststart failures are warnings: the container is already running.
// runtime-spec 1.3.0 lifecycle step 9: a failing poststart hook is an error
// of `start`, and the container is stopped (delete continues from there).
Result<void> RunPoststart(const state::ContainerState& st) {
  auto hooks = StoredHooks(st);
  if (!hooks || hooks->poststart.empty()) return {};
  auto r = process::RunHooks(hooks->poststart, "poststart", HookState(st, Status::kRunning));
  if (r) return {};
  if (auto pidfd = PidfdOpen(st.pid); pidfd && state::ProcessAlive(st.pid, st.pid_start)) {
    (void)PidfdSendSignal(pidfd->get(), SIGKILL);
    (void)WaitGone(st.pid, st.pid_start, 5000);
  }
  Error e = r.error();
  e.context += " (the container was stopped; delete it)";
  return Fail(e);
}

// Polls fd until it is readable or the init is gone. A cgroup frozen
// meanwhile (by `pause`, or a parent's freezer) stops the init short of its
// execve; then start fails instead of waiting for a thaw that may never come.
Result<void> AwaitInit(const state::ContainerDir& dir, const state::ContainerState& st, int fd) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 200) != 0) return {};
    if (!state::ProcessAlive(st.pid, st.pid_start)) return {};
    if (dir.CurrentStatus(st) == Status::kPaused)
      return Fail(MakeError(Errc::kBadState, "container \"" + st.id +
                                                 "\" was frozen before its process started; resume it to let it run"));
  }
}

// Waits for EOF on exec.done: the init's execve or death. The fd is
// O_NONBLOCK: read gives EOF once no writer is left and EAGAIN while the
// init holds one (poll alone misses the EOF when the writer was gone before
// our open: the kernel then holds back POLLHUP).
Result<void> AwaitExecDone(const state::ContainerDir& dir, const state::ContainerState& st, int fd) {
  for (;;) {
    char c;
    ssize_t n = read(fd, &c, 1);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return {};
    SWORN_TRY(AwaitInit(dir, st, fd));
    if (!state::ProcessAlive(st.pid, st.pid_start)) return {};
  }
}

}  // namespace

std::string HookState(const state::ContainerState& st, Status status) {
  nlohmann::json j = {{"ociVersion", st.oci_version}, {"id", st.id},        {"status", state::StatusName(status)},
                      {"pid", st.pid},                {"bundle", st.bundle}, {"annotations", st.annotations}};
  return j.dump();
}

Result<Info> Inspect(const std::string& root, const std::string& id) {
  auto dir = SWORN_TRY(state::ContainerDir::Open(root, id, /*lock=*/false));
  auto st = SWORN_TRY(dir.Load());
  return Info{st, dir.CurrentStatus(st)};
}

nlohmann::ordered_json StateJson(const Info& info) {
  const auto& st = info.st;
  std::string owner;
  // A damaged state has no owner on record, not root's.
  if (info.status != Status::kUnknown) owner = HostUserName(st.owner_uid);
  bool alive = info.status != Status::kStopped;
  nlohmann::ordered_json j = {{"ociVersion", st.oci_version}, {"id", st.id}, {"pid", alive ? st.pid : 0},
                              {"status", state::StatusName(info.status)}, {"bundle", st.bundle},
                              {"rootfs", st.rootfs}, {"created", st.created}};
  if (!st.annotations.empty()) j["annotations"] = st.annotations;
  j["owner"] = owner;
  return j;
}

Result<std::vector<Info>> List(const std::string& root) {
  std::vector<Info> out;
  for (const auto& id : SWORN_TRY(state::ListIds(root))) {
    auto info = Inspect(root, id);
    if (info) {
      out.push_back(std::move(*info));
    } else if (info.error().code != Errc::kNotFound) {
      // A damaged state stays visible: its init may still run.
      log::Warn("container \"" + id + "\": " + info.error().Message());
      Info damaged{{}, Status::kUnknown};
      damaged.st.id = id;
      out.push_back(std::move(damaged));
    }
  }
  return out;
}

Result<void> Start(const std::string& root, const std::string& id) {
  auto dir = SWORN_TRY(state::ContainerDir::Open(root, id));
  auto st = SWORN_TRY(dir.Load());
  Status s = dir.CurrentStatus(st);
  if (s != Status::kCreated)
    return Fail(MakeError(Errc::kBadState, "cannot start container \"" + id + "\": it is " + state::StatusName(s)));
  // Opened before the start byte goes out, so the init's exec cannot be missed.
  UniqueFd done(open(dir.ExecDonePath().c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (done && !IsFifo(done.get())) done.reset();
  UniqueFd fifo(open(dir.FifoPath().c_str(), O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (!fifo) {
    if (errno == ENXIO) return Fail(MakeError(Errc::kBadState, "container \"" + id + "\": its init process is gone"));
    return Fail(SysError("open", dir.FifoPath()));
  }
  // Whatever else stands there (a file, a device) must not get the byte.
  if (!IsFifo(fifo.get()))
    return Fail(MakeError(Errc::kBadState, dir.FifoPath() + ": not a fifo (the container's state is damaged)"));
  if (write(fifo.get(), "0", 1) != 1) return Fail(SysError("write", dir.FifoPath()));
  unlink(dir.FifoPath().c_str());
  // The init holds exec.done's only writer until execve (close-on-exec):
  // EOF means the user's program runs (or the init died), and only then may
  // poststart hooks run, as the spec orders them.
  if (done) {
    SWORN_TRY(AwaitExecDone(dir, st, done.get()));
    unlink(dir.ExecDonePath().c_str());
  }
  return RunPoststart(st);
}

Result<void> StartCreated(const std::string& root, const std::string& id, Created& c) {
  if (!c.sync) return Start(root, id);
  process::SyncSocket sync(std::move(c.sync));
  auto dir = SWORN_TRY(state::ContainerDir::Open(root, id, /*lock=*/false));
  const auto& st = c.st;
  if (!c.started) SWORN_TRY(sync.Send(process::SyncType::kStart));
  // The init's end of the socket closes with its execve: then poststart.
  SWORN_TRY(AwaitInit(dir, st, sync.fd()));
  if (auto m = sync.Recv(); m && m->type == process::SyncType::kError)
    return Fail(Error{Errc::kSystem, m->err, m->text});
  return RunPoststart(st);
}

Result<void> Kill(const std::string& root, const std::string& id, int sig, bool all) {
  // No lock: kill must work from a hook while create holds it, and the pidfd
  // with the start-time check below keeps it safe.
  auto dir = SWORN_TRY(state::ContainerDir::Open(root, id, /*lock=*/false));
  auto st = SWORN_TRY(dir.Load());
  Status s = dir.CurrentStatus(st);
  if (s == Status::kCreating || (!all && s == Status::kStopped)) return Fail(NotRunning(id, s));
  auto set = SWORN_TRY(cgroup::ResolveSet(st.cgroup_dirs));
  bool paused = s == Status::kPaused;
  if (all && sig == SIGKILL) return cgroup::KillAll(st.cgroup_dirs);
  if (all) {
    // As runc: freeze so nothing forks past the signal, signal, thaw.
    if (!paused) (void)cgroup::Freeze(set, true);
    auto r = cgroup::SignalAll(st.cgroup_dirs, sig);
    if (!paused || sig == SIGKILL) (void)cgroup::Freeze(set, false);
    return r;
  }
  auto pidfd = SWORN_TRY(PidfdOpen(st.pid));
  // The pidfd pins the process; checking the start time after opening it
  // makes sure we signal the container's init and not a recycled pid.
  if (!state::ProcessAlive(st.pid, st.pid_start)) return Fail(NotRunning(id, Status::kStopped));
  SWORN_TRY(PidfdSendSignal(pidfd.get(), sig));
  // A frozen task takes SIGKILL only once thawed (runc thaws too).
  if (paused && sig == SIGKILL) SWORN_TRY(cgroup::Freeze(set, false));
  return {};
}

namespace {

Result<void> DeleteLoaded(state::ContainerDir& dir, const std::string& id, const state::ContainerState& st,
                          bool force) {
  Status s = dir.CurrentStatus(st);
  // The create that held the lock is gone if we got it: "creating" is dead.
  bool live = s == Status::kCreated || s == Status::kRunning || s == Status::kPaused;
  if (live && !force)
    return Fail(MakeError(Errc::kBadState, "cannot delete container \"" + id + "\": it is " + state::StatusName(s) +
                                               " (stop it first, or use --force)"));
  if (live) {
    if (auto pidfd = PidfdOpen(st.pid); pidfd && state::ProcessAlive(st.pid, st.pid_start))
      (void)PidfdSendSignal(pidfd->get(), SIGKILL);
  }
  // Reused cgroups passed create's emptiness check only once the init is
  // placed (pid saved); before that, what is in them is someone else's.
  std::vector<std::string> dirs;
  for (const auto& d : st.cgroup_dirs)
    if (st.pid != 0 || std::find(st.cgroup_reused.begin(), st.cgroup_reused.end(), d) == st.cgroup_reused.end())
      dirs.push_back(d);
  if (!dirs.empty()) SWORN_TRY(cgroup::Destroy(dirs, st.cgroup_reused));
  // Usually systemd stopped the scope once it emptied; StopUnit makes sure.
  if (st.systemd_cgroup) {
    auto cgroups_path = st.config.value("/linux/cgroupsPath"_json_pointer, std::string());
    auto unit = SWORN_TRY(cgroup::systemd::ParsePath(cgroups_path, id));
    SWORN_TRY(cgroup::systemd::StopUnit(unit.scope));
  }
  if (live && !WaitGone(st.pid, st.pid_start, 5000))
    return Fail(MakeError(Errc::kTimeout, "container \"" + id + "\": init did not exit after SIGKILL"));
  auto hooks = StoredHooks(st);
  if (hooks) process::RunHooksWarn(hooks->poststop, "poststop", HookState(st, Status::kStopped));
  if (auto r = linux_fs::DetachHostMounts(dir.path(), st.rootfs); !r) log::Warn(r.error().Message());
  return dir.Remove();
}

}  // namespace

Result<void> Delete(const std::string& root, const std::string& id, bool force) {
  auto opened = state::ContainerDir::Open(root, id);
  // runc and crun: forcing the delete of a container that is gone succeeds.
  if (!opened && force && opened.error().code == Errc::kNotFound) return {};
  auto dir = SWORN_TRY(std::move(opened));
  auto loaded = dir.Load();
  if (!loaded) {
    // A create killed before it saved any state left only the directory.
    if (loaded.error().code == Errc::kNotFound) return dir.Remove();
    // As runc: a damaged state names no cgroup or process we could trust to
    // kill, so keep everything and say so.
    return Fail(MakeError(loaded.error().code, "cannot delete container \"" + id + "\": its state is damaged (" +
                                                   loaded.error().Message() + "); nothing was removed"));
  }
  return DeleteLoaded(dir, id, *loaded, force);
}

Result<void> DeleteCreated(const std::string& root, const std::string& id, const state::ContainerState& st) {
  auto opened = state::ContainerDir::Open(root, id);
  // Deleted meanwhile (a `delete --force` from elsewhere): nothing is left.
  if (!opened && opened.error().code == Errc::kNotFound) return {};
  auto dir = SWORN_TRY(std::move(opened));
  return DeleteLoaded(dir, id, st, true);
}

Result<int> ParseSignal(std::string_view s) {
  if (s.empty()) return Fail(MakeError(Errc::kInvalidArgument, "signal: empty"));
  if (s.find_first_not_of("0123456789") == std::string_view::npos) {
    // atoi wraps: 4294967305 would be 9, SIGKILL. No signal has 4 digits.
    int n = s.size() > 3 ? -1 : std::atoi(std::string(s).c_str());
    // 0 checks that the container's init exists (kill(2), runc, crun).
    if (n < 0 || n >= NSIG) return Fail(MakeError(Errc::kInvalidArgument, "signal " + std::string(s) + ": out of range"));
    return n;
  }
  std::string name(s);
  for (auto& c : name) c = static_cast<char>(toupper(c));
  if (StartsWith(name, "SIG")) name = name.substr(3);
  for (int n = 1; n < NSIG; ++n) {
    const char* abbrev = sigabbrev_np(n);
    if (abbrev && name == abbrev) return n;
  }
  if (StartsWith(name, "RTMIN") || StartsWith(name, "RTMAX")) {
    bool min = name[3] == 'I';
    std::string off = name.substr(5);
    if (off.size() > 4) return Fail(MakeError(Errc::kInvalidArgument, "unknown signal \"" + std::string(s) + "\""));
    int k = off.empty() ? 0 : std::atoi(off.c_str());
    int n = min ? SIGRTMIN + k : SIGRTMAX + k;
    if (n >= SIGRTMIN && n <= SIGRTMAX && (off.empty() || off[0] == '+' || off[0] == '-')) return n;
  }
  return Fail(MakeError(Errc::kInvalidArgument, "unknown signal \"" + std::string(s) + "\""));
}

}  // namespace sworn::container
