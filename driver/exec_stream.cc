// ExecTaskStreaming (`nomad alloc exec`) as a callback reactor: the call can
// finish with OK as soon as the command's exit is sent, even while a read of
// client input is still pending (a sync handler would have to cancel it).
// Input (stdin, tty resizes, heartbeats) is handled in OnReadDone; a pump
// thread turns the command's output into queued writes, one in flight at a
// time as the callback API requires.
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>

#include <deque>
#include <mutex>
#include <thread>

#include "driver/exec_session.h"
#include "driver/services.h"

namespace sworn::driver {
namespace {

using Req = pb::ExecTaskStreamingRequest;
using Resp = pb::ExecTaskStreamingResponse;

void WriteAll(int fd, const std::string& data) {
  for (size_t off = 0; fd >= 0 && off < data.size();) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the command is gone: input is dropped, not an error
    off += n;
  }
}

class ExecReactor final : public grpc::ServerBidiReactor<Req, Resp> {
 public:
  explicit ExecReactor(TaskManager& tm) : tm_(tm) { StartRead(&in_); }

  void OnReadDone(bool ok) override {
    std::lock_guard l(mu_);
    if (!ok) {  // the client closed its side, or the call is over
      if (!proc_started_) FinishOnce(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be setup"));
      return;
    }
    if (!proc_started_) {
      Setup();
    } else {
      HandleInput();
    }
    if (!finished_) StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard l(mu_);
    writing_ = false;
    if (!ok) {  // the client is gone: stop the command
      Kill();
      FinishOnce(grpc::Status(grpc::StatusCode::CANCELLED, "exec client went away"));
      return;
    }
    WriteNext();
  }

  void OnCancel() override {
    std::lock_guard l(mu_);
    Kill();
  }

  void OnDone() override {
    {
      std::lock_guard l(mu_);
      Kill();
    }
    if (pump_.joinable()) pump_.join();
    delete this;
  }

 private:
  void Setup() {
    if (!in_.has_setup()) return FinishOnce(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be setup"));
    const auto& s = in_.setup();
    auto t = tm_.Find(s.task_id());
    if (!t) return FinishOnce(grpc::Status(grpc::StatusCode::NOT_FOUND, "task not found for given id: " + s.task_id()));
    if (t->Exited()) return FinishOnce(ToStatus(MakeError(Errc::kBadState, "task " + s.task_id() + " has exited")));
    auto p = SpawnExec(t->rec, {s.command().begin(), s.command().end()}, s.tty());
    if (!p) return FinishOnce(ToStatus(p.error()));
    proc_ = std::move(*p);
    tty_ = s.tty();
    proc_started_ = true;
    pump_ = std::thread([this] { Pump(); });
  }

  void HandleInput() {
    int input = tty_ ? proc_.master.get() : proc_.in.get();
    if (in_.has_stdin()) {
      WriteAll(input, in_.stdin().data());
      if (in_.stdin().close()) {
        if (tty_)
          WriteAll(proc_.master.get(), "\x04");  // EOF for the pty's line discipline
        else
          proc_.in.reset();
      }
    }
    if (in_.has_tty_size() && tty_) {
      winsize ws{};
      ws.ws_row = static_cast<unsigned short>(in_.tty_size().height());
      ws.ws_col = static_cast<unsigned short>(in_.tty_size().width());
      ioctl(proc_.master.get(), TIOCSWINSZ, &ws);
    }
    // Anything else is the API client's empty heartbeat.
  }

  // Command → client until both outputs end (a pty master reports EIO once
  // the last holder of the slave is gone), then the exit code.
  void Pump() {
    int out = tty_ ? proc_.master.get() : proc_.out.get();
    int err = tty_ ? -1 : proc_.err.get();
    while (out >= 0 || err >= 0) {
      pollfd fds[2] = {{out, POLLIN, 0}, {err, POLLIN, 0}};
      if (poll(fds, 2, -1) < 0 && errno != EINTR) break;
      for (int i = 0; i < 2; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        char buf[4096];
        ssize_t n = read(fds[i].fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        Resp r;
        auto* io = i == 0 ? r.mutable_stdout() : r.mutable_stderr();
        if (n > 0) {
          io->set_data(buf, n);
        } else {
          io->set_close(true);
          (i == 0 ? out : err) = -1;
        }
        Enqueue(std::move(r), false);
      }
    }
    Resp last;
    last.set_exited(true);
    last.mutable_result()->set_exit_code(proc_.Wait());
    Enqueue(std::move(last), true);
  }

  void Enqueue(Resp r, bool last) {
    std::lock_guard l(mu_);
    queue_.push_back(std::move(r));
    final_queued_ = final_queued_ || last;
    WriteNext();
  }

  void WriteNext() {
    if (writing_ || finished_) return;
    if (!queue_.empty()) {
      current_ = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
      StartWrite(&current_);
    } else if (final_queued_) {
      FinishOnce(grpc::Status::OK);
    }
  }

  void FinishOnce(const grpc::Status& s) {
    if (finished_) return;
    finished_ = true;
    Finish(s);
  }

  // Through the pidfd: the pid itself may already be reaped and reused.
  void Kill() {
    if (proc_started_ && proc_.pidfd) syscall(SYS_pidfd_send_signal, proc_.pidfd.get(), SIGKILL, nullptr, 0);
  }

  TaskManager& tm_;
  std::recursive_mutex mu_;  // reactions may run inline from StartWrite/Finish
  Req in_;
  Resp current_;
  std::deque<Resp> queue_;
  ExecProcess proc_;
  std::thread pump_;
  bool tty_ = false, proc_started_ = false, writing_ = false, final_queued_ = false, finished_ = false;
};

}  // namespace

grpc::ServerBidiReactor<Req, Resp>* DriverService::ExecTaskStreaming(grpc::CallbackServerContext*) {
  return new ExecReactor(tm_);
}

}  // namespace sworn::driver
