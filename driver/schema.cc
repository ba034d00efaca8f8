#include "driver/schema.h"

#include <string>
#include <utility>
#include <vector>

#include "bundle/bundle.h"

namespace sworn::driver {
namespace {

using hashicorp::nomad::plugins::shared::hclspec::Spec;

Spec Attr(const std::string& name, const std::string& type, bool required = false) {
  Spec s;
  auto* a = s.mutable_attr();
  a->set_name(name);
  a->set_type(type);
  a->set_required(required);
  return s;
}

// An attribute with a default; `literal` is an HCL expression.
Spec WithDefault(Spec primary, const std::string& literal) {
  Spec s;
  *s.mutable_default_()->mutable_primary() = std::move(primary);
  s.mutable_default_()->mutable_default_()->mutable_literal()->set_value(literal);
  return s;
}

std::string Quote(const std::string& v) { return "\"" + v + "\""; }

std::string ListLiteral(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + Quote(v[i]);
  return out + "]";
}

Spec Object(std::vector<std::pair<std::string, Spec>> fields) {
  Spec s;
  auto* attrs = s.mutable_object()->mutable_attributes();
  for (auto& [k, v] : fields) (*attrs)[k] = std::move(v);
  return s;
}

}  // namespace

Spec PluginConfigSpec() {
  bundle::PluginConfig d;
  std::vector<std::string> caps;
  for (const auto& c : bundle::DefaultCaps()) caps.push_back(c);
  return Object({
      {"sworn_path", Attr("sworn_path", "string")},
      {"state_dir", WithDefault(Attr("state_dir", "string"), Quote(d.state_dir))},
      // Unset means exec's default set (bundle::DefaultChrootEnv()).
      {"chroot_env", Attr("chroot_env", "map(string)")},
      {"allow_caps", WithDefault(Attr("allow_caps", "list(string)"), ListLiteral(caps))},
      {"default_pid_mode", WithDefault(Attr("default_pid_mode", "string"), Quote(d.default_pid_mode))},
      {"default_ipc_mode", WithDefault(Attr("default_ipc_mode", "string"), Quote(d.default_ipc_mode))},
      {"allow_host_pid", WithDefault(Attr("allow_host_pid", "bool"), "false")},
      {"allow_host_ipc", WithDefault(Attr("allow_host_ipc", "bool"), "false")},
      {"cgroup_parent", WithDefault(Attr("cgroup_parent", "string"), Quote(d.cgroup_parent))},
      {"default_user", WithDefault(Attr("default_user", "string"), Quote(d.default_user))},
  });
}

Spec TaskConfigSpec() {
  return Object({
      {"command", Attr("command", "string", true)},
      {"args", Attr("args", "list(string)")},
      {"promises", Attr("promises", "string")},
      {"unveil", Attr("unveil", "list(string)")},
      {"unveil_tcp", Attr("unveil_tcp", "list(string)")},
      // No default: unset means nice 0, "normal" means the pledge driver's -5.
      {"importance", Attr("importance", "string")},
      {"penalty", Attr("penalty", "string")},
      {"learn", WithDefault(Attr("learn", "bool"), "false")},
      {"cap_add", Attr("cap_add", "list(string)")},
      {"cap_drop", Attr("cap_drop", "list(string)")},
      {"pid_mode", Attr("pid_mode", "string")},
      {"ipc_mode", Attr("ipc_mode", "string")},
      {"init", WithDefault(Attr("init", "bool"), "true")},
      {"work_dir", Attr("work_dir", "string")},
      {"filesystem", WithDefault(Attr("filesystem", "string"), Quote("image"))},
  });
}

}  // namespace sworn::driver
