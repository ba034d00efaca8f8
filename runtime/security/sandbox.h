// sworn's own sandbox, asked for through bundle annotations:
//
//   sworn.pledge.promises   "stdio rpath inet"   (absent: no pledge; "": only exit)
//   sworn.pledge.penalty    eperm (default) | kill
//   sworn.pledge.learn      true | false (default): allow and record everything, then
//                           propose a policy (pledge_learn.h); NOT a sandbox
//   sworn.unveil            ["r:/etc/mime.types", "rwc:/data", ":/secret"]
//   sworn.unveil.tcp        ["bind:8080", "connect:5432"]   (Landlock ABI >= 4)
//   sworn.unveil.scope      "none" turns off signal/abstract-socket scoping (ABI >= 6)
//   sworn.unveil.auto       true (default) | false: unveil what the entrypoint needs to start
//   sworn.landlock.compat   best-effort (default) | hard
//   sworn.init              true | false (default): a minimal PID 1 that forwards
//                           signals and reaps (needs a new pid namespace)
//
// Validated at create (unknown sworn.* keys included) before anything is made;
// compiled in the parent; unveil paths are opened by the init inside the
// container, where they are container paths.
#pragma once

#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "security/bpf.h"
#include "security/landlock.h"
#include "security/pledge.h"

namespace sworn::security {

struct SandboxSpec {
  std::optional<std::vector<std::string>> promises;  // nullopt: no pledge
  Penalty penalty = Penalty::kEperm;
  std::optional<LandlockPolicy> unveil;               // nullopt: no Landlock
  bool auto_unveil = true;
  bool init = false;                                  // sworn.init: a minimal PID 1 (runtime/pid1)
  // Denials go to a reporter outside the sandbox (pledge_reporter.h) that
  // explains them and applies the penalty. Off: the filter applies it itself.
  bool report = true;
  // sworn.pledge.learn: everything allowed and recorded (pledge_learn.h).
  bool learn = false;
  std::vector<std::string> warnings;                  // e.g. the deprecated "thread"

  bool active() const { return promises || unveil; }
};

Result<SandboxSpec> ParseSandbox(const std::map<std::string, std::string>& annotations);

// The pledge filter for an entrypoint: its promises, plus what a dynamic
// program's loader needs (rpath prot_exec) when `dynamic`, plus one execve
// for sworn's own exec (the secret) unless `exec` is promised.
struct PledgeProgram {
  BpfProgram prog;
  std::array<uint64_t, 3> secret{};
  // For a dynamic program: exactly the promises, stacked by the repledge
  // preload once ld.so is done (no exec secret: nothing may exec after it).
  std::optional<BpfProgram> after_startup;
  // Reporting: denials reach the reporter. A dynamic program then has no
  // after_startup filter; instead the reporter lets the entrypoint's loader
  // have what rpath and prot_exec allow until the preload says startup is
  // over (startup_grant; see pledge_reporter.h).
  bool report = false;
  bool startup_grant = false;
};
// `secret` defaults to fresh random words.
Result<PledgeProgram> CompilePledge(const SandboxSpec& s, bool dynamic, bool new_pid_ns,
                                    std::optional<std::array<uint64_t, 3>> secret = std::nullopt);

// In the init, after pivot_root: the Landlock plan for `exec_path` (the
// resolved entrypoint), with auto-unveil rules added. root_fd is "/" inside
// the container, or kHostRoot for `sworn pledge`.
Result<LandlockPlan> PlanUnveil(const SandboxSpec& s, int root_fd, const std::string& exec_path);

// Whether the entrypoint needs a dynamic loader (inside root_fd).
bool IsDynamic(int root_fd, const std::string& exec_path);

}  // namespace sworn::security
