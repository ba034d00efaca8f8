// BuildBundle: a Nomad task and its driver config → an OCI config.json.
// The pieces live in mounts.cc, process.cc and linux.cc; this file checks
// the inputs, puts the pieces together and adds the annotations.
#include "bundle/internal.h"
#include "core/sys.h"

namespace sworn::bundle {
namespace {

using internal::BuildContext;
using internal::json;

Result<void> CheckRequest(const TaskRequest& t) {
  if (t.id.empty()) return Fail(FieldError("task id", "required"));
  if (t.name.empty() || t.name.find('/') != std::string::npos || t.name == "." || t.name == "..")
    return Fail(FieldError("task name", "must be a single path component, got \"" + t.name + "\""));
  if (t.alloc_dir.empty() || t.alloc_dir[0] != '/')
    return Fail(FieldError("alloc_dir", "must be an absolute path, got \"" + t.alloc_dir + "\""));
  return {};
}

// The task's environment; in host mode Nomad's directory variables name the
// host directories, since nothing is mounted at /alloc, /local, /secrets.
std::map<std::string, std::string> TaskEnv(const BuildContext& ctx) {
  auto env = ctx.t.env;
  if (ctx.host) {
    env["NOMAD_ALLOC_DIR"] = ctx.t.alloc_dir + "/alloc";
    env["NOMAD_TASK_DIR"] = ctx.task_dir + "/local";
    env["NOMAD_SECRETS_DIR"] = ctx.task_dir + "/secrets";
  }
  return env;
}

std::vector<std::string> UnveilRules(const BuildContext& ctx) {
  std::vector<std::string> out;
  for (const auto& rule : ctx.c.unveil) {
    size_t colon = rule.find(':');
    std::string path = internal::TrimSlashes(rule.substr(colon + 1));
    out.push_back(rule.substr(0, colon + 1) + (ctx.host ? internal::HostModePath(ctx, path) : path));
  }
  return out;
}

json Annotations(const BuildContext& ctx, const std::vector<std::string>& unveil) {
  json a = {{"nomad.task.id", ctx.t.id}, {"nomad.alloc.id", ctx.t.alloc_id}, {"nomad.task.name", ctx.t.name}};
  if (!ctx.c.promises.empty()) a["sworn.pledge.promises"] = ctx.c.promises;
  if (!ctx.c.penalty.empty()) a["sworn.pledge.penalty"] = ctx.c.penalty;
  if (ctx.c.learn) a["sworn.pledge.learn"] = "true";
  if (!unveil.empty()) {
    a["sworn.unveil"] = json(unveil).dump();
    // A pledge-driver job lists its data, rarely its own binary and libraries.
    a["sworn.unveil.auto"] = "true";
  }
  if (!ctx.c.unveil_tcp.empty()) a["sworn.unveil.tcp"] = json(ctx.c.unveil_tcp).dump();
  // The task is PID 1 of its own pid namespace, where the kernel drops every
  // signal without a handler: sworn-init forwards them (kill_signal works).
  const std::string& pid_mode = ctx.c.pid_mode.empty() ? ctx.p.default_pid_mode : ctx.c.pid_mode;
  if (ctx.c.init && pid_mode != "host") a["sworn.init"] = "true";
  return a;
}

}  // namespace

Result<Bundle> BuildBundle(const TaskRequest& t, const TaskDriverConfig& task_config, const PluginConfig& plugin) {
  SWORN_TRY(CheckRequest(t));
  TaskDriverConfig c = task_config;
  SWORN_TRY(internal::CheckTaskValues(c));
  PluginConfig p = plugin;
  SWORN_TRY(internal::CheckPluginValues(p));

  BuildContext ctx{t, c, p};
  ctx.host = c.filesystem == "host";
  ctx.task_dir = TaskDir(t);
  ctx.bundle_dir = ctx.task_dir + "/sworn";
  ctx.env = TaskEnv(ctx);

  Bundle b;
  b.dir = ctx.bundle_dir;
  b.container_id = ContainerId(t.id);
  SWORN_TRY(internal::BuildMounts(ctx));
  std::vector<std::string> unveil = UnveilRules(ctx);
  SWORN_TRY(internal::CheckUnveilPaths(ctx, unveil));
  json process = SWORN_TRY(internal::BuildProcess(ctx));
  json linux = SWORN_TRY(internal::BuildLinux(ctx, b));
  b.config = {
      {"ociVersion", "1.2.0"},
      {"process", std::move(process)},
      // Host mode: the task sees the host's tree, writable where the host's is.
      {"root", ctx.host ? json{{"path", "/"}, {"readonly", false}} : json{{"path", "rootfs"}, {"readonly", true}}},
      {"mounts", std::move(ctx.mounts)},
      {"linux", std::move(linux)},
      {"annotations", Annotations(ctx, unveil)},
  };
  if (!t.hostname.empty()) b.config["hostname"] = t.hostname;
  b.resolv_conf = internal::ResolvConf(t);
  b.hosts = internal::HostsFile(t);
  return b;
}

}  // namespace sworn::bundle
