// Cached pledge programs: the per-container exec secret is patched into a
// program compiled once with placeholder words.
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "security/bpf.h"
#include "security/oci_seccomp.h"
#include "security/pledge.h"
#include "security/pledge_cache.h"

using namespace sworn::security;

namespace {

uint32_t Execve(const BpfProgram& p, const std::array<uint64_t, 3>& s) {
  const uint64_t args[6] = {0, 0, 0, s[0], s[1], s[2]};
  return EmulateBpf(p.insns, SYS_execve, AUDIT_ARCH_X86_64, args) & SECCOMP_RET_ACTION_FULL;
}

SandboxSpec Spec(std::vector<std::string> promises) {
  SandboxSpec s;
  s.promises = std::move(promises);
  return s;
}

}  // namespace

TEST_CASE("a cached program holds placeholders; patched words admit exactly one secret", "[unit][pledge]") {
  char tmpl[] = "/tmp/sworn-pcache-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto first = CachedCompilePledge(Spec({"stdio", "rpath"}), false, true, dir);
  auto second = CachedCompilePledge(Spec({"stdio", "rpath"}), false, true, dir);  // from the cache
  REQUIRE(first);
  REQUIRE(second);
  CHECK(std::distance(std::filesystem::directory_iterator(dir), {}) == 1);
  // The runtime never holds a container's secret: sworn-dmz draws it.
  CHECK(first->secret == kSecretPlaceholder);
  CHECK(first->prog.insns.size() == second->prog.insns.size());
  auto a = first->prog, b = second->prog;
  auto sa = MakeExecSecret(), sb = MakeExecSecret();
  REQUIRE(sa);
  REQUIRE(sb);
  CHECK(PatchExecSecret(a.insns, *sa) == 6);  // hi and lo word of each of the three
  CHECK(PatchExecSecret(b.insns, *sb) == 6);
  CHECK(Execve(a, *sa) == SECCOMP_RET_ALLOW);
  CHECK(Execve(b, *sb) == SECCOMP_RET_ALLOW);
  CHECK(Execve(b, *sa) != SECCOMP_RET_ALLOW);
  CHECK(Execve(b, kSecretPlaceholder) != SECCOMP_RET_ALLOW);
  std::filesystem::remove_all(dir);
}

TEST_CASE("dynamic programs keep their after-startup filter through the cache", "[unit][pledge]") {
  char tmpl[] = "/tmp/sworn-pcache-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  auto silent = Spec({"stdio"});
  silent.report = false;  // with reports, the reporter grants the loader's calls instead
  auto a = CachedCompilePledge(silent, true, false, dir);
  auto b = CachedCompilePledge(silent, true, false, dir);
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(b->after_startup);
  // Reporting: no after-startup filter, the grant instead, and a cache entry of its own.
  auto r = CachedCompilePledge(Spec({"stdio"}), true, false, dir);
  REQUIRE(r);
  CHECK(!r->after_startup);
  CHECK(r->startup_grant);
  CHECK(b->after_startup->insns.size() == a->after_startup->insns.size());
  // The after-startup filter has no secret: execve is denied outright.
  CHECK(Execve(*b->after_startup, b->secret) != SECCOMP_RET_ALLOW);
  std::filesystem::remove_all(dir);
}

TEST_CASE("OCI seccomp programs are cached per profile", "[unit][seccomp]") {
  char tmpl[] = "/tmp/sworn-scache-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  nlohmann::json profile = {{"defaultAction", "SCMP_ACT_ALLOW"},
                            {"listenerPath", "/run/x.sock"},
                            {"flags", {"SECCOMP_FILTER_FLAG_LOG"}},
                            {"syscalls", {{{"names", {"mkdir"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 13}}}}};
  auto a = CachedCompileOciSeccomp(profile, dir);
  auto b = CachedCompileOciSeccomp(profile, dir);  // from the file
  REQUIRE(a);
  REQUIRE(b);
  CHECK(std::distance(std::filesystem::directory_iterator(dir), {}) == 1);
  CHECK(b->insns.size() == a->insns.size());
  CHECK(b->flags == a->flags);
  CHECK(b->listener_path == "/run/x.sock");
  const uint64_t none[6] = {};
  CHECK(EmulateBpf(b->insns, SYS_mkdir, AUDIT_ARCH_X86_64, none) == (SECCOMP_RET_ERRNO | 13));
  profile["syscalls"][0]["errnoRet"] = 1;
  auto c = CachedCompileOciSeccomp(profile, dir);
  REQUIRE(c);
  CHECK(EmulateBpf(c->insns, SYS_mkdir, AUDIT_ARCH_X86_64, none) == (SECCOMP_RET_ERRNO | 1));
  CHECK(std::distance(std::filesystem::directory_iterator(dir), {}) == 2);
  std::filesystem::remove_all(dir);
}
