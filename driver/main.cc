// nomad-driver-sworn: a go-plugin gRPC server. Nomad starts this binary (three
// times per agent start: fingerprint, config validation, the real instance),
// reads the handshake line from stdout and talks gRPC over the unix socket
// it names. Startup does nothing else, so the short-lived launches are cheap.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "driver/hclog.h"
#include "driver/services.h"

namespace {

constexpr const char* kCookieKey = "NOMAD_PLUGIN_MAGIC_COOKIE";
constexpr const char* kCookieValue = "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255";

// Like go-plugin's os.CreateTemp(dir, "plugin*"): a fresh name, removed so
// the server can bind it. sun_path holds 107 bytes.
std::string SocketPath() {
  const char* dir = getenv("PLUGIN_UNIX_SOCKET_DIR");
  if (!dir || !*dir) dir = getenv("TMPDIR");
  if (!dir || !*dir || strlen(dir) > 80) dir = "/tmp";
  std::string tmpl = std::string(dir) + "/plugin" + "XXXXXX";
  int fd = mkstemp(tmpl.data());
  if (fd < 0) return "";
  close(fd);
  unlink(tmpl.c_str());
  return tmpl;
}

class Shutdown {
 public:
  void Request() {
    std::lock_guard l(mu_);
    requested_ = true;
    cv_.notify_all();
  }
  void WaitRequested() {
    std::unique_lock l(mu_);
    cv_.wait(l, [this] { return requested_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;
};

// grpc.health.v1 comes from gRPC's default service; go-plugin's client
// sends up to 2^31-1 bytes, gRPC C++ would accept only 4 MiB.
std::unique_ptr<grpc::Server> Serve(const std::string& socket, std::initializer_list<grpc::Service*> services) {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder b;
  b.AddListeningPort("unix:" + socket, grpc::InsecureServerCredentials());
  b.SetMaxReceiveMessageSize(INT_MAX);
  b.SetMaxSendMessageSize(INT_MAX);
  for (auto* svc : services) b.RegisterService(svc);
  return b.BuildAndStart();
}

}  // namespace

int main() {
  const char* cookie = getenv(kCookieKey);
  if (!cookie || strcmp(cookie, kCookieValue) != 0) {
    fprintf(stderr,
            "This binary is a plugin. These are not meant to be executed directly.\n"
            "Please execute the program that consumes these plugins, which will\n"
            "load any plugins automatically (Nomad loads nomad-driver-sworn from its plugin_dir).\n");
    return 1;
  }
  // Ctrl-C in a terminal reaches the whole foreground group: Nomad handles
  // it, not us. After the agent dies stderr has no reader.
  // glibc gives every busy thread an arena of its own and keeps what it
  // held; for a long-lived plugin whose gRPC pool grows with exec bursts,
  // a few shared arenas keep memory where it was after the burst.
  mallopt(M_ARENA_MAX, 2);
  signal(SIGINT, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);  // inherited by every gRPC thread

  std::string socket = SocketPath();
  if (socket.empty()) {
    sworn::driver::hclog::Error("cannot create the plugin socket", {{"error", strerror(errno)}});
    return 1;
  }
  sworn::driver::PluginState ps;
  ps.Set({}, sworn::driver::FindSworn(""));
  sworn::driver::TaskManager tasks(ps);
  sworn::driver::EventHub events;
  sworn::driver::Ticker ticker;
  Shutdown shutdown;
  sworn::driver::BaseService base(ps);
  sworn::driver::DriverService driver(ps, tasks, events, ticker);
  sworn::driver::ControllerService controller([&] { shutdown.Request(); });
  sworn::driver::StdioService stdio;

  auto server = Serve(socket, {&base, &driver, &controller, &stdio});
  if (!server) {
    sworn::driver::hclog::Error("cannot serve on the plugin socket", {{"socket", socket}});
    return 1;
  }
  server->GetHealthCheckService()->SetServingStatus("plugin", true);
  printf("1|2|unix|%s|grpc|\n", socket.c_str());
  fflush(stdout);

  std::thread signals([&] {
    int sig = 0;
    sigwait(&term, &sig);
    shutdown.Request();
  });
  signals.detach();
  shutdown.WaitRequested();
  // go-plugin SIGKILLs a plugin that is still there 2 s after Shutdown:
  // whatever hangs below, leave within 1 s. Tasks keep running under their
  // supervisors; exec sessions end with the plugin (their clients go too).
  unlink(socket.c_str());
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(900));
    sworn::driver::hclog::Error("shutdown did not finish in time; exiting", {});
    _exit(0);
  }).detach();
  tasks.Sessions().KillTask("");
  if (!tasks.Sessions().WaitEnded("", 500)) sworn::driver::hclog::Error("exec sessions did not end in time", {});
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  // Long streams and watcher threads may still hold state: leave without
  // running destructors under them.
  fflush(stderr);
  _exit(0);
}
