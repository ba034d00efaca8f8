// process: args, env, cwd, user, terminal, capabilities, rlimits, ...
#include <sys/capability.h>

#include <algorithm>
#include <sys/resource.h>

#include "spec/json_field.h"
#include "spec/spec.h"

namespace sworn::spec {
namespace {

bool StartsWithCap(const std::string& s) { return s.size() > 4 && s.compare(0, 4, "CAP_") == 0; }

struct RlimitName {
  const char* name;
  int resource;
};

constexpr RlimitName kRlimits[] = {
    {"RLIMIT_AS", RLIMIT_AS},         {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},       {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},   {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},   {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO}, {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK},
};

Result<User> ParseUser(const json& j, const std::string& path) {
  User u;
  SWORN_TRY(ExpectType(j, json::value_t::object, path));
  SWORN_TRY(GetId(j, "uid", path, u.uid));
  SWORN_TRY(GetId(j, "gid", path, u.gid));
  std::optional<uint32_t> umask;
  SWORN_TRY(GetUint(j, "umask", path, umask));
  if (umask && *umask > 0777) return Fail(FieldError(Sub(path, "umask"), "must be at most 0777"));
  if (umask) u.umask = *umask;
  if (const json* g = Member(j, "additionalGids")) {
    std::string p = Sub(path, "additionalGids");
    SWORN_TRY(ExpectType(*g, json::value_t::array, p));
    for (size_t i = 0; i < g->size(); ++i)
      u.additional_gids.push_back(SWORN_TRY(ToId((*g)[i], Idx(p, i))));
  }
  if (Member(j, "username")) return Fail(FieldError(Sub(path, "username"), "is for Windows; use uid and gid"));
  return u;
}

Result<std::vector<int>> ParseCapSet(const json& caps, const char* key, const std::string& path,
                                     std::vector<std::string>& unknown) {
  std::vector<std::string> names;
  SWORN_TRY(Get(caps, key, path, names));
  std::vector<int> out;
  for (size_t i = 0; i < names.size(); ++i) {
    cap_value_t v;
    // config.md (1.1+): unknown names are warned about, not fatal (runc, crun too).
    if (cap_from_name(names[i].c_str(), &v) < 0 || !StartsWithCap(names[i])) {
      if (std::find(unknown.begin(), unknown.end(), names[i]) == unknown.end()) unknown.push_back(names[i]);
      continue;
    }
    out.push_back(v);
  }
  return out;
}

Result<Capabilities> ParseCaps(const json& j, const std::string& path) {
  SWORN_TRY(ExpectType(j, json::value_t::object, path));
  Capabilities c;
  c.bounding = SWORN_TRY(ParseCapSet(j, "bounding", path, c.unknown));
  c.effective = SWORN_TRY(ParseCapSet(j, "effective", path, c.unknown));
  c.inheritable = SWORN_TRY(ParseCapSet(j, "inheritable", path, c.unknown));
  c.permitted = SWORN_TRY(ParseCapSet(j, "permitted", path, c.unknown));
  c.ambient = SWORN_TRY(ParseCapSet(j, "ambient", path, c.unknown));
  return c;
}

Result<std::vector<Rlimit>> ParseRlimits(const json& j, const std::string& path) {
  SWORN_TRY(ExpectType(j, json::value_t::array, path));
  std::vector<Rlimit> out;
  for (size_t i = 0; i < j.size(); ++i) {
    std::string p = Idx(path, i);
    SWORN_TRY(ExpectType(j[i], json::value_t::object, p));
    Rlimit r;
    SWORN_TRY(Get(j[i], "type", p, r.name));
    bool known = false;
    for (const auto& k : kRlimits)
      if (r.name == k.name) r.resource = k.resource, known = true;
    if (!known) return Fail(FieldError(Sub(p, "type"), "unknown rlimit \"" + r.name + "\""));
    for (const auto& prev : out)
      if (prev.name == r.name) return Fail(FieldError(Sub(p, "type"), "duplicate rlimit \"" + r.name + "\""));
    SWORN_TRY(GetUint(j[i], "soft", p, r.soft));
    SWORN_TRY(GetUint(j[i], "hard", p, r.hard));
    if (r.soft > r.hard) return Fail(FieldError(p, "soft limit is above the hard limit"));
    out.push_back(r);
  }
  return out;
}

Result<void> ParseConsoleSize(const json& j, const std::string& path, Process& p) {
  const json* cs = Member(j, "consoleSize");
  if (!cs) return {};
  std::string f = Sub(path, "consoleSize");
  SWORN_TRY(ExpectType(*cs, json::value_t::object, f));
  SWORN_TRY(GetUint(*cs, "height", f, p.console_height));
  SWORN_TRY(GetUint(*cs, "width", f, p.console_width));
  return {};
}

}  // namespace

Result<Process> ParseProcess(const json& j, std::string_view field) {
  std::string path(field);
  SWORN_TRY(ExpectType(j, json::value_t::object, path));
  Process p;
  // runtime.md (Create): a property the runtime cannot apply MUST be an
  // error, not silently left out.
  if (const json* a = Member(j, "execCPUAffinity"); a && !a->is_null())
    return Fail(FieldError(Sub(path, "execCPUAffinity"), "is not supported by sworn (remove it, or use runc 1.2)"));
  SWORN_TRY(Get(j, "terminal", path, p.terminal));
  SWORN_TRY(ParseConsoleSize(j, path, p));
  if (const json* u = Member(j, "user")) p.user = SWORN_TRY(ParseUser(*u, Sub(path, "user")));
  SWORN_TRY(Get(j, "args", path, p.args));
  if (p.args.empty()) return Fail(FieldError(Sub(path, "args"), "must name the program to run"));
  SWORN_TRY(Get(j, "env", path, p.env));
  for (size_t i = 0; i < p.env.size(); ++i)
    if (p.env[i].find('=') == std::string::npos)
      return Fail(FieldError(Idx(Sub(path, "env"), i), "expected KEY=VALUE, got \"" + p.env[i] + "\""));
  if (!Member(j, "cwd")) return Fail(FieldError(Sub(path, "cwd"), "is required"));
  SWORN_TRY(Get(j, "cwd", path, p.cwd));
  if (p.cwd.empty() || p.cwd[0] != '/')
    return Fail(FieldError(Sub(path, "cwd"), "must be an absolute path, got \"" + p.cwd + "\""));
  if (const json* c = Member(j, "capabilities")) p.capabilities = SWORN_TRY(ParseCaps(*c, Sub(path, "capabilities")));
  if (const json* r = Member(j, "rlimits")) p.rlimits = SWORN_TRY(ParseRlimits(*r, Sub(path, "rlimits")));
  SWORN_TRY(Get(j, "noNewPrivileges", path, p.no_new_privileges));
  if (Member(j, "oomScoreAdj")) {
    int64_t v = 0;
    SWORN_TRY(Get(j, "oomScoreAdj", path, v));
    if (v < -1000 || v > 1000) return Fail(FieldError(Sub(path, "oomScoreAdj"), "must be within [-1000, 1000]"));
    p.oom_score_adj = static_cast<int>(v);
  }
  SWORN_TRY(Get(j, "apparmorProfile", path, p.apparmor_profile));
  SWORN_TRY(Get(j, "selinuxLabel", path, p.selinux_label));
  p.io_priority = SWORN_TRY(ParseIoPriority(j, path));
  p.scheduler = SWORN_TRY(ParseScheduler(j, path));
  return p;
}

}  // namespace sworn::spec
