#include "security/sandbox.h"

#include <nlohmann/json.hpp>

#include "security/elf_deps.h"

namespace sworn::security {
namespace {

using nlohmann::json;

constexpr const char* kKnownKeys[] = {"sworn.pledge.promises", "sworn.pledge.penalty", "sworn.unveil",
                                      "sworn.unveil.tcp",      "sworn.unveil.scope",   "sworn.unveil.auto",
                                      "sworn.landlock.compat",
                                      // written by sworn into the state: what Landlock could not enforce
                                      "sworn.landlock.warnings"};

Result<std::vector<std::string>> JsonStrings(const std::string& key, const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array())
    return Fail(FieldError("annotations." + key, "expected a JSON array of strings, got " + text));
  std::vector<std::string> out;
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string())
      return Fail(FieldError("annotations." + key + "[" + std::to_string(i) + "]", "expected a string"));
    out.push_back(j[i].get<std::string>());
  }
  return out;
}

Result<void> ParseUnveilKeys(const std::map<std::string, std::string>& a, SandboxSpec& s) {
  auto get = [&](const char* k) -> const std::string* {
    auto it = a.find(k);
    return it == a.end() ? nullptr : &it->second;
  };
  const std::string* rules = get("sworn.unveil");
  const std::string* tcp = get("sworn.unveil.tcp");
  if (rules || tcp) {
    LandlockPolicy p;
    p.filesystem = rules != nullptr;
    if (rules) {
      auto specs = SWORN_TRY(JsonStrings("sworn.unveil", *rules));
      for (size_t i = 0; i < specs.size(); ++i)
        p.rules.push_back(SWORN_TRY(ParseUnveil(specs[i], "annotations.sworn.unveil[" + std::to_string(i) + "]")));
    }
    if (tcp) {
      p.tcp.emplace();
      auto specs = SWORN_TRY(JsonStrings("sworn.unveil.tcp", *tcp));
      for (size_t i = 0; i < specs.size(); ++i)
        p.tcp->push_back(SWORN_TRY(ParseTcpRule(specs[i], "annotations.sworn.unveil.tcp[" + std::to_string(i) + "]")));
    }
    s.unveil = std::move(p);
  }
  if (const std::string* scope = get("sworn.unveil.scope")) {
    if (*scope != "none" && *scope != "container")
      return Fail(FieldError("annotations.sworn.unveil.scope", "expected \"container\" or \"none\", got \"" + *scope + "\""));
    if (s.unveil) s.unveil->scope = *scope != "none";
  }
  if (const std::string* compat = get("sworn.landlock.compat")) {
    if (*compat != "best-effort" && *compat != "hard")
      return Fail(FieldError("annotations.sworn.landlock.compat", "expected best-effort or hard, got \"" + *compat + "\""));
    if (s.unveil) s.unveil->compat = *compat == "hard" ? Compat::kHard : Compat::kBestEffort;
  }
  if (const std::string* autov = get("sworn.unveil.auto")) {
    if (*autov != "true" && *autov != "false")
      return Fail(FieldError("annotations.sworn.unveil.auto", "expected true or false, got \"" + *autov + "\""));
    s.auto_unveil = *autov == "true";
  }
  return {};
}

}  // namespace

Result<SandboxSpec> ParseSandbox(const std::map<std::string, std::string>& a) {
  SandboxSpec s;
  for (const auto& [key, value] : a) {
    if (key.rfind("sworn.", 0) != 0) continue;
    bool known = false;
    for (const char* k : kKnownKeys) known |= key == k;
    if (!known) return Fail(FieldError("annotations." + key, "unknown sworn annotation"));
  }
  if (auto it = a.find("sworn.pledge.promises"); it != a.end())
    s.promises = SWORN_TRY(ParsePromises(it->second, &s.warnings));
  if (auto it = a.find("sworn.pledge.penalty"); it != a.end()) {
    if (it->second != "eperm" && it->second != "kill")
      return Fail(FieldError("annotations.sworn.pledge.penalty", "expected eperm or kill, got \"" + it->second + "\""));
    s.penalty = it->second == "kill" ? Penalty::kKill : Penalty::kEperm;
  }
  SWORN_TRY(ParseUnveilKeys(a, s));
  return s;
}

Result<PledgeProgram> CompilePledge(const SandboxSpec& s, bool dynamic, bool new_pid_ns,
                                    std::optional<std::array<uint64_t, 3>> secret) {
  PledgeProgram out;
  out.secret = secret ? *secret : SWORN_TRY(MakeExecSecret());
  PledgeBuilder b;
  b.Promises(*s.promises).Penalty(s.penalty).ExecSecret(out.secret);
  // ld.so opens and maps the program's libraries after execve, under the
  // filter: a dynamic entrypoint needs rpath and prot_exec to start.
  if (dynamic) b.Promise("rpath").Promise("prot_exec");
  if (new_pid_ns) b.SelfPid(1);
  out.prog = SWORN_TRY(b.TryBuild());
  if (dynamic) {
    PledgeBuilder exact;
    exact.Promises(*s.promises).Penalty(s.penalty);
    if (new_pid_ns) exact.SelfPid(1);
    out.after_startup = SWORN_TRY(exact.TryBuild());
  }
  return out;
}

bool IsDynamic(int root_fd, const std::string& exec_path) {
  auto deps = ElfDepsDetailed(root_fd, exec_path);
  return deps && deps->size() > 1;
}

Result<LandlockPlan> PlanUnveil(const SandboxSpec& s, int root_fd, const std::string& exec_path) {
  LandlockPolicy policy = *s.unveil;
  if (s.auto_unveil && policy.filesystem) {
    for (const auto& d : SWORN_TRY(ElfDepsDetailed(root_fd, exec_path))) {
      UnveilRule r;
      r.path = d.path;
      r.r = true;
      r.x = d.exec;
      policy.rules.push_back(r);
    }
  }
  return PrepareLandlock(policy, LandlockAbi(), root_fd);
}

}  // namespace sworn::security
