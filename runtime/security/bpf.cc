#include "security/bpf.h"

#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace sworn::security {

Result<std::vector<sock_filter>> ExportBpf(void* ctx) {
  // seccomp_export_bpf writes to an fd; a memfd keeps it in memory.
  UniqueFd mem(memfd_create("sworn-seccomp", MFD_CLOEXEC));
  if (!mem) return Fail(SysError("memfd_create"));
  int rc = seccomp_export_bpf(static_cast<scmp_filter_ctx>(ctx), mem.get());
  if (rc < 0) return Fail(SysError(-rc, "seccomp_export_bpf"));
  off_t size = lseek(mem.get(), 0, SEEK_END);
  if (size < 0 || size % sizeof(sock_filter) != 0) return Fail(SysError("lseek", "exported BPF"));
  std::vector<sock_filter> insns(static_cast<size_t>(size) / sizeof(sock_filter));
  if (pread(mem.get(), insns.data(), static_cast<size_t>(size), 0) != size) return Fail(SysError("pread", "exported BPF"));
  return insns;
}

Result<UniqueFd> LoadBpf(const BpfProgram& p) {
  sock_fprog prog{static_cast<unsigned short>(p.insns.size()), const_cast<sock_filter*>(p.insns.data())};
  unsigned flags = p.flags | (p.notify ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0);
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
  if (r < 0) return Fail(SysError("seccomp(SECCOMP_SET_MODE_FILTER)"));
  return UniqueFd(p.notify ? static_cast<int>(r) : -1);
}

uint32_t EmulateBpf(const std::vector<sock_filter>& prog, int nr, uint32_t arch, const uint64_t args[6]) {
  seccomp_data d{};
  d.nr = nr;
  d.arch = arch;
  if (args)
    for (int i = 0; i < 6; ++i) d.args[i] = args[i];
  uint32_t A = 0, X = 0, mem[BPF_MEMWORDS] = {};
  const auto* bytes = reinterpret_cast<const uint8_t*>(&d);
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const sock_filter& f = prog[pc];
    switch (f.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (f.k + 4 > sizeof(d)) return SECCOMP_RET_KILL_PROCESS;
        std::memcpy(&A, bytes + f.k, 4);
        break;
      case BPF_LD | BPF_IMM: A = f.k; break;
      case BPF_LDX | BPF_IMM: X = f.k; break;
      case BPF_LD | BPF_MEM: A = mem[f.k]; break;
      case BPF_LDX | BPF_MEM: X = mem[f.k]; break;
      case BPF_ST: mem[f.k] = A; break;
      case BPF_STX: mem[f.k] = X; break;
      case BPF_ALU | BPF_AND | BPF_K: A &= f.k; break;
      case BPF_ALU | BPF_OR | BPF_K: A |= f.k; break;
      case BPF_ALU | BPF_ADD | BPF_K: A += f.k; break;
      case BPF_ALU | BPF_SUB | BPF_K: A -= f.k; break;
      case BPF_MISC | BPF_TAX: X = A; break;
      case BPF_MISC | BPF_TXA: A = X; break;
      case BPF_JMP | BPF_JA: pc += f.k; break;
      case BPF_JMP | BPF_JEQ | BPF_K: pc += (A == f.k) ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGT | BPF_K: pc += (A > f.k) ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGE | BPF_K: pc += (A >= f.k) ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JSET | BPF_K: pc += (A & f.k) ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JEQ | BPF_X: pc += (A == X) ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGT | BPF_X: pc += (A > X) ? f.jt : f.jf; break;
      case BPF_JMP | BPF_JGE | BPF_X: pc += (A >= X) ? f.jt : f.jf; break;
      case BPF_RET | BPF_K: return f.k;
      case BPF_RET | BPF_A: return A;
      default: return SECCOMP_RET_KILL_PROCESS;  // an opcode we do not model
    }
  }
  return SECCOMP_RET_KILL_PROCESS;
}

}  // namespace sworn::security
