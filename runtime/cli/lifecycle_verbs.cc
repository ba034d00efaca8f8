// create, start, run, state, kill, delete, list.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>

#include <cstdio>
#include <iostream>

#include "cli/cli.h"
#include "container/container.h"
#include "core/log.h"
#include "core/sys.h"
#include "security/pledge_reporter.h"

namespace sworn::cli {
namespace {

void AddCreateFlags(po::options_description& d, container::CreateOptions& o) {
  d.add_options()("bundle,b", po::value(&o.bundle), "bundle directory (default: current directory)")(
      "console-socket", po::value(&o.console_socket), "unix socket that receives the pty master")(
      "pid-file", po::value(&o.pid_file), "file to write the init pid to")(
      "no-pivot", po::bool_switch(&o.no_pivot), "chroot instead of pivot_root")(
      "no-new-keyring", po::bool_switch(&o.no_new_keyring), "keep the caller's session keyring")(
      "preserve-fds", po::value(&o.preserve_fds), "pass N more fds (3..3+N-1) to the process");
}

template <class T>
int Check(const Result<T>& r) {
  return r ? 0 : Report(r.error().Message());
}

}  // namespace

int Create(const Globals& g, const std::vector<std::string>& args) {
  container::CreateOptions o;
  po::options_description d("create options");
  AddCreateFlags(d, o);
  auto p = ParseVerb(d, args);
  ExpectArgs("create", p, 1, 1, "<container-id>");
  o.id = p.positional[0];
  o.systemd_cgroup = g.systemd_cgroup;
  return Check(container::Create(g.root, o));
}

int Start(const Globals& g, const std::vector<std::string>& args) {
  po::options_description d("start options");
  auto p = ParseVerb(d, args);
  ExpectArgs("start", p, 1, 1, "<container-id>");
  return Check(container::Start(g.root, p.positional[0]));
}

// `run --exit-file F --ready-fd N` makes `run` a task supervisor (the Nomad
// driver's): N gets one byte once the process has started, and F receives
// how it ended, written atomically before `run` exits.
static int64_t NowUnixNs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

static Result<void> WriteExitFile(const Globals& g, const std::string& id, const std::string& path, int status,
                                  bool pid1) {
  auto ooms = container::OomKills(g.root, id);
  nlohmann::json j = {{"exit_code", container::ExitCode(status)},
                      {"signal", container::ExitSignal(status, pid1)},
                      {"oom_killed", ooms && *ooms > 0},
                      {"exited_at", std::time(nullptr)},
                      {"exited_at_ns", NowUnixNs()}};
  return WriteFileAtomic(path, j.dump() + "\n");
}

int Run(const Globals& g, const std::vector<std::string>& args) {
  container::CreateOptions o;
  bool detach = false, keep = false;
  std::string exit_file;
  int ready_fd = -1;
  po::options_description d("run options");
  AddCreateFlags(d, o);
  d.add_options()("detach,d", po::bool_switch(&detach), "do not wait for the container")(
      "keep", po::bool_switch(&keep), "keep the stopped container (no delete)")(
      "no-subreaper", po::bool_switch(), "accepted for runc compatibility")(
      "exit-file", po::value(&exit_file), "write the exit code, signal and OOM kill here as JSON")(
      "ready-fd", po::value(&ready_fd), "write one byte to this fd once the process has started");
  auto p = ParseVerb(d, args);
  ExpectArgs("run", p, 1, 1, "<container-id>");
  o.id = p.positional[0];
  o.systemd_cgroup = g.systemd_cgroup;
  if (detach && !exit_file.empty()) return Report("run: --exit-file needs a foreground run (no --detach)");
  o.pty_to_parent = !detach && o.console_socket.empty();
  o.foreground = !detach;
  auto c = container::Create(g.root, o);
  if (!c) return Report(c.error().Message());
  if (auto s = container::StartCreated(g.root, o.id, *c); !s) {
    (void)container::DeleteCreated(g.root, o.id, c->st);
    return Report(s.error().Message());
  }
  log::Debug("run: started");
  if (ready_fd >= 0) {
    (void)!write(ready_fd, "1", 1);
    close(ready_fd);
  }
  if (detach) return 0;
  auto status = container::WaitForwardStatus(*c);
  if (status) *status = security::KilledInitStatus(g.root + "/" + o.id, *status);
  log::Debug("run: container exited");
  if (status && !exit_file.empty()) {
    if (auto w = WriteExitFile(g, o.id, exit_file, *status, c->pid1); !w) log::Warn(w.error().Message());
  }
  if (!keep) {
    if (auto del = container::DeleteCreated(g.root, o.id, c->st); !del) log::Warn(del.error().Message());
  }
  log::Debug("run: deleted");
  if (!status) return Report(status.error().Message());
  return container::ExitCode(*status);
}

int State(const Globals& g, const std::vector<std::string>& args) {
  po::options_description d("state options");
  auto p = ParseVerb(d, args);
  ExpectArgs("state", p, 1, 1, "<container-id>");
  auto info = container::Inspect(g.root, p.positional[0]);
  if (!info) return Report(info.error().Message());
  std::cout << container::StateJson(*info).dump(2) << "\n";
  return 0;
}

int Kill(const Globals& g, const std::vector<std::string>& args) {
  bool all = false;
  po::options_description d("kill options");
  d.add_options()("all,a", po::bool_switch(&all), "signal every process in the container's cgroup");
  auto p = ParseVerb(d, args);
  ExpectArgs("kill", p, 1, 2, "<container-id> [signal]");
  auto sig = container::ParseSignal(p.positional.size() > 1 ? p.positional[1] : "SIGTERM");
  if (!sig) return Report(sig.error().Message());
  return Check(container::Kill(g.root, p.positional[0], *sig, all));
}

int Delete(const Globals& g, const std::vector<std::string>& args) {
  bool force = false;
  po::options_description d("delete options");
  d.add_options()("force,f", po::bool_switch(&force), "kill the container first if it is not stopped");
  auto p = ParseVerb(d, args);
  ExpectArgs("delete", p, 1, 1, "<container-id>");
  return Check(container::Delete(g.root, p.positional[0], force));
}

int List(const Globals& g, const std::vector<std::string>& args) {
  std::string format = "table";
  bool quiet = false;
  po::options_description d("list options");
  d.add_options()("format,f", po::value(&format), "table or json")("quiet,q", po::bool_switch(&quiet), "ids only");
  auto p = ParseVerb(d, args);
  ExpectArgs("list", p, 0, 0, "no arguments");
  if (format != "table" && format != "json") return Report("--format: expected table or json, got \"" + format + "\"");
  auto all = container::List(g.root);
  if (!all) return Report(all.error().Message());
  if (quiet) {
    for (const auto& i : *all) std::printf("%s\n", i.st.id.c_str());
    return 0;
  }
  if (format == "json") {
    auto arr = nlohmann::ordered_json::array();
    for (const auto& i : *all) arr.push_back(container::StateJson(i));
    std::cout << arr.dump() << "\n";
    return 0;
  }
  std::printf("%-20s %-8s %-10s %-40s %-31s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  for (const auto& i : *all) {
    auto j = container::StateJson(i);
    std::printf("%-20s %-8d %-10s %-40s %-31s %s\n", i.st.id.c_str(), j["pid"].get<int>(),
                j["status"].get<std::string>().c_str(), i.st.bundle.c_str(), i.st.created.c_str(),
                j["owner"].get<std::string>().c_str());
  }
  return 0;
}

}  // namespace sworn::cli
