// config.json's mounts for a task, and where each container path lives on
// the host (to check unveil paths before sworn runs).
//
// Image mode: sworn's default mounts, chroot_env read-only, Nomad's alloc/
// local/ secrets/ tmp/ read-write where the env says, Nomad's volume mounts,
// then generated resolv.conf and hosts. Host mode: root is the host's "/",
// so only a fresh /proc, the volume mounts and the generated files.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "bundle/internal.h"
#include "core/sys.h"

namespace sworn::bundle::internal {
namespace {

// sworn's own defaults for a root container (runtime/cli/spec_verb.cc).
json DefaultMounts() {
  return json::array({
      {{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
      {{"destination", "/dev"},
       {"type", "tmpfs"},
       {"source", "tmpfs"},
       {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
      {{"destination", "/dev/pts"},
       {"type", "devpts"},
       {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
      {{"destination", "/dev/shm"},
       {"type", "tmpfs"},
       {"source", "shm"},
       {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
      {{"destination", "/dev/mqueue"},
       {"type", "mqueue"},
       {"source", "mqueue"},
       {"options", {"nosuid", "noexec", "nodev"}}},
      {{"destination", "/sys"},
       {"type", "sysfs"},
       {"source", "sysfs"},
       {"options", {"nosuid", "noexec", "nodev", "ro"}}},
      {{"destination", "/sys/fs/cgroup"},
       {"type", "cgroup"},
       {"source", "cgroup"},
       {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}},
  });
}

void AddBind(BuildContext& ctx, const std::string& dest, const std::string& source, json options,
             bool checkable = true) {
  ctx.mounts.push_back({{"destination", dest}, {"type", "bind"}, {"source", source}, {"options", std::move(options)}});
  ctx.views.push_back({dest, source, checkable});
}

// Read-only all the way down ("rro", mount_setattr): a submount of a host
// directory (a bind over /etc/hosts, say) must not stay writable.
json ReadonlyBindOptions() { return {"rbind", "rro", "nosuid", "nodev"}; }

void AddChrootBinds(BuildContext& ctx) {
  const auto& env = ctx.p.chroot_env.empty() ? DefaultChrootEnv() : ctx.p.chroot_env;
  // By destination, so a parent is mounted before what goes inside it.
  std::vector<std::pair<std::string, std::string>> binds;  // destination, host
  for (const auto& [host, dest] : env) binds.emplace_back(TrimSlashes(dest), TrimSlashes(host));
  std::sort(binds.begin(), binds.end());
  for (const auto& [dest, host] : binds) {
    struct stat st;
    if (stat(host.c_str(), &st) < 0) continue;  // as Nomad: a missing chroot_env source is skipped
    AddBind(ctx, dest, host, ReadonlyBindOptions());
  }
}

std::string EnvDir(const TaskRequest& t, const char* key, const char* fallback) {
  auto it = t.env.find(key);
  if (it == t.env.end() || it->second.empty() || it->second[0] != '/') return fallback;
  return TrimSlashes(it->second);
}

struct NomadDir {
  const char* env_key;
  const char* fallback;
  std::string host;
};

std::vector<NomadDir> NomadDirs(const BuildContext& ctx) {
  return {{"NOMAD_ALLOC_DIR", "/alloc", ctx.t.alloc_dir + "/alloc"},
          {"NOMAD_TASK_DIR", "/local", ctx.task_dir + "/local"},
          {"NOMAD_SECRETS_DIR", "/secrets", ctx.task_dir + "/secrets"}};
}

Result<void> AddNomadDir(BuildContext& ctx, const std::string& dest, const std::string& host, const char* what) {
  struct stat st;
  if (stat(host.c_str(), &st) < 0) return Fail(SysError(std::string(what) + ": stat", host));
  if (!S_ISDIR(st.st_mode))
    return Fail(MakeError(Errc::kInvalidArgument, std::string(what) + ": " + host + " is not a directory"));
  AddBind(ctx, dest, host, {"rbind", "rw", "nosuid", "nodev"});
  return {};
}

Result<void> AddNomadDirs(BuildContext& ctx) {
  for (const auto& d : NomadDirs(ctx))
    SWORN_TRY(AddNomadDir(ctx, EnvDir(ctx.t, d.env_key, d.fallback), d.host, d.env_key));
  return AddNomadDir(ctx, "/tmp", ctx.task_dir + "/tmp", "task tmp dir");
}

// Nomad 2.0.1's hardening: the log FIFOs of every task in the alloc are
// read-only to the task (it writes its own logs through the fds the plugin
// passes), so it cannot replace or delete them. Host mode binds the host
// path over itself.
void AddReadonlyLogs(BuildContext& ctx) {
  std::string host = ctx.t.alloc_dir + "/alloc/logs";
  struct stat st;
  if (stat(host.c_str(), &st) < 0 || !S_ISDIR(st.st_mode)) return;  // nothing to protect
  std::string dest = ctx.host ? host : EnvDir(ctx.t, "NOMAD_ALLOC_DIR", "/alloc") + "/logs";
  AddBind(ctx, dest, host, {"rbind", "rro", "nosuid", "nodev", "noexec"});
}

const char* Propagation(const std::string& mode) {
  if (mode == "host-to-task") return "rslave";
  if (mode == "bidirectional") return "rshared";
  return "rprivate";
}

Result<void> AddTaskMounts(BuildContext& ctx) {
  for (size_t i = 0; i < ctx.t.mounts.size(); ++i) {
    const Mount& m = ctx.t.mounts[i];
    std::string field = "mounts[" + std::to_string(i) + "]";
    if (m.host_path.empty() || m.host_path[0] != '/')
      return Fail(FieldError(field + ".host_path", "must be an absolute path, got \"" + m.host_path + "\""));
    struct stat st;
    if (stat(m.host_path.c_str(), &st) < 0) return Fail(SysError(field + ".host_path: stat", m.host_path));
    std::string rel = m.task_path;
    rel.erase(0, rel.find_first_not_of('/') == std::string::npos ? rel.size() : rel.find_first_not_of('/'));
    rel = TrimSlashes(rel);
    if (rel.empty()) return Fail(FieldError(field + ".task_path", "must name a path below the task's root"));
    std::string dest = (ctx.host ? ctx.task_dir : "") + "/" + rel;
    AddBind(ctx, dest, TrimSlashes(m.host_path), {"rbind", m.readonly ? "ro" : "rw", Propagation(m.propagation_mode)});
  }
  return {};
}

void AddGeneratedFiles(BuildContext& ctx) {
  json opts = {"bind", "ro", "nosuid", "nodev", "noexec"};
  if (!ResolvConf(ctx.t).empty()) AddBind(ctx, "/etc/resolv.conf", ctx.bundle_dir + "/resolv.conf", opts, false);
  if (!HostsFile(ctx.t).empty()) AddBind(ctx, "/etc/hosts", ctx.bundle_dir + "/hosts", opts, false);
}

std::string JoinLine(const char* word, const std::vector<std::string>& items) {
  if (items.empty()) return "";
  std::string s = word;
  for (const auto& i : items) s += " " + i;
  return s + "\n";
}

}  // namespace

std::string ResolvConf(const TaskRequest& t) {
  if (t.dns_servers.empty()) return "";
  std::string s;
  for (const auto& server : t.dns_servers) s += "nameserver " + server + "\n";
  return s + JoinLine("search", t.dns_searches) + JoinLine("options", t.dns_options);
}

std::string HostsFile(const TaskRequest& t) {
  if (t.hostname.empty() && t.host_address.empty()) return "";
  std::string s = "127.0.0.1 localhost\n::1 localhost\n";
  if (!t.hostname.empty()) s += (t.host_address.empty() ? "127.0.1.1" : t.host_address) + " " + t.hostname + "\n";
  return s;
}

std::string HostModePath(const BuildContext& ctx, const std::string& path) {
  for (const auto& d : NomadDirs(ctx)) {
    std::string from = EnvDir(ctx.t, d.env_key, d.fallback);
    if (from != "/" && IsUnder(path, from)) return d.host + path.substr(from.size());
  }
  return path;
}

Result<void> BuildMounts(BuildContext& ctx) {
  if (ctx.host) {
    ctx.mounts.push_back({{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}});
    ctx.views.push_back({"/proc", "", false});
  } else {
    ctx.mounts = DefaultMounts();
    for (const auto& m : ctx.mounts) ctx.views.push_back({m["destination"].get<std::string>(), "", false});
    AddChrootBinds(ctx);
    SWORN_TRY(AddNomadDirs(ctx));
  }
  AddReadonlyLogs(ctx);
  SWORN_TRY(AddTaskMounts(ctx));
  AddGeneratedFiles(ctx);
  return {};
}

namespace {

const MountView* Innermost(const BuildContext& ctx, const std::string& path) {
  const MountView* best = nullptr;
  // Later mounts shadow earlier ones at the same destination.
  for (const auto& v : ctx.views)
    if (IsUnder(path, v.destination) && (!best || v.destination.size() >= best->destination.size())) best = &v;
  return best;
}

// "/" and the directories leading to a mount point exist in an image root.
bool LeadsToMount(const BuildContext& ctx, const std::string& path) {
  return std::any_of(ctx.views.begin(), ctx.views.end(),
                     [&](const MountView& v) { return IsUnder(v.destination, path); });
}

}  // namespace

Result<void> CheckUnveilPaths(const BuildContext& ctx, const std::vector<std::string>& unveil) {
  for (size_t i = 0; i < unveil.size(); ++i) {
    std::string field = "unveil[" + std::to_string(i) + "]";
    std::string path = TrimSlashes(unveil[i].substr(unveil[i].find(':') + 1));
    std::string host = path;
    if (const MountView* v = Innermost(ctx, path)) {
      if (!v->checkable) continue;
      host = v->source + path.substr(v->destination.size());
    } else if (!ctx.host) {
      if (LeadsToMount(ctx, path)) continue;
      return Fail(FieldError(field, path + " is not visible in the task's filesystem"));
    }
    struct stat st;
    if (stat(host.c_str(), &st) < 0) return Fail(SysError(field + ": " + path + ": stat", host));
  }
  return {};
}

}  // namespace sworn::bundle::internal
