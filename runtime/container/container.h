// The OCI lifecycle as a library: the CLI verbs are thin wrappers over these.
//
//   auto c = SWORN_TRY(container::Create(root, {.id = "web", .bundle = "/b"}));
//   SWORN_TRY(container::Start(root, "web"));
//   SWORN_TRY(container::Kill(root, "web", SIGTERM, false));
//   SWORN_TRY(container::Delete(root, "web", false));
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fd.h"
#include "spec/spec.h"
#include "state/state.h"

namespace sworn::container {

struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  bool pty_to_parent = false;  // `run -t` without a console socket
  bool foreground = false;     // `run`: started with StartCreated, no exec fifo
  bool systemd_cgroup = false; // --systemd-cgroup: a transient scope over D-Bus
};

struct Created {
  pid_t pid = -1;
  UniqueFd pidfd;
  UniqueFd pty_master;  // only with pty_to_parent
  UniqueFd sync;        // only for foreground: the init waits here for kStart
  bool pid1 = false;    // sworn.init: the init is sworn-init, the program its child
  bool started = false; // foreground: kStart went out as soon as the init was ready
  // What create saved last: `run` starts and deletes from it instead of
  // reading state.json back (nothing it uses changes in between).
  state::ContainerState st;
};

Result<Created> Create(const std::string& root, const CreateOptions& o);
Result<void> Start(const std::string& root, const std::string& id);
// Start for `run`, which still holds the init's sync socket.
Result<void> StartCreated(const std::string& root, const std::string& id, Created& c);
Result<void> Kill(const std::string& root, const std::string& id, int sig, bool all);
Result<void> Delete(const std::string& root, const std::string& id, bool force);
// Delete for `run`, which has the state create saved.
Result<void> DeleteCreated(const std::string& root, const std::string& id, const state::ContainerState& st);

struct Info {
  state::ContainerState st;
  state::Status status;
};
Result<Info> Inspect(const std::string& root, const std::string& id);
// The `state` JSON: the spec's fields plus runc's rootfs, created, owner.
// Keys in runc's order (its containerState struct), for tools that read them in order.
nlohmann::ordered_json StateJson(const Info& info);
Result<std::vector<Info>> List(const std::string& root);

struct ExecOptions {
  std::string id;
  spec::Process process;
  std::string pid_file, console_socket;
  bool detach = false;
  int preserve_fds = 0;
  bool pty_to_parent = false;
  std::vector<std::string> cgroups;  // exec --cgroup: [CONTROLLER[,CONTROLLER]:]PATH
  bool ignore_paused = false;        // exec into a paused container (it joins the freeze)
};
Result<Created> Exec(const std::string& root, const ExecOptions& o);
// The container's process spec, as the base `exec` modifies.
Result<spec::Process> BaseProcess(const std::string& root, const std::string& id);

// Waits for a child, forwarding signals to it and proxying a pty if given;
// returns the exit code a shell would report (128+N for signal N).
Result<int> WaitForward(const Created& c);
// The same, returning the raw wait status.
Result<int> WaitForwardStatus(const Created& c);
// The exit code a shell reports for a wait status (128+N for signal N).
int ExitCode(int status);
// The signal that ended the program, 0 if none. Under sworn-init (pid1) the
// init exits 128+N when the program died of signal N (as tini does).
int ExitSignal(int status, bool pid1);

// Cgroup verbs.
Result<std::vector<pid_t>> Pids(const std::string& root, const std::string& id);
Result<void> Pause(const std::string& root, const std::string& id);
Result<void> Resume(const std::string& root, const std::string& id);
// Applies a linux.resources object (as JSON) and records it in the state.
Result<void> Update(const std::string& root, const std::string& id, const nlohmann::json& resources);
// Stats JSON and the OOM-kill count, for `events`.
struct Sample {
  nlohmann::json stats;
  uint64_t oom_kills = 0;
  state::Status status;
};
Result<Sample> TakeSample(const std::string& root, const std::string& id);
// The cgroup's OOM kills so far, without the rest of the stats.
Result<uint64_t> OomKills(const std::string& root, const std::string& id);
// See cgroup::OomNotifier.
Result<UniqueFd> WatchOom(const std::string& root, const std::string& id);

// Parses "TERM", "SIGTERM", "15"; kBadInput otherwise.
Result<int> ParseSignal(std::string_view s);

// State JSON as handed to hooks.
std::string HookState(const state::ContainerState& st, state::Status status);

}  // namespace sworn::container
