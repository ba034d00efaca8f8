// `sworn pledge`: pledge.com's command line, run on the host without a
// container, under the same promises and unveils as a sworn container, so
// that nomad-pledge-driver's pledge_executable can point at sworn.
//
//   sworn pledge [-p PROMISES]... [-v [PERM:]PATH]... [-k] [-V] [-n] [-N]
//                [-u UID] [-g GID] [-c DIR] [-C SECS] [-M BYTES] [-F BYTES]
//                [-O FILES] [-P PROCS] [-T pledge|unveil] [--] PROG ARGS...
//
// Exit codes follow pledge.com: 10 program not found, 11-18 set*id, 19
// pledge, 20 unveil, 21 bad promises, 64 usage, 127 execve failed.
#include <getopt.h>
#include <grp.h>
#include <sched.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>

#include "cli/cli.h"
#include "core/sys.h"
#include "linux/creds.h"
#include "security/auto_unveil.h"
#include "security/dmz.h"
#include "security/pledge_cache.h"
#include "security/pledge_learn.h"
#include "security/pledge_reporter.h"
#include "security/sandbox.h"

extern char** environ;

namespace sworn::cli {
namespace {

struct PledgeArgs {
  std::string promises;
  bool any_p = false, kill = false, no_unveil = false, nice = false, quiet = false, learn = false, no_report = false;
  std::vector<std::string> unveils;
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  std::string chroot_dir, test;
  std::vector<std::pair<int, rlim_t>> rlimits;
  std::vector<std::string> command;
};

int Die(int code, const std::string& msg) {
  std::fprintf(stderr, "sworn pledge: %s\n", msg.c_str());
  return code;
}

// Sizes with pledge.com's SI suffixes (base 1024): 4gb, 512m, 64k.
bool ParseSize(const char* s, rlim_t& out) {
  char* end;
  double v = std::strtod(s, &end);
  if (end == s || v < 0) return false;
  std::string u = end;
  for (auto& c : u) c = static_cast<char>(tolower(c));
  double m = u.empty() || u == "b" ? 1 : u[0] == 'k' ? 1024.0 : u[0] == 'm' ? 1048576.0 : u[0] == 'g' ? 1073741824.0
           : u[0] == 't' ? 1099511627776.0 : 0;
  if (m == 0) return false;
  out = static_cast<rlim_t>(v * m);
  return true;
}

void PledgeUsage(FILE* out) {
  std::fprintf(out,
               "usage: sworn pledge [-p PROMISES] [-v [PERM:]PATH]... [-kVnqL] [-u UID] [-g GID] [-c DIR]\n"
               "                    [-C SECS] [-M BYTES] [-F BYTES] [-O FILES] [-P PROCS] [-T pledge|unveil] PROG ARGS\n\n"
               "run a host command under pledge promises and unveil rules (pledge.com's flags)\n\n"
               "  -p PROMISES     promises (default \"stdio rpath\"); repeatable\n"
               "  -v [PERM:]PATH  unveil PATH with PERM (r, w, x, c; default r); repeatable\n"
               "  -V              no unveil at all\n"
               "  -k              kill the process on a violation (default: EPERM)\n"
               "  -q              no denial reports on stderr\n"
               "  -R, --no-report no denial reporter at all (the filter and Landlock refuse alone)\n"
               "  -L, --learn     allow and record every call, then propose promises and unveils\n"
               "  -n              lowest CPU and I/O priority\n"
               "  -u UID, -g GID  run as this user and group\n"
               "  -c DIR          chroot into DIR first\n"
               "  -C SECS, -M BYTES, -F BYTES, -O FILES, -P PROCS   rlimits: CPU, AS, FSIZE, NOFILE, NPROC\n"
               "  -T pledge|unveil  exit 0 if the kernel supports it\n"
               "  -N, -D          accepted (pledge.com compatibility)\n"
               "  -h, --help      show this help\n");
}

// Returns 0 to go on, or the exit code.
int ParseArgs(const std::vector<std::string>& in, PledgeArgs& a) {
  std::vector<std::string> store = {"sworn pledge"};
  store.insert(store.end(), in.begin(), in.end());
  static const option kLong[] = {
      {"learn", no_argument, nullptr, 'L'}, {"help", no_argument, nullptr, 'h'},
      {"no-report", no_argument, nullptr, 'R'}, {nullptr, 0, nullptr, 0}};
  std::vector<char*> argv;
  for (auto& s : store) argv.push_back(s.data());
  argv.push_back(nullptr);
  optind = 1;
  int c;
  rlim_t v;
  while ((c = getopt_long(static_cast<int>(store.size()), argv.data(), "+hnqkLRNVDT:p:u:g:c:C:P:M:F:O:v:", kLong,
                          nullptr)) != -1) {
    switch (c) {
      case 'p':
        if (a.any_p) a.promises += ' ';
        a.promises += optarg;
        a.any_p = true;
        break;
      case 'v': a.unveils.push_back(optarg); break;
      case 'k': a.kill = true; break;
      case 'L': a.learn = a.no_unveil = true; break;  // --learn: allow and record everything
      case 'V': a.no_unveil = true; break;
      case 'n': a.nice = true; break;
      case 'R': a.no_report = true; break;
      case 'q': a.quiet = true; break;  // no denial reports on stderr (pledge.com -q)
      case 'N': case 'D': break;        // fds are always normalised; caps: see below
      case 'u': a.uid = static_cast<uid_t>(std::atol(optarg)); break;
      case 'g': a.gid = static_cast<gid_t>(std::atol(optarg)); break;
      case 'c': a.chroot_dir = optarg; break;
      case 'T': a.test = optarg; break;
      case 'C': if (!ParseSize(optarg, v)) return Die(1, "-C: bad number"); a.rlimits.push_back({RLIMIT_CPU, v}); break;
      case 'M': if (!ParseSize(optarg, v)) return Die(1, "-M: bad size"); a.rlimits.push_back({RLIMIT_AS, v}); break;
      case 'F': if (!ParseSize(optarg, v)) return Die(1, "-F: bad size"); a.rlimits.push_back({RLIMIT_FSIZE, v}); break;
      case 'O': if (!ParseSize(optarg, v)) return Die(1, "-O: bad number"); a.rlimits.push_back({RLIMIT_NOFILE, v}); break;
      case 'P': if (!ParseSize(optarg, v)) return Die(1, "-P: bad number"); a.rlimits.push_back({RLIMIT_NPROC, v}); break;
      case 'h': PledgeUsage(stdout); return -1;
      default: PledgeUsage(stderr); return 64;  // pledge.com's usage status
    }
  }
  a.command.assign(store.begin() + optind, store.end());
  if (!a.any_p) a.promises = "stdio rpath";  // pledge.com's default
  return 0;
}

// rlimits (clamped to the hard limit, as pledge.com does), niceness, chroot.
int Prepare(const PledgeArgs& a) {
  for (auto [res, val] : a.rlimits) {
    rlimit cur;
    getrlimit(res, &cur);
    rlimit l{std::min(val, cur.rlim_max), std::min(val, cur.rlim_max)};
    if (setrlimit(res, &l) < 0) return Die(1, "setrlimit: " + std::string(strerror(errno)));
  }
  if (a.nice) {
    (void)!nice(19);
    syscall(SYS_ioprio_set, 1, 0, 3 << 13);
    sched_param sp{};
    sched_setscheduler(0, SCHED_IDLE, &sp);
  }
  if (!a.chroot_dir.empty() && (chdir(a.chroot_dir.c_str()) < 0 || chroot(".") < 0))
    return Die(7, "chroot " + a.chroot_dir + ": " + strerror(errno));
  return 0;
}

int SwitchIds(const PledgeArgs& a) {
  // Root drops its bounding set first, as pledge.com does (a no-op otherwise).
  for (int c = 0; c <= CAP_LAST_CAP && geteuid() == 0; ++c) prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
  if (a.gid && (setgroups(0, nullptr) < 0 || setresgid(*a.gid, *a.gid, *a.gid) < 0)) return Die(11, "setgid failed");
  if (a.uid && setresuid(*a.uid, *a.uid, *a.uid) < 0) return Die(13, "setuid failed");
  return 0;
}

}  // namespace

int Pledge(const Globals&, const std::vector<std::string>& args) {
  PledgeArgs a;
  if (int rc = ParseArgs(args, a); rc != 0) return rc < 0 ? 0 : rc;
  if (a.test == "pledge") return 0;  // seccomp filters are always there on the kernels sworn supports
  if (a.test == "unveil") return security::LandlockAbi() > 0 ? 0 : 1;
  if (!a.test.empty()) return Die(64, "-T: expected pledge or unveil");
  if (a.command.empty()) return Die(64, "expected a program to run");
  CloseFdsExcept(3, {});  // as pledge.com: nothing of the caller's past stdio
  if (int rc = Prepare(a); rc) return rc;
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (!StartsWith(*e, "LD_PRELOAD=") && !StartsWith(*e, "_PLEDGE=")) env.push_back(*e);
  auto path = linux_creds::LookPath(a.command[0], env);
  if (!path) return Die(10, path.error().Message());

  std::map<std::string, std::string> ann = {{"sworn.pledge.promises", a.promises},
                                            {"sworn.pledge.penalty", a.kill ? "kill" : "eperm"}};
  if (a.learn) ann["sworn.pledge.learn"] = "true";  // the reporter says loudly that this is no sandbox
  if (a.no_report) ann["sworn.pledge.report"] = "false";
  auto spec = security::ParseSandbox(ann);
  if (!spec) return Die(21, "bad promises list: " + spec.error().Message());
  for (const auto& w : spec->warnings) std::fprintf(stderr, "sworn pledge: warning: %s\n", w.c_str());
  std::optional<security::LandlockPlan> landlock;
  if (!a.no_unveil) {
    security::LandlockPolicy policy;
    policy.log_new_exec = spec->report;
    for (const auto& v : a.unveils) {
      auto rule = security::ParseUnveil(v, "-v");
      if (!rule) return Die(20, rule.error().Message());
      if (access(rule->path.c_str(), F_OK) < 0) continue;  // pledge.com skips missing paths
      policy.rules.push_back(*rule);
    }
    for (auto& r : security::PromiseUnveils(*spec->promises)) policy.rules.push_back(std::move(r));
    spec->unveil = std::move(policy);
    auto plan = security::PlanUnveil(*spec, security::kHostRoot, *path);
    if (!plan) return Die(20, plan.error().Message());
    landlock = std::move(*plan);
  }
  // Placeholder exec-secret words: sworn-dmz draws the real ones (runtime/dmz/dmz.c).
  auto pledge = security::CompilePledge(*spec, security::IsDynamic(security::kHostRoot, *path), false,
                                        security::kSecretPlaceholder);
  if (!pledge) return Die(19, pledge.error().Message());
  // The filter is loaded by the sealed trampoline, which then makes the one
  // execve it admits; a dynamic program is narrowed to its promises after
  // ld.so by the preload.
  auto dmz = security::SealedDmz();
  auto prog = dmz ? security::SealedFilter(pledge->prog) : Result<UniqueFd>(Fail(dmz.error()));
  if (!prog) return Die(19, prog.error().Message());
  UniqueFd so;
  if (pledge->after_startup || pledge->startup_grant) {
    auto s1 = pledge->startup_grant ? security::SealedRepledgeSignal() : security::SealedRepledge(*pledge->after_startup);
    if (!s1) return Die(19, s1.error().Message());
    so = std::move(*s1);
    if (auto r = security::InheritRepledge(so.get(), env); !r) return Die(19, r.error().Message());
  }
  // Denials are explained on stderr, as pledge.com logs them (-q: silent).
  security::ReporterOptions ro{spec->penalty, pledge->startup_grant, !a.quiet || a.learn, ""};
  ro.learn = a.learn;
  ro.unveil = spec->report && landlock && landlock->abi > 0;
  ro.program = security::ShellJoin(a.command);
  Result<UniqueFd> report = UniqueFd();  // --no-report: the filter applies the penalty itself
  if (pledge->report) report = security::StartReporter(ro);
  if (!report) return Die(19, report.error().Message());
  if (*report && fcntl(report->get(), F_SETFD, 0) < 0)
    return Die(19, "fcntl F_SETFD: " + std::string(strerror(errno)));
  if (int rc = SwitchIds(a); rc) return rc;
  std::string mode = security::TrampolineMode(prog->get(), *report ? report->get() : -1);
  std::vector<char*> argv = {mode.data(), path->data()}, envp;
  for (auto& s : a.command) argv.push_back(s.data());
  argv.push_back(nullptr);
  for (auto& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  if (landlock)
    if (auto r = security::ApplyLandlock(*landlock); !r) return Die(20, r.error().Message());
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return Die(19, "no_new_privs: " + std::string(strerror(errno)));
  if (fcntl(prog->get(), F_SETFD, 0) < 0) return Die(19, "fcntl F_SETFD: " + std::string(strerror(errno)));
  syscall(SYS_execveat, dmz->get(), "", argv.data(), envp.data(), AT_EMPTY_PATH);
  return Die(127, "exec through the sealed trampoline: " + std::string(strerror(errno)));
}

}  // namespace sworn::cli
