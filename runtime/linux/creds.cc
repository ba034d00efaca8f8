#include "linux/creds.h"

#include <grp.h>
#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <cstdlib>

#include "core/sys.h"

namespace sworn::linux_creds {
namespace {

using CapPtr = std::unique_ptr<std::remove_pointer_t<cap_t>, decltype(&cap_free)>;

bool Contains(const std::vector<int>& v, int c) {
  for (int x : v)
    if (x == c) return true;
  return false;
}

// The bounding set as a mask. Probing it is one prctl per capability; the
// status file is one read. Cached: the init, a copy of the runtime made
// after validation probed it, inherits the answer.
std::optional<uint64_t> g_bounding;

uint64_t BoundingSet() {
  if (g_bounding) return *g_bounding;
  uint64_t mask = 0;
  if (auto bnd = SelfStatusMask("CapBnd")) {
    mask = *bnd;
  } else {
    for (int c = 0; c < 64; ++c) {
      int r = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
      if (r < 0) break;
      if (r == 1) mask |= uint64_t{1} << c;
    }
  }
  g_bounding = mask;
  return mask;
}

Result<void> DropBounding(const std::vector<int>& keep) {
  uint64_t have = BoundingSet(), kept = 0;
  for (int c = 0; c < 64; ++c) {
    if (!(have >> c & 1)) continue;
    if (Contains(keep, c)) {
      kept |= uint64_t{1} << c;
      continue;
    }
    if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      return Fail(SysError("cap_drop_bound", cap_to_name(c)));
  }
  g_bounding = kept;
  return {};
}

bool Grantable(int c, bool check_bounding) {
  if (c < 0 || c > static_cast<int>(cap_max_bits()) - 1) return false;
  return !check_bounding || (c < 64 && (BoundingSet() >> c & 1));
}

Result<void> SetProcCaps(const spec::Capabilities& caps) {
  CapPtr c(cap_init(), &cap_free);
  if (!c) return Fail(SysError("cap_init"));
  auto set = [&](const std::vector<int>& v, cap_flag_t flag) {
    if (v.empty()) return 0;
    std::vector<cap_value_t> vals(v.begin(), v.end());
    return cap_set_flag(c.get(), flag, static_cast<int>(vals.size()), vals.data(), CAP_SET);
  };
  if (set(caps.effective, CAP_EFFECTIVE) < 0 || set(caps.permitted, CAP_PERMITTED) < 0 ||
      set(caps.inheritable, CAP_INHERITABLE) < 0)
    return Fail(SysError("cap_set_flag"));
  if (cap_set_proc(c.get()) < 0) return Fail(SysError("capset"));
  // One prctl; libcap's cap_reset_ambient first asks about every capability.
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return Fail(SysError("prctl PR_CAP_AMBIENT_CLEAR_ALL"));
  for (int a : caps.ambient)
    // Raising ambient needs the cap in permitted and inheritable; runc and
    // crun skip those that cannot be raised rather than failing.
    if (cap_set_ambient(a, CAP_SET) < 0 && errno != EPERM) return Fail(SysError("cap_set_ambient", cap_to_name(a)));
  return {};
}

}  // namespace

Result<void> ApplyRlimits(const std::vector<spec::Rlimit>& rlimits) {
  for (const auto& r : rlimits) {
    rlimit l{r.soft, r.hard};
    if (setrlimit(r.resource, &l) < 0) return Fail(SysError("setrlimit", r.name));
  }
  return {};
}

Result<void> SwitchUserAndCaps(const spec::User& user, const std::optional<spec::Capabilities>& caps) {
  spec::Capabilities none;
  const spec::Capabilities& c = caps ? *caps : none;
  SWORN_TRY(DropBounding(c.bounding));
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return Fail(SysError("prctl PR_SET_KEEPCAPS"));
  if (setgroups(user.additional_gids.size(), user.additional_gids.data()) < 0 && errno != EPERM)
    return Fail(SysError("setgroups"));
  if (setresgid(user.gid, user.gid, user.gid) < 0) return Fail(SysError("setresgid", std::to_string(user.gid)));
  if (setresuid(user.uid, user.uid, user.uid) < 0) return Fail(SysError("setresuid", std::to_string(user.uid)));
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return Fail(SysError("prctl PR_SET_KEEPCAPS"));
  SWORN_TRY(SetProcCaps(c));
  if (user.umask) umask(*user.umask);
  return {};
}

Result<void> ApplySchedulerAndIo(const spec::Process& p) {
  if (p.io_priority) {
    constexpr int kWhoProcess = 1, kClassShift = 13;
    int v = (p.io_priority->klass << kClassShift) | p.io_priority->priority;
    if (syscall(SYS_ioprio_set, kWhoProcess, 0, v) < 0) return Fail(SysError("ioprio_set", "process.ioPriority"));
  }
  if (p.scheduler) {
    // struct sched_attr; glibc 2.36 has no wrapper.
    struct {
      uint32_t size, policy;
      uint64_t flags;
      int32_t nice;
      uint32_t priority;
      uint64_t runtime, deadline, period;
    } a = {48, static_cast<uint32_t>(p.scheduler->policy), p.scheduler->flags, p.scheduler->nice,
           static_cast<uint32_t>(p.scheduler->priority), p.scheduler->runtime, p.scheduler->deadline,
           p.scheduler->period};
    if (syscall(SYS_sched_setattr, 0, &a, 0) < 0) return Fail(SysError("sched_setattr", "process.scheduler"));
  }
  return {};
}

Result<void> ApplyLsmLabels(const spec::Process& p) {
  if (!p.apparmor_profile.empty()) {
    auto on = ReadFile("/sys/module/apparmor/parameters/enabled");
    if (!on || Trim(*on) != "Y")
      return Fail(FieldError("process.apparmorProfile", "AppArmor is not enabled on this host"));
    SWORN_TRY(WithContext(WriteFile("/proc/self/attr/apparmor/exec", "exec " + p.apparmor_profile, O_WRONLY),
                          "process.apparmorProfile"));
  }
  if (!p.selinux_label.empty()) {
    if (access("/sys/fs/selinux/enforce", F_OK) < 0)
      return Fail(FieldError("process.selinuxLabel", "SELinux is not enabled on this host"));
    SWORN_TRY(WithContext(WriteFile("/proc/self/attr/exec", p.selinux_label, O_WRONLY), "process.selinuxLabel"));
  }
  return {};
}

void AddHome(std::vector<std::string>& env, uid_t uid) {
  for (const auto& e : env)
    if (StartsWith(e, "HOME=")) return;
  std::string home = "/";
  if (auto passwd = ReadFile("/etc/passwd")) {
    for (const auto& line : Split(*passwd, '\n')) {
      auto f = Split(line, ':');
      if (f.size() >= 6 && f[2] == std::to_string(uid)) {
        home = f[5];
        break;
      }
    }
  }
  env.push_back("HOME=" + home);
}

Result<std::string> LookPath(const std::string& arg0, const std::vector<std::string>& env) {
  if (arg0.find('/') != std::string::npos) {
    if (access(arg0.c_str(), X_OK) < 0) return Fail(SysError("exec", arg0));
    return arg0;
  }
  std::string path;
  for (const auto& e : env)
    if (StartsWith(e, "PATH=")) path = e.substr(5);
  for (const auto& dir : Split(path, ':')) {
    std::string cand = (dir.empty() ? "." : dir) + "/" + arg0;
    struct stat st;
    if (stat(cand.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(cand.c_str(), X_OK) == 0) return cand;
  }
  return Fail(MakeError(Errc::kNotFound, "exec: \"" + arg0 + "\": executable file not found in $PATH"));
}

std::string DropUngrantable(spec::Capabilities& caps, bool check_bounding) {
  std::vector<std::string> names = caps.unknown;
  caps.unknown.clear();
  for (auto* set : {&caps.bounding, &caps.effective, &caps.inheritable, &caps.permitted, &caps.ambient})
    std::erase_if(*set, [&](int c) {
      if (Grantable(c, check_bounding)) return false;
      char* n = cap_to_name(c);
      std::string name = n ? n : std::to_string(c);
      cap_free(n);
      for (auto& ch : name) ch = static_cast<char>(toupper(ch));
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
      return true;
    });
  if (names.empty()) return "";
  std::string msg = "process.capabilities: ignoring unknown or unavailable capabilities:";
  for (const auto& n : names) msg += " " + n;
  return msg + (check_bounding ? " (unknown, or not in the runtime's bounding set)" : "");
}

}  // namespace sworn::linux_creds
