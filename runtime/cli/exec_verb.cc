// exec: --process FILE, or the container's own process spec with the
// command line's args and overrides, as runc builds it.
#include <sys/capability.h>
#include <sys/resource.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "container/container.h"
#include "core/json_input.h"
#include "core/sys.h"
#include "spec/json_field.h"

namespace sworn::cli {
namespace {

struct ExecFlags {
  std::string process_file, cwd, user, apparmor, label;
  std::vector<std::string> env, caps, gids;
  bool tty = false, nnp = false;
};

Result<spec::Process> ProcessFromFile(const std::string& path) {
  std::string text = SWORN_TRY(WithContext(spec::ReadJsonFile(path, "--process", false), "--process"));
  auto j = SWORN_TRY(ParseJsonInput(text, "--process " + path));
  return spec::ParseProcess(j, "--process " + path);
}

Result<uint32_t> ParseId(const std::string& s, const std::string& what) { return spec::ParseIdText(s, what); }

Result<void> ApplyFlags(spec::Process& p, const ExecFlags& f) {
  if (!f.cwd.empty() && f.cwd[0] != '/')
    return Fail(MakeError(Errc::kInvalidArgument, "--cwd: must be an absolute path, got \"" + f.cwd + "\""));
  if (!f.cwd.empty()) p.cwd = f.cwd;
  if (f.tty) p.terminal = true;
  if (f.nnp) p.no_new_privileges = true;
  if (!f.apparmor.empty()) p.apparmor_profile = f.apparmor;
  if (!f.label.empty()) p.selinux_label = f.label;
  for (const auto& e : f.env) {
    if (e.find('=') == std::string::npos) return Fail(MakeError(Errc::kInvalidArgument, "--env: expected KEY=VALUE, got \"" + e + "\""));
    std::string key = e.substr(0, e.find('=') + 1);
    std::erase_if(p.env, [&](const std::string& x) { return StartsWith(x, key); });
    p.env.push_back(e);
  }
  if (!f.user.empty()) {
    auto parts = Split(f.user, ':');
    if (parts.size() > 2)
      return Fail(MakeError(Errc::kInvalidArgument, "--user: expected uid[:gid], got \"" + f.user + "\""));
    p.user.uid = SWORN_TRY(ParseId(parts[0], "--user " + f.user + ": uid"));
    if (parts.size() > 1) p.user.gid = SWORN_TRY(ParseId(parts[1], "--user " + f.user + ": gid"));
  }
  for (const auto& g : f.gids) p.user.additional_gids.push_back(SWORN_TRY(ParseId(g, "--additional-gids")));
  for (const auto& c : f.caps) {
    cap_value_t v;
    if (!p.capabilities) p.capabilities.emplace();
    // As runc: an unknown name is warned about (at exec) and skipped.
    if (cap_from_name(c.c_str(), &v) < 0 || !StartsWith(c, "CAP_")) {
      auto& u = p.capabilities->unknown;
      if (std::find(u.begin(), u.end(), c) == u.end()) u.push_back(c);
      continue;
    }
    for (auto* set : {&p.capabilities->bounding, &p.capabilities->effective, &p.capabilities->permitted,
                      &p.capabilities->inheritable, &p.capabilities->ambient})
      set->push_back(v);
  }
  return {};
}

// fds 3..3+N-1 are passed on; none can be at or above our own NOFILE limit.
Result<void> CheckPreserveFds(int n) {
  rlimit l{};
  getrlimit(RLIMIT_NOFILE, &l);
  long max = static_cast<long>(std::min<rlim_t>(l.rlim_cur, 1 << 20)) - 3;
  if (n >= 0 && n <= max) return {};
  return Fail(MakeError(Errc::kInvalidArgument, "--preserve-fds: " + std::to_string(n) + " is out of range (valid: 0.." +
                                                    std::to_string(max) + ", fds 3 up to this process's NOFILE limit)"));
}

}  // namespace

int Exec(const Globals& g, const std::vector<std::string>& args) {
  container::ExecOptions o;
  ExecFlags f;
  po::options_description d("exec options");
  d.add_options()("process,p", po::value(&f.process_file), "process.json to run")(
      "console-socket", po::value(&o.console_socket), "unix socket that receives the pty master")(
      "cwd", po::value(&f.cwd), "working directory")("env,e", po::value(&f.env)->composing(), "KEY=VALUE")(
      "tty,t", po::bool_switch(&f.tty), "allocate a pty")("user,u", po::value(&f.user), "uid[:gid]")(
      "additional-gids,g", po::value(&f.gids)->composing(), "extra group id")(
      "cap,c", po::value(&f.caps)->composing(), "add a capability")(
      "no-new-privs", po::bool_switch(&f.nnp), "set no_new_privs")(
      "detach,d", po::bool_switch(&o.detach), "do not wait for the process")(
      "pid-file", po::value(&o.pid_file), "file to write the pid to")(
      "preserve-fds", po::value(&o.preserve_fds), "pass N more fds")(
      "apparmor", po::value(&f.apparmor), "apparmor profile")("process-label", po::value(&f.label), "selinux label")(
      "ignore-paused", po::bool_switch(&o.ignore_paused), "exec even if the container is paused")(
      "cgroup", po::value(&o.cgroups)->composing(), "[CONTROLLER[,CONTROLLER]:]PATH: run in this sub-cgroup");
  auto p = ParseVerb(d, args, /*reorder=*/false);
  if (p.positional.empty()) return Report("exec: expected <container-id> [command [args...]]");
  if (auto r = CheckPreserveFds(o.preserve_fds); !r) return Report(r.error().Message());
  o.id = p.positional[0];
  if (!f.process_file.empty()) {
    if (p.positional.size() > 1) return Report("exec: give either --process or a command, not both");
    auto proc = ProcessFromFile(f.process_file);
    if (!proc) return Report(proc.error().Message());
    o.process = std::move(*proc);
  } else {
    if (p.positional.size() < 2) return Report("exec: expected a command after the container id");
    auto base = container::BaseProcess(g.root, o.id);
    if (!base) return Report(base.error().Message());
    o.process = std::move(*base);
    o.process.args.assign(p.positional.begin() + 1, p.positional.end());
    o.process.terminal = false;
    o.process.console_height = o.process.console_width = 0;
  }
  if (auto r = ApplyFlags(o.process, f); !r) return Report(r.error().Message());
  o.pty_to_parent = !o.detach && o.console_socket.empty();
  auto c = container::Exec(g.root, o);
  if (!c) return Report(c.error().Message());
  if (o.detach) return 0;
  auto code = container::WaitForward(*c);
  if (!code) return Report(code.error().Message());
  return *code;
}

}  // namespace sworn::cli
