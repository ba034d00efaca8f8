// The plugin's and the task's HCL config, from decoded cty JSON to structs.
// Every error names the HCL field ("unveil[2]: ...").
#include <sys/capability.h>

#include <algorithm>
#include <cctype>

#include "bundle/internal.h"
#include "core/sys.h"
#include "security/promises.h"
#include "spec/json_field.h"

namespace sworn::bundle {

using internal::json;
using spec::Get;

const std::map<std::string, std::string>& DefaultChrootEnv() {
  // Nomad's client default (client/config DefaultChrootEnv), with the
  // systemd-resolved directory later versions added.
  static const std::map<std::string, std::string> m = {
      {"/bin", "/bin"},     {"/etc", "/etc"},     {"/lib", "/lib"},
      {"/lib32", "/lib32"}, {"/lib64", "/lib64"}, {"/run/resolvconf", "/run/resolvconf"},
      {"/sbin", "/sbin"},   {"/usr", "/usr"},     {"/run/systemd/resolve", "/run/systemd/resolve"},
  };
  return m;
}

const std::vector<std::string>& DefaultCaps() {
  static const std::vector<std::string> v = {"AUDIT_WRITE", "CHOWN",  "DAC_OVERRIDE",     "FOWNER",  "FSETID",
                                             "KILL",        "MKNOD",  "NET_BIND_SERVICE", "SETFCAP", "SETGID",
                                             "SETPCAP",     "SETUID", "SYS_CHROOT"};
  return v;
}

namespace internal {

Result<std::string> NormaliseCap(std::string_view name, const std::string& field) {
  std::string up(name);
  for (auto& ch : up) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  if (!StartsWith(up, "CAP_")) up = "CAP_" + up;
  std::string lower = up;
  for (auto& ch : lower) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  // cap_from_name also takes numbers ("12"); only names are accepted here.
  bool named = std::any_of(up.begin() + 4, up.end(), [](char ch) { return isalpha(static_cast<unsigned char>(ch)); });
  cap_value_t v;
  if (!named || cap_from_name(lower.c_str(), &v) != 0)
    return Fail(FieldError(field, "unknown capability \"" + std::string(name) + "\""));
  return up;
}

std::string TrimSlashes(std::string_view path) {
  std::string s(path);
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

bool IsUnder(std::string_view path, std::string_view dir) {
  if (dir == "/") return StartsWith(path, "/");
  return path == dir || (StartsWith(path, dir) && path.size() > dir.size() && path[dir.size()] == '/');
}

}  // namespace internal

namespace {

const json& ObjectOrEmpty(const json& j) {
  static const json empty = json::object();
  return j.is_null() ? empty : j;
}

Result<void> GetMap(const json& obj, const char* key, std::map<std::string, std::string>& out) {
  const json* v = spec::Member(obj, key);
  if (!v) return {};
  SWORN_TRY(spec::ExpectType(*v, json::value_t::object, key));
  out.clear();
  for (const auto& [k, val] : v->items()) {
    std::string field = std::string(key) + "[\"" + k + "\"]";
    SWORN_TRY(spec::ExpectType(val, json::value_t::string, field));
    out[k] = val.get<std::string>();
  }
  return {};
}

Result<void> OneOf(const std::string& value, std::initializer_list<const char*> allowed, const char* field) {
  std::string list;
  for (const char* a : allowed) {
    if (value == a) return {};
    list += std::string(list.empty() ? "" : ", ") + (*a ? a : "\"\"");
  }
  return Fail(FieldError(field, "expected one of " + list + ", got \"" + value + "\""));
}

Result<void> CheckAbsolute(const std::string& path, const std::string& field) {
  if (path.empty() || path[0] != '/') return Fail(FieldError(field, "must be an absolute path, got \"" + path + "\""));
  return {};
}

Result<std::map<std::string, std::string>> CheckChrootEnv(const std::map<std::string, std::string>& in) {
  std::map<std::string, std::string> out;
  for (const auto& [host, task] : in) {
    std::string field = "chroot_env[\"" + host + "\"]";
    SWORN_TRY(CheckAbsolute(host, field + " (host path)"));
    SWORN_TRY(CheckAbsolute(task, field));
    std::string dest = internal::TrimSlashes(task);
    if (dest == "/") return Fail(FieldError(field, "cannot replace the task's root \"/\""));
    out[internal::TrimSlashes(host)] = dest;
  }
  return out;
}

// Normalises each entry to "CAP_X"; "all" (any case) stays "all" when allowed.
Result<void> CheckCaps(std::vector<std::string>& caps, const char* field, bool all_ok) {
  for (size_t i = 0; i < caps.size(); ++i) {
    std::string lower = caps[i];
    for (auto& ch : lower) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    if (all_ok && lower == "all") {
      caps[i] = "all";
      continue;
    }
    caps[i] = SWORN_TRY(internal::NormaliseCap(caps[i], spec::Idx(field, i)));
  }
  return {};
}

}  // namespace

Result<void> internal::CheckPluginValues(PluginConfig& c) {
  // A bare name is looked up in PATH by the driver; a relative path with a
  // slash would depend on the plugin's cwd.
  if (c.sworn_path.find('/') != std::string::npos) SWORN_TRY(CheckAbsolute(c.sworn_path, "sworn_path"));
  SWORN_TRY(CheckAbsolute(c.state_dir, "state_dir"));
  c.chroot_env = SWORN_TRY(CheckChrootEnv(c.chroot_env));
  SWORN_TRY(CheckCaps(c.allow_caps, "allow_caps", true));
  SWORN_TRY(OneOf(c.default_pid_mode, {"private", "host"}, "default_pid_mode"));
  SWORN_TRY(OneOf(c.default_ipc_mode, {"private", "host"}, "default_ipc_mode"));
  if (c.cgroup_parent.empty()) c.cgroup_parent = PluginConfig{}.cgroup_parent;
  if (c.cgroup_parent[0] != '/') c.cgroup_parent = "/" + c.cgroup_parent;
  c.cgroup_parent = internal::TrimSlashes(c.cgroup_parent);
  for (const auto& part : Split(c.cgroup_parent, '/'))
    if (part == "." || part == "..") return Fail(FieldError("cgroup_parent", "must not contain \".\" or \"..\""));
  if (c.default_user.empty()) c.default_user = PluginConfig{}.default_user;
  if (auto u = internal::ResolveUser(c.default_user); !u)
    return Fail(FieldError("default_user", "unknown user \"" + c.default_user + "\""));
  return {};
}

Result<PluginConfig> ParsePluginConfig(const json& cty) {
  const json& j = ObjectOrEmpty(cty);
  SWORN_TRY(spec::ExpectType(j, json::value_t::object, "plugin config"));
  PluginConfig c;
  SWORN_TRY(Get(j, "sworn_path", "", c.sworn_path));
  SWORN_TRY(Get(j, "state_dir", "", c.state_dir));
  SWORN_TRY(GetMap(j, "chroot_env", c.chroot_env));
  SWORN_TRY(Get(j, "allow_caps", "", c.allow_caps));
  SWORN_TRY(Get(j, "default_pid_mode", "", c.default_pid_mode));
  SWORN_TRY(Get(j, "default_ipc_mode", "", c.default_ipc_mode));
  SWORN_TRY(Get(j, "allow_host_pid", "", c.allow_host_pid));
  SWORN_TRY(Get(j, "allow_host_ipc", "", c.allow_host_ipc));
  SWORN_TRY(Get(j, "cgroup_parent", "", c.cgroup_parent));
  SWORN_TRY(Get(j, "default_user", "", c.default_user));
  SWORN_TRY(internal::CheckPluginValues(c));
  return c;
}

namespace {

// Splits on any whitespace (HCL heredocs bring newlines) and re-joins with
// single spaces, lower case, as the annotation's pattern wants.
Result<std::string> NormalisePromises(const std::string& in) {
  std::string out, word;
  auto flush = [&]() -> Result<void> {
    if (word.empty()) return {};
    if (word != "thread" && !security::FindPromise(word))
      return Fail(FieldError("promises", "unknown promise \"" + word + "\""));
    out += (out.empty() ? "" : " ") + word;
    word.clear();
    return {};
  };
  for (char ch : in) {
    if (isspace(static_cast<unsigned char>(ch)))
      SWORN_TRY(flush());
    else
      word += static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  }
  SWORN_TRY(flush());
  return out;
}

Result<void> CheckUnveil(const std::string& rule, const std::string& field) {
  size_t colon = rule.find(':');
  if (colon == std::string::npos) return Fail(FieldError(field, "expected \"perms:path\", got \"" + rule + "\""));
  for (size_t i = 0; i < colon; ++i)
    if (!std::string_view("rwxc").contains(rule[i]))
      return Fail(FieldError(field, "unknown permission '" + std::string(1, rule[i]) + "' (use r, w, x, c)"));
  std::string path = rule.substr(colon + 1);
  if (path.empty() || path[0] != '/') return Fail(FieldError(field, "path must be absolute, got \"" + path + "\""));
  return {};
}

Result<void> CheckUnveilTcp(const std::string& rule, const std::string& field) {
  size_t colon = rule.find(':');
  std::string kind = rule.substr(0, colon == std::string::npos ? 0 : colon);
  std::string port = colon == std::string::npos ? "" : rule.substr(colon + 1);
  bool digits = !port.empty() && port.size() <= 5 &&
                std::all_of(port.begin(), port.end(), [](char ch) { return isdigit(static_cast<unsigned char>(ch)); });
  if ((kind != "bind" && kind != "connect") || !digits)
    return Fail(FieldError(field, "expected \"bind:PORT\" or \"connect:PORT\", got \"" + rule + "\""));
  int n = std::stoi(port);
  if (n < 1 || n > 65535) return Fail(FieldError(field, "port must be 1..65535, got " + port));
  return {};
}

}  // namespace

Result<void> internal::CheckTaskValues(TaskDriverConfig& c) {
  if (c.command.empty()) return Fail(FieldError("command", "required"));
  c.promises = SWORN_TRY(NormalisePromises(c.promises));
  for (size_t i = 0; i < c.unveil.size(); ++i) SWORN_TRY(CheckUnveil(c.unveil[i], spec::Idx("unveil", i)));
  for (size_t i = 0; i < c.unveil_tcp.size(); ++i)
    SWORN_TRY(CheckUnveilTcp(c.unveil_tcp[i], spec::Idx("unveil_tcp", i)));
  for (auto& ch : c.importance) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  if (!c.importance.empty())  // unset: nice 0
    SWORN_TRY(OneOf(c.importance, {"lowest", "low", "normal", "high", "highest"}, "importance"));
  SWORN_TRY(OneOf(c.penalty, {"", "eperm", "kill"}, "penalty"));
  SWORN_TRY(CheckCaps(c.cap_add, "cap_add", false));
  SWORN_TRY(CheckCaps(c.cap_drop, "cap_drop", true));
  SWORN_TRY(OneOf(c.pid_mode, {"", "private", "host"}, "pid_mode"));
  SWORN_TRY(OneOf(c.ipc_mode, {"", "private", "host"}, "ipc_mode"));
  if (c.filesystem.empty()) c.filesystem = "image";
  SWORN_TRY(OneOf(c.filesystem, {"image", "host"}, "filesystem"));
  return {};
}

Result<TaskDriverConfig> ParseTaskDriverConfig(const json& cty) {
  const json& j = ObjectOrEmpty(cty);
  SWORN_TRY(spec::ExpectType(j, json::value_t::object, "task config"));
  TaskDriverConfig c;
  SWORN_TRY(Get(j, "command", "", c.command));
  SWORN_TRY(Get(j, "args", "", c.args));
  SWORN_TRY(Get(j, "promises", "", c.promises));
  SWORN_TRY(Get(j, "unveil", "", c.unveil));
  SWORN_TRY(Get(j, "unveil_tcp", "", c.unveil_tcp));
  SWORN_TRY(Get(j, "importance", "", c.importance));
  SWORN_TRY(Get(j, "penalty", "", c.penalty));
  SWORN_TRY(Get(j, "learn", "", c.learn));
  SWORN_TRY(Get(j, "cap_add", "", c.cap_add));
  SWORN_TRY(Get(j, "cap_drop", "", c.cap_drop));
  SWORN_TRY(Get(j, "pid_mode", "", c.pid_mode));
  SWORN_TRY(Get(j, "ipc_mode", "", c.ipc_mode));
  SWORN_TRY(Get(j, "init", "", c.init));
  SWORN_TRY(Get(j, "work_dir", "", c.work_dir));
  SWORN_TRY(Get(j, "filesystem", "", c.filesystem));
  SWORN_TRY(internal::CheckTaskValues(c));
  return c;
}

}  // namespace sworn::bundle
