#include "security/pledge_cache.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/sys.h"

namespace sworn::security {
namespace {

// FNV-1a: a cache file name, not a security boundary (the directory is
// root's, mode 0700, under the state root).
uint64_t Fnv(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace

std::string RuntimeIdentity() {
  std::string k;
  const scmp_version* v = seccomp_version();
  k += " seccomp " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro);
  struct stat st;
  if (stat("/proc/self/exe", &st) == 0)
    k += " exe " + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) +
         ":" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  return k;
}

std::string CacheFile(const std::string& dir, const char* prefix, const std::string& key) {
  char name[64];
  snprintf(name, sizeof(name), "/%s-%016llx.bpf", prefix, static_cast<unsigned long long>(Fnv(key)));
  return dir + name;
}

namespace {

std::string Key(const SandboxSpec& s, bool dynamic, bool self_pid_one) {
  std::string k = "v1";
  for (const auto& p : *s.promises) k += " " + p;
  k += s.penalty == Penalty::kKill ? " kill" : " eperm";
  k += dynamic ? " dyn" : " static";
  k += self_pid_one ? " pid1" : " pid?";
  k += s.report ? " report" : " silent";
  k += s.learn ? " learn" : "";
  return k + RuntimeIdentity();
}

// File layout: u32 count of the main program, its instructions, then the
// after-startup program's instructions (if any) to the end.
std::string Serialize(const PledgeProgram& p) {
  uint32_t n = static_cast<uint32_t>(p.prog.insns.size());
  std::string out(reinterpret_cast<const char*>(&n), sizeof(n));
  out.append(reinterpret_cast<const char*>(p.prog.insns.data()), n * sizeof(sock_filter));
  if (p.after_startup)
    out.append(reinterpret_cast<const char*>(p.after_startup->insns.data()),
               p.after_startup->insns.size() * sizeof(sock_filter));
  return out;
}

std::optional<PledgeProgram> Deserialize(const std::string& data, bool dynamic, bool report) {
  uint32_t n;
  if (data.size() < sizeof(n)) return std::nullopt;
  std::memcpy(&n, data.data(), sizeof(n));
  size_t main_bytes = size_t{n} * sizeof(sock_filter), rest = data.size() - sizeof(n);
  if (main_bytes > rest || (rest - main_bytes) % sizeof(sock_filter) != 0) return std::nullopt;
  bool two = dynamic && !report;  // the after-startup filter follows
  if (two != (rest > main_bytes)) return std::nullopt;
  PledgeProgram p;
  p.prog.insns.resize(n);
  std::memcpy(p.prog.insns.data(), data.data() + sizeof(n), main_bytes);
  p.report = report;
  p.startup_grant = report && dynamic;
  if (two) {
    p.after_startup.emplace();
    p.after_startup->insns.resize((rest - main_bytes) / sizeof(sock_filter));
    std::memcpy(p.after_startup->insns.data(), data.data() + sizeof(n) + main_bytes, rest - main_bytes);
  }
  return p;
}

}  // namespace

size_t PatchExecSecret(std::vector<sock_filter>& insns, const std::array<uint64_t, 3>& secret) {
  size_t patched = 0;
  for (auto& f : insns) {
    if (f.code != (BPF_JMP | BPF_JEQ | BPF_K)) continue;
    for (size_t i = 0; i < 3; ++i) {
      uint32_t hi = static_cast<uint32_t>(kSecretPlaceholder[i] >> 32), lo = static_cast<uint32_t>(kSecretPlaceholder[i]);
      if (f.k == hi) f.k = static_cast<uint32_t>(secret[i] >> 32), ++patched;
      else if (f.k == lo) f.k = static_cast<uint32_t>(secret[i]), ++patched;
    }
  }
  return patched;
}

Result<PledgeProgram> CachedCompilePledge(const SandboxSpec& s, bool dynamic, bool self_pid_one,
                                          const std::string& cache_dir) {
  std::string file;
  std::optional<PledgeProgram> cached;
  if (!cache_dir.empty()) {
    file = CacheFile(cache_dir, "pledge", Key(s, dynamic, self_pid_one));
    if (auto data = ReadFile(file)) cached = Deserialize(*data, dynamic, s.report);
  }
  if (!cached) {
    cached = SWORN_TRY(CompilePledge(s, dynamic, self_pid_one, kSecretPlaceholder));
    if (!file.empty() && MkdirAll(cache_dir, 0700)) (void)WriteFileAtomic(file, Serialize(*cached));
  }
  // The placeholder words stay: sworn-dmz replaces them with words of its
  // own, drawn once it is non-dumpable (runtime/dmz/dmz.c).
  PledgeProgram out = std::move(*cached);
  out.secret = kSecretPlaceholder;
  bool exec_promised = std::find(s.promises->begin(), s.promises->end(), "exec") != s.promises->end();
  auto probe = out.prog.insns;
  if (!exec_promised && PatchExecSecret(probe, kSecretPlaceholder) == 0)
    return Fail(MakeError(Errc::kSystem, "pledge: the compiled program has no exec-secret check to patch"));
  return out;
}

}  // namespace sworn::security
