// Unveil (Landlock) denials, reported beside the pledge ones. Landlock ABI 7
// (kernel 6.15+) logs each denial through the audit subsystem:
//   AUDIT_LANDLOCK_ACCESS (1423)  domain=ID blockers=fs.write_file path="/data/x" dev=… ino=…
//   AUDIT_LANDLOCK_DOMAIN (1424)  domain=ID status=allocated mode=enforcing pid=P …
//   AUDIT_SYSCALL (1300)          … pid=P comm="sh" …
// all of one event (same serial), ended by AUDIT_EOE. The domain record
// comes once per domain, with the pid of the process that called
// landlock_restrict_self: sworn-dmz, the pid the pledge reporter already
// knows from its handover. The pledge reporter reads them on a NETLINK_AUDIT
// socket bound to the read-only multicast group (AUDIT_NLGRP_READLOG, needs
// CAP_AUDIT_READ; no audit daemon needed, none is disturbed), keeps the
// domains its own entrypoint allocated, and turns each denial into
//   unveil: denied write "/data/x" in sh[12]: needs w:/data
// Denials are logged only with audit enabled (audit=1 / auditctl -e 1) and
// after an execve only with LANDLOCK_RESTRICT_SELF_LOG_NEW_EXEC_ON (landlock.h).
// The socket is read-only: nothing from inside can reach or steer it.
#pragma once

#include <sys/types.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/fd.h"

namespace sworn::security {

struct UnveilDenial {
  std::string domain, blockers, path, comm;
  pid_t pid = 0;  // host pid of the denied task
};

class UnveilAudit {
 public:
  // The socket, or why denials cannot be reported on this host (Landlock
  // ABI < 7, audit disabled, no CAP_AUDIT_READ).
  static UnveilAudit Open();
  int fd() const { return fd_.get(); }
  const std::string& unavailable() const { return why_; }
  // Reads what the socket holds; returns the completed denials in the
  // domains allocated by `owner` (a host pid).
  std::vector<UnveilDenial> Read(pid_t owner);

 private:
  void Record(int type, const std::string& text, pid_t owner, std::vector<UnveilDenial>& out);
  void Finish(std::vector<UnveilDenial>& out);
  UniqueFd fd_;
  std::string why_;
  std::string serial_;
  std::optional<UnveilDenial> cur_;
  std::set<std::string> mine_;  // domain ids allocated by the owner, bounded
};

// "write", "create a file in", … and the unveil rule that would allow it:
// the unveil permission letter(s) on the directory (for a file, its parent).
struct UnveilFix {
  std::string access, rule;
};
UnveilFix ExplainUnveil(const std::string& blockers, const std::string& path);

}  // namespace sworn::security
