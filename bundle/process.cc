// config.json's process: command line, env, cwd, user, capabilities and
// the nice value for the pledge driver's `importance`.
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>

#include "bundle/internal.h"
#include "core/sys.h"

namespace sworn::bundle::internal {
namespace {

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::optional<uint32_t> ParseId(const std::string& s) {
  if (s.empty() || s.size() > 10 ||
      !std::all_of(s.begin(), s.end(), [](char c) { return isdigit(static_cast<unsigned char>(c)); }))
    return std::nullopt;
  uint64_t v = std::stoull(s);
  if (v >= UINT32_MAX) return std::nullopt;  // (uid_t)-1 means "unchanged" to the kernel
  return static_cast<uint32_t>(v);
}

// The passwd entry for a name or uid, copied out of getpw*_r's buffer.
struct PasswdEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

std::optional<PasswdEntry> LookupPasswd(const std::string& name, std::optional<uid_t> uid) {
  std::vector<char> buf(16384);
  struct passwd pw, *res = nullptr;
  for (;;) {
    int r = uid ? getpwuid_r(*uid, &pw, buf.data(), buf.size(), &res)
                : getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &res);
    if (r == ERANGE && buf.size() < (1u << 22)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (r != 0 || !res) return std::nullopt;
    return PasswdEntry{pw.pw_name, pw.pw_uid, pw.pw_gid};
  }
}

Result<gid_t> LookupGroup(const std::string& g) {
  if (auto id = ParseId(g)) return static_cast<gid_t>(*id);
  std::vector<char> buf(16384);
  struct group gr, *res = nullptr;
  for (;;) {
    int r = getgrnam_r(g.c_str(), &gr, buf.data(), buf.size(), &res);
    if (r == ERANGE && buf.size() < (1u << 22)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (r != 0 || !res) return Fail(FieldError("user", "unknown group \"" + g + "\""));
    return gr.gr_gid;
  }
}

std::vector<gid_t> SupplementaryGroups(const std::string& name, gid_t gid) {
  std::vector<gid_t> groups(32);
  for (;;) {
    int n = static_cast<int>(groups.size());
    if (getgrouplist(name.c_str(), gid, groups.data(), &n) >= 0) {
      groups.resize(n);
      break;
    }
    groups.resize(std::max<size_t>(n, groups.size() * 2));
  }
  std::erase(groups, gid);
  std::sort(groups.begin(), groups.end());
  groups.erase(std::unique(groups.begin(), groups.end()), groups.end());
  return groups;
}

std::string Lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  return s;
}

// (defaults ∩ allow_caps, or all defaults with "all") − cap_drop + cap_add.
Result<std::vector<std::string>> TaskCaps(const TaskDriverConfig& c, const PluginConfig& p) {
  std::set<std::string> allow, caps;
  bool all = false;
  for (size_t i = 0; i < p.allow_caps.size(); ++i) {
    if (Lower(p.allow_caps[i]) == "all")
      all = true;
    else
      allow.insert(SWORN_TRY(NormaliseCap(p.allow_caps[i], "allow_caps[" + std::to_string(i) + "]")));
  }
  for (const auto& d : DefaultCaps())
    if (all || allow.contains("CAP_" + d)) caps.insert("CAP_" + d);
  for (size_t i = 0; i < c.cap_drop.size(); ++i) {
    if (Lower(c.cap_drop[i]) == "all")
      caps.clear();
    else
      caps.erase(SWORN_TRY(NormaliseCap(c.cap_drop[i], "cap_drop[" + std::to_string(i) + "]")));
  }
  for (size_t i = 0; i < c.cap_add.size(); ++i) {
    std::string field = "cap_add[" + std::to_string(i) + "]";
    std::string cap = SWORN_TRY(NormaliseCap(c.cap_add[i], field));
    if (!all && !allow.contains(cap)) return Fail(FieldError(field, cap + " is not in the plugin's allow_caps"));
    caps.insert(cap);
  }
  return std::vector<std::string>(caps.begin(), caps.end());
}

int Nice(const std::string& importance) {
  // Unset: the host's default, as every other Nomad driver. Set: the pledge
  // driver's mapping (shoenig/nomad-pledge-driver,
  // pkg/resources/importance.go), where normal is -5, not 0.
  if (importance.empty()) return 0;
  if (importance == "lowest") return 19;
  if (importance == "low") return 10;
  if (importance == "high") return -10;
  if (importance == "highest") return -20;
  return -5;
}

// A path from the task config: "name" is left for PATH lookup, "a/b" is
// relative to the task's root, and in host mode /local etc. become host paths.
std::string TaskPath(const BuildContext& ctx, const std::string& path, bool bare_is_relative) {
  if (path.find('/') == std::string::npos && !bare_is_relative) return path;
  if (path[0] != '/') return (ctx.host ? ctx.task_dir : "") + "/" + path;
  return ctx.host ? HostModePath(ctx, path) : path;
}

json Env(const BuildContext& ctx) {
  json env = json::array();
  for (const auto& [k, v] : ctx.env) env.push_back(k + "=" + v);
  if (!ctx.env.contains("PATH")) env.push_back(std::string("PATH=") + kDefaultPath);
  return env;
}

}  // namespace

Result<json> ResolveUser(const std::string& user) {
  if (user.empty()) return json{{"uid", 0}, {"gid", 0}};
  size_t colon = user.find(':');
  std::string u = user.substr(0, colon);
  std::optional<uint32_t> uid = ParseId(u);
  std::optional<PasswdEntry> pw = LookupPasswd(u, uid);
  if (!uid && !pw) return Fail(FieldError("user", "unknown user \"" + u + "\""));
  json j = {{"uid", uid ? *uid : pw->uid}};
  if (colon != std::string::npos) {
    j["gid"] = SWORN_TRY(LookupGroup(user.substr(colon + 1)));
    return j;
  }
  // A uid with no passwd entry gets a gid of the same number (as Nomad's
  // dynamic users do) rather than root's group.
  gid_t gid = pw ? pw->gid : *uid;
  j["gid"] = gid;
  if (pw) {
    auto groups = SupplementaryGroups(pw->name, gid);
    if (!groups.empty()) j["additionalGids"] = groups;
  }
  return j;
}

Result<json> BuildProcess(const BuildContext& ctx) {
  const TaskDriverConfig& c = ctx.c;
  json args = json::array({TaskPath(ctx, c.command, false)});
  for (const auto& a : c.args) args.push_back(a);
  // No `user`: the plugin's default_user (nobody, as Nomad's exec driver).
  json user = ctx.t.user.empty() ? SWORN_TRY(WithContext(ResolveUser(ctx.p.default_user), "plugin default_user"))
                                 : SWORN_TRY(ResolveUser(ctx.t.user));
  json caps = SWORN_TRY(TaskCaps(c, ctx.p));
  json capabilities = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
  if (user["uid"].get<uint32_t>() != 0) {
    capabilities["inheritable"] = caps;
    capabilities["ambient"] = caps;
  }
  std::string cwd = c.work_dir.empty() ? (ctx.host ? ctx.task_dir : "/") : TaskPath(ctx, c.work_dir, true);
  return json{
      {"terminal", false},
      {"user", user},
      {"args", args},
      {"env", Env(ctx)},
      {"cwd", cwd},
      {"capabilities", capabilities},
      {"noNewPrivileges", true},
      {"scheduler", {{"policy", "SCHED_OTHER"}, {"nice", Nice(c.importance)}}},
  };
}

}  // namespace sworn::bundle::internal
