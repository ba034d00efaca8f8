// A compiled seccomp program: compiled in the parent with libseccomp,
// exported as classic BPF, and loaded by the child as plain bytes just
// before execve (crun's libcrun_generate_seccomp / libcrun_apply_seccomp).
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "core/error.h"
#include "core/fd.h"

namespace sworn::security {

struct BpfProgram {
  std::vector<sock_filter> insns;
  unsigned flags = 0;  // SECCOMP_FILTER_FLAG_*
  bool notify = false; // has SCMP_ACT_NOTIFY: load with NEW_LISTENER
  std::string listener_path, listener_metadata;
  bool empty() const { return insns.empty(); }
};

// Exports a libseccomp context as BPF instructions.
Result<std::vector<sock_filter>> ExportBpf(void* scmp_ctx);
// seccomp(SECCOMP_SET_MODE_FILTER); returns the listener fd when notify.
Result<UniqueFd> LoadBpf(const BpfProgram& p);

// Runs a program on synthetic seccomp_data in userspace (tests, and
// reasoning about what a filter returns without loading it).
uint32_t EmulateBpf(const std::vector<sock_filter>& prog, int nr, uint32_t arch,
                    const uint64_t args[6] = nullptr);

}  // namespace sworn::security
