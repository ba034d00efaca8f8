// ExecTaskStreaming (`nomad alloc exec`): a reader thread takes stdin, tty
// resizes and heartbeats from the client while this thread pumps the
// command's output back and finally reports its exit.
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "driver/exec_session.h"
#include "driver/services.h"

namespace sworn::driver {
namespace {

using Stream = grpc::ServerReaderWriter<pb::ExecTaskStreamingResponse, pb::ExecTaskStreamingRequest>;

struct Session {
  Stream* stream;
  std::mutex write_mu;
  ExecProcess proc;
  bool tty = false;

  bool Send(const pb::ExecTaskStreamingResponse& r) {
    std::lock_guard l(write_mu);
    return stream->Write(r);
  }
  int InputFd() const { return tty ? proc.master.get() : proc.in.get(); }
};

void WriteAll(int fd, const std::string& data) {
  for (size_t off = 0; fd >= 0 && off < data.size();) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the command is gone: input is dropped, not an error
    off += n;
  }
}

// Client → command. Empty messages are the API client's heartbeats.
void ReadInput(Session& s, std::atomic<bool>& done) {
  pb::ExecTaskStreamingRequest m;
  while (s.stream->Read(&m)) {
    if (m.has_stdin()) {
      WriteAll(s.InputFd(), m.stdin().data());
      if (m.stdin().close()) {
        if (s.tty)
          WriteAll(s.proc.master.get(), "\x04");  // EOF for the line discipline
        else
          s.proc.in.reset();
      }
    }
    if (m.has_tty_size() && s.tty) {
      winsize ws{};
      ws.ws_row = static_cast<unsigned short>(m.tty_size().height());
      ws.ws_col = static_cast<unsigned short>(m.tty_size().width());
      ioctl(s.proc.master.get(), TIOCSWINSZ, &ws);
    }
  }
  done = true;
}

// Command → client, until both outputs end. A pty master reports EIO once
// the last process holding the slave has gone.
void PumpOutput(Session& s, grpc::ServerContext* ctx) {
  int out = s.tty ? s.proc.master.get() : s.proc.out.get();
  int err = s.tty ? -1 : s.proc.err.get();
  while ((out >= 0 || err >= 0) && !ctx->IsCancelled()) {
    pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
    if (poll(fds, 2, 500) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      pb::ExecTaskStreamingResponse r;
      auto* io = i == 0 ? r.mutable_stdout() : r.mutable_stderr();
      if (n > 0) {
        io->set_data(buf, n);
      } else {
        io->set_close(true);
        (i == 0 ? out : err) = -1;
      }
      s.Send(r);
    }
  }
}

}  // namespace

grpc::Status DriverService::ExecTaskStreaming(grpc::ServerContext* ctx, Stream* stream) {
  pb::ExecTaskStreamingRequest first;
  if (!stream->Read(&first) || !first.has_setup())
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be setup");
  const auto& setup = first.setup();
  auto t = tm_.Find(setup.task_id());
  if (!t) return grpc::Status(grpc::StatusCode::NOT_FOUND, "task not found for given id: " + setup.task_id());
  if (t->Exited()) return ToStatus(MakeError(Errc::kBadState, "task " + setup.task_id() + " has exited"));
  auto proc = SpawnExec(t->rec, {setup.command().begin(), setup.command().end()}, setup.tty());
  if (!proc) return ToStatus(proc.error());
  Session s{stream, {}, std::move(*proc), setup.tty()};
  std::atomic<bool> input_done = false;
  std::thread reader([&] { ReadInput(s, input_done); });
  PumpOutput(s, ctx);
  int code = s.proc.Wait();
  pb::ExecTaskStreamingResponse last;
  last.set_exited(true);
  last.mutable_result()->set_exit_code(code);
  s.Send(last);
  // The client ends its side once it has the result; if it doesn't, cancel
  // so the reader thread's Read returns before the stream goes away.
  for (int i = 0; i < 40 && !input_done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (!input_done) ctx->TryCancel();
  reader.join();
  return grpc::Status::OK;
}

}  // namespace sworn::driver
