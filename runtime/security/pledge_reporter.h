// The pledge reporter: a small process outside the sandbox, one per pledged
// process tree (a container's init, a `sworn exec`, a `sworn pledge`), like
// conmon. sworn-dmz loads the pledge filter with a seccomp user-notification
// listener and sends it here before its execve (runtime/dmz/dmz.c); no
// process of the sandbox ever holds it. For each denied call the reporter
//   1. reads the caller's pid, comm, syscall and registers (paths through
//      /proc/PID/mem, checked with SECCOMP_IOCTL_NOTIF_ID_VALID);
//   2. computes the promises that would allow exactly that call from the
//      promise tables (pledge_explain.h) and writes one line:
//        pledge: denied openat("/local/f", O_WRONLY|O_CREAT|O_TRUNC, 0666) in sh[12]: needs cpath
//      to its text fd (stderr of `sworn pledge` / `sworn run`) and, once per
//      distinct line and capped, as JSON to the record file;
//   3. answers: EPERM under penalty eperm; under kill, SIGSYS to the thread
//      group after the report is written (SIGKILL shortly after if a handler
//      kept it alive), so the process dies as the filter would have killed it.
// It exits when the listener hangs up: no process uses the filter any more.
// If it is gone, the kernel answers every denied call ENOSYS: the call still
// fails, unreported, and under kill the process is not killed.
//
// A dynamic entrypoint (startup_grant) starts without rpath and prot_exec in
// its filter; the reporter lets the entrypoint's own pid make the calls those
// two promises allow (register arguments only, so SECCOMP_USER_NOTIF_FLAG_
// CONTINUE decides nothing a racing thread could change) until the repledge
// preload says, before the program's code runs, that startup is over.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fd.h"
#include "security/pledge.h"

namespace sworn::security {

struct ReporterOptions {
  Penalty penalty = Penalty::kEperm;
  bool startup_grant = false;
  bool text = false;          // report lines on our stderr (else /dev/null)
  std::string record_path;    // JSON lines, one per distinct denial; "" for none
  // Unveil (Landlock) is applied: report its denials too (unveil_reporter.h),
  // or say once that this host cannot.
  bool unveil = false;
  // Learn mode (pledge_learn.h): every call is let through and recorded; at
  // exit the proposed policy goes to stderr (text) and to learned_path.
  bool learn = false;
  std::string learned_path, program;
};

// The record file's cap: past it, denials are still answered and printed,
// but no longer recorded.
inline constexpr size_t kRecordMaxBytes = 64 * 1024;
// The record file's name in a container's state directory.
inline constexpr const char* kPledgeRecordFile = "pledge.log";
inline constexpr const char* kPledgeLearnedFile = "pledge.learned.json";

// Forks the reporter (detached: new session, reparented, every other fd
// closed) and returns the close-on-exec socket end sworn-dmz sends the
// listener over ("p<fd>:<sock>", see dmz.h TrampolineMode).
Result<UniqueFd> StartReporter(const ReporterOptions& o);

// The records appended to a container's pledge.log since *offset (complete
// lines only; *offset moves past them), for `sworn events`.
std::vector<nlohmann::json> ReadNewRecords(const std::string& path, size_t* offset);
// The same through an open fd: it keeps reading after `run` deleted the
// container's directory (the Nomad driver holds one per task).
std::vector<nlohmann::json> ReadNewRecordsFd(int fd, const std::string& what, size_t* offset);

// The wait status `run` reports for its init: a SIGKILL the reporter sent
// for a pledge kill (the init of a pid namespace cannot be killed by SIGSYS
// from outside) becomes death by SIGSYS, as the filter itself would do.
int KilledInitStatus(const std::string& state_dir, int status);

}  // namespace sworn::security
