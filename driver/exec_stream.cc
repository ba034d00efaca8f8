// ExecTaskStreaming (`nomad alloc exec`) as a callback reactor: the call can
// finish with OK as soon as the command's exit is sent, even while a read of
// client input is still pending (a sync handler would have to cancel it).
//
// One pump thread per session moves bytes both ways with backpressure: it
// reads the command's output only while fewer than kMaxQueued messages
// wait for the client, and it asks gRPC for the next client message only
// once the previous stdin chunk is in the command's pipe. So a slow reader
// or a command that does not read stdin holds a few hundred KB, never more.
// The session (its whole process tree) ends with the call: cancel, client
// gone, deadline, DestroyTask/StopTask or plugin shutdown.
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
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

constexpr size_t kMaxQueued = 4;
constexpr size_t kChunk = 32 * 1024;

class ExecReactor final : public grpc::ServerBidiReactor<Req, Resp> {
 public:
  explicit ExecReactor(TaskManager& tm) : tm_(tm), wake_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) { StartRead(&in_); }

  void OnReadDone(bool ok) override {
    std::lock_guard l(mu_);
    if (!ok) {  // the client closed its side, or the call is over
      if (!started_) FinishOnce(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be setup"));
      return;
    }
    if (!started_) return Setup();
    if (in_.has_stdin()) {
      pending_in_ = in_.stdin().data();
      in_off_ = 0;
      close_in_ = in_.stdin().close();
    }
    if (in_.has_tty_size()) {
      resize_ = true;
      rows_ = static_cast<unsigned short>(in_.tty_size().height());
      cols_ = static_cast<unsigned short>(in_.tty_size().width());
    }
    // Anything else is the API client's empty heartbeat. The pump asks for
    // the next message once this one is handled.
    reading_paused_ = true;
    Wake();
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard l(mu_);
    writing_ = false;
    if (!ok) return Stop(grpc::Status(grpc::StatusCode::CANCELLED, "exec client went away"));
    WriteNext();
    Wake();  // room in the queue
  }

  void OnCancel() override {
    std::lock_guard l(mu_);
    Stop(grpc::Status(grpc::StatusCode::CANCELLED, "exec cancelled"));
  }

  void OnDone() override {
    {
      std::lock_guard l(mu_);
      stop_ = true;
      Wake();
    }
    if (pump_.joinable()) pump_.join();
    delete this;
  }

 private:
  void Setup() {
    if (!in_.has_setup()) return FinishOnce(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the first message must be setup"));
    const auto& s = in_.setup();
    task_ = tm_.Find(s.task_id());
    if (!task_) return FinishOnce(grpc::Status(grpc::StatusCode::NOT_FOUND, "task not found for given id: " + s.task_id()));
    if (task_->Exited()) return FinishOnce(ToStatus(MakeError(Errc::kBadState, "task " + s.task_id() + " has exited")));
    command_.assign(s.command().begin(), s.command().end());
    tty_ = s.tty();
    started_ = true;
    // Spawning sworn exec takes a while: not on a gRPC thread.
    pump_ = std::thread([this] { Run(); });
    StartRead(&in_);
  }

  void Run();
  void Pump();
  bool ReadOutput(int fd, bool is_err, int& slot);
  bool WriteInput(int fd);

  // With mu_ held: end the call; the pump sees stop_ and kills the session.
  void Stop(const grpc::Status& s) {
    stop_ = true;
    if (proc_) proc_->Kill();
    Wake();
    FinishOnce(s);
  }
  void Wake() {
    uint64_t one = 1;
    (void)!write(wake_.get(), &one, sizeof(one));
  }
  void Enqueue(Resp r, bool last) {
    std::lock_guard l(mu_);
    if (finished_) return;
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

  TaskManager& tm_;
  std::shared_ptr<Task> task_;
  std::vector<std::string> command_;
  std::recursive_mutex mu_;  // reactions may run inline from StartWrite/Finish
  UniqueFd wake_;            // eventfd: wakes the pump
  Req in_;
  Resp current_;
  std::deque<Resp> queue_;
  std::string pending_in_;   // stdin not yet in the command's pipe (from in_off_ on)
  size_t in_off_ = 0;
  bool close_in_ = false, resize_ = false, reading_paused_ = false;
  unsigned short rows_ = 0, cols_ = 0;
  std::unique_ptr<ExecProcess> proc_;
  std::thread pump_;
  bool tty_ = false, started_ = false, writing_ = false, final_queued_ = false, finished_ = false, stop_ = false;
};

void ExecReactor::Run() {
  // Registered before sworn exec starts: a shutdown or DestroyTask meanwhile
  // stops the session as soon as it exists.
  auto& sessions = tm_.Sessions();
  uint64_t token = sessions.Add(task_->rec.id, [this] {
    std::lock_guard l(mu_);
    Stop(grpc::Status(grpc::StatusCode::ABORTED, "exec session ended: the task or the plugin is going away"));
  });
  auto p = SpawnExec(task_->rec, command_, tty_);
  {
    std::lock_guard l(mu_);
    if (p) proc_ = std::move(*p);
    if (!p) FinishOnce(ToStatus(p.error()));
  }
  if (!p) return sessions.Remove(token);
  int in = tty_ ? proc_->master.get() : proc_->in.get();
  if (in >= 0) fcntl(in, F_SETFL, fcntl(in, F_GETFL) | O_NONBLOCK);
  Pump();
  bool stopped;
  {
    std::lock_guard l(mu_);
    stopped = stop_;
  }
  int code = stopped ? proc_->Reap() : proc_->Wait();
  proc_->Reap();  // daemonized leftovers of a finished command go too
  sessions.Remove(token);
  // A burst of sessions leaves freed chunks in the allocator's per-thread
  // arenas; hand them back once the last session is gone.
  if (sessions.Count() == 0) malloc_trim(0);
  if (stopped) return;
  Resp last;
  last.set_exited(true);
  last.mutable_result()->set_exit_code(code);
  Enqueue(std::move(last), true);
}

// Command ↔ client until both outputs end (a pty master reports EIO once
// the last holder of the slave is gone) or the call stops.
void ExecReactor::Pump() {
  int out = tty_ ? proc_->master.get() : proc_->out.get();
  int err = tty_ ? -1 : proc_->err.get();
  int in = tty_ ? proc_->master.get() : proc_->in.get();
  bool exec_ended = false;
  while (out >= 0 || err >= 0) {
    bool room, input;
    {
      std::lock_guard l(mu_);
      if (stop_) return;
      room = queue_.size() < kMaxQueued;
      if (resize_ && tty_) {
        winsize ws{.ws_row = rows_, .ws_col = cols_, .ws_xpixel = 0, .ws_ypixel = 0};
        ioctl(proc_->master.get(), TIOCSWINSZ, &ws);
      }
      resize_ = false;
      if (reading_paused_ && (in_off_ >= pending_in_.size() || in < 0)) {  // this message is handled
        pending_in_.clear();
        in_off_ = 0;
        if (close_in_ && in >= 0) {
          if (tty_) {
            (void)!write(in, "\x04", 1);  // EOF for the pty's line discipline
          } else {
            proc_->in.reset();
            in = -1;
          }
        }
        close_in_ = reading_paused_ = false;
        if (!finished_) StartRead(&in_);
      }
      input = reading_paused_ && in_off_ < pending_in_.size();
    }
    // sworn exec ends with the command: if the task exits while a slow
    // client still has output to take, the empty session cgroup must not
    // keep the task's own from being removed.
    pollfd fds[5] = {{wake_.get(), POLLIN, 0},
                     {room ? out : -1, POLLIN, 0},
                     {room ? err : -1, POLLIN, 0},
                     {input ? in : -1, POLLOUT, 0},
                     {exec_ended ? -1 : proc_->pidfd.get(), POLLIN, 0}};
    if (poll(fds, 5, -1) < 0 && errno != EINTR) return;
    if (fds[4].revents) {
      exec_ended = true;
      proc_->ReleaseCgroupIfEmpty();
    }
    if (fds[0].revents) {
      uint64_t n;
      (void)!read(wake_.get(), &n, sizeof(n));
    }
    if (fds[3].revents && !WriteInput(in) && !tty_) {
      proc_->in.reset();  // the command closed its stdin: input is dropped, not an error
      in = -1;
    }
    if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) ReadOutput(out, false, out);
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) ReadOutput(err, true, err);
  }
}

// One chunk of output as one message; at EOF the close message.
bool ExecReactor::ReadOutput(int fd, bool is_err, int& slot) {
  char buf[kChunk];
  ssize_t n = read(fd, buf, sizeof(buf));
  if (n < 0 && errno == EINTR) return true;
  Resp r;
  auto* io = is_err ? r.mutable_stderr() : r.mutable_stdout();
  if (n > 0) {
    io->set_data(buf, n);
  } else {
    io->set_close(true);
    slot = -1;
  }
  Enqueue(std::move(r), false);
  return n > 0;
}

// Writes what the pipe takes now; false once the command cannot take input.
bool ExecReactor::WriteInput(int fd) {
  std::lock_guard l(mu_);
  while (in_off_ < pending_in_.size()) {
    ssize_t n = write(fd, pending_in_.data() + in_off_, pending_in_.size() - in_off_);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    if (n <= 0) {
      in_off_ = pending_in_.size();  // dropped
      return false;
    }
    in_off_ += n;
  }
  return true;
}

}  // namespace

grpc::ServerBidiReactor<Req, Resp>* DriverService::ExecTaskStreaming(grpc::CallbackServerContext*) {
  return new ExecReactor(tm_);
}

}  // namespace sworn::driver
