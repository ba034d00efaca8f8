#include "security/sandbox.h"

#include <cctype>

#include <nlohmann/json.hpp>

#include "core/json_input.h"
#include "security/elf_deps.h"

namespace sworn::security {
namespace {

using nlohmann::json;

constexpr const char* kKnownKeys[] = {"sworn.pledge.promises", "sworn.pledge.penalty", "sworn.unveil",
                                      "sworn.unveil.tcp",      "sworn.unveil.scope",   "sworn.unveil.auto",
                                      "sworn.landlock.compat", "sworn.init",        "sworn.pledge.learn",
                                      "sworn.pledge.report",
                                      // written by sworn into the state: what Landlock could not enforce
                                      "sworn.landlock.warnings"};

// A list annotation holds a few dozen rules; the cap keeps a hostile one
// from costing more than a config of its size would.
constexpr size_t kMaxListEntries = 4096;

Result<std::vector<std::string>> JsonStrings(const std::string& key, const std::string& text) {
  json j = SWORN_TRY(ParseJsonInput(text, "annotations." + key, 1));
  if (!j.is_array())
    return Fail(FieldError("annotations." + key, "expected a JSON array of strings, got " + text));
  if (j.size() > kMaxListEntries)
    return Fail(FieldError("annotations." + key, std::to_string(j.size()) + " entries is more than the " +
                                                     std::to_string(kMaxListEntries) + " allowed"));
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

// Keys are matched exactly, so "SWORN.pledge.promises" or one with a stray
// space would be ignored and the container would run unconfined: anything
// that looks like ours after folding case and trimming must be ours exactly.
bool LooksLikeOurs(std::string_view key) {
  size_t b = 0, e = key.size();
  auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  while (b < e && space(key[b])) ++b;
  while (e > b && space(key[e - 1])) --e;
  constexpr std::string_view kPrefix = "sworn.";
  if (e - b < kPrefix.size()) return false;
  for (size_t i = 0; i < kPrefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(key[b + i])) != kPrefix[i]) return false;
  return true;
}

}  // namespace

Result<SandboxSpec> ParseSandbox(const std::map<std::string, std::string>& a) {
  SandboxSpec s;
  for (const auto& [key, value] : a) {
    if (!LooksLikeOurs(key)) continue;
    bool known = false;
    for (const char* k : kKnownKeys) known |= key == k;
    if (known) continue;
    if (key.rfind("sworn.", 0) == 0) return Fail(FieldError("annotations." + key, "unknown sworn annotation"));
    return Fail(FieldError("annotations.\"" + key + "\"", "unknown sworn annotation (keys are case-sensitive and "
                                                            "take no spaces, e.g. sworn.pledge.promises)"));
  }
  if (auto it = a.find("sworn.pledge.promises"); it != a.end())
    s.promises = SWORN_TRY(ParsePromises(it->second, &s.warnings));
  if (auto it = a.find("sworn.pledge.penalty"); it != a.end()) {
    if (it->second != "eperm" && it->second != "kill")
      return Fail(FieldError("annotations.sworn.pledge.penalty", "expected eperm or kill, got \"" + it->second + "\""));
    s.penalty = it->second == "kill" ? Penalty::kKill : Penalty::kEperm;
  }
  if (auto it = a.find("sworn.pledge.learn"); it != a.end()) {
    if (it->second != "true" && it->second != "false")
      return Fail(FieldError("annotations.sworn.pledge.learn", "expected true or false, got \"" + it->second + "\""));
    s.learn = it->second == "true";
    // Learning needs no promises; any given are ignored while it learns.
    if (s.learn) s.promises = std::vector<std::string>{}, s.report = true;
  }
  if (auto it = a.find("sworn.pledge.report"); it != a.end()) {
    if (it->second != "true" && it->second != "false")
      return Fail(FieldError("annotations.sworn.pledge.report", "expected true or false, got \"" + it->second + "\""));
    // Off: the filter applies the penalty itself and Landlock logs nothing.
    if (!s.learn) s.report = it->second == "true";
  }
  SWORN_TRY(ParseUnveilKeys(a, s));
  if (s.unveil) s.unveil->log_new_exec = s.report;
  if (auto it = a.find("sworn.init"); it != a.end()) {
    if (it->second != "true" && it->second != "false")
      return Fail(FieldError("annotations.sworn.init", "expected true or false, got \"" + it->second + "\""));
    s.init = it->second == "true";
  }
  return s;
}

Result<PledgeProgram> CompilePledge(const SandboxSpec& s, bool dynamic, bool new_pid_ns,
                                    std::optional<std::array<uint64_t, 3>> secret) {
  PledgeProgram out;
  out.secret = secret ? *secret : SWORN_TRY(MakeExecSecret());
  PledgeBuilder b;
  // Learn mode: stdio passes, everything else reaches the reporter, which
  // lets it through and records it.
  const std::vector<std::string> learn_base = {"stdio"};
  b.Promises(s.learn ? learn_base : *s.promises).Penalty(s.learn ? Penalty::kEperm : s.penalty)
      .ExecSecret(out.secret).Report(s.report);
  out.report = s.report;
  out.startup_grant = s.report && dynamic;
  // ld.so opens and maps the program's libraries after execve, under the
  // filter: a dynamic entrypoint needs rpath and prot_exec to start. With
  // reports, the reporter grants those to the loader alone instead.
  if (dynamic && !s.report) b.Promise("rpath").Promise("prot_exec");
  if (new_pid_ns) b.SelfPid(1);
  out.prog = SWORN_TRY(b.TryBuild());
  if (dynamic && !s.report) {
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
      r.automatic = true;
      policy.rules.push_back(r);
    }
  }
  return PrepareLandlock(policy, LandlockAbi(), root_fd);
}

}  // namespace sworn::security
