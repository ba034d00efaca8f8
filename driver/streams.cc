// The long-lived calls as callback reactors: WaitTask, TaskStats,
// Fingerprint, TaskEvents (and go-plugin's stdio stream). A Nomad client
// keeps one WaitTask and one TaskStats open per task; on the sync API each
// held a server thread. Here they wait on task exits, the ticker or the
// event hub instead, and the sync pool is left to the short unary calls.
//
// Each reactor has at most one thing in flight (a write, a tick or an exit
// subscription); whichever callback ends it calls Finish exactly once, and
// OnDone deletes it.
#include <mutex>

#include "container/container.h"
#include "driver/clock.h"
#include "driver/services.h"
#include "driver/stats.h"

namespace sworn::driver {
namespace {

using namespace std::chrono_literals;

class WaitReactor final : public grpc::ServerUnaryReactor {
 public:
  WaitReactor(std::shared_ptr<Task> t, pb::WaitTaskResponse* r) : task_(std::move(t)), resp_(r) {
    // Never leave result unset: the 1.6 client dereferences it.
    resp_->mutable_result();
    token_ = task_->OnExit([this](const ExitInfo& e) {
      resp_->mutable_result()->set_exit_code(e.exit_code);
      resp_->mutable_result()->set_signal(e.signal);
      resp_->mutable_result()->set_oom_killed(e.oom_killed);
      resp_->set_err(e.err);
      Finish(grpc::Status::OK);
    });
  }
  void OnCancel() override {
    if (token_ && task_->Unsubscribe(token_)) Finish(grpc::Status(grpc::StatusCode::CANCELLED, "WaitTask cancelled"));
  }
  void OnDone() override { delete this; }

 private:
  std::shared_ptr<Task> task_;
  pb::WaitTaskResponse* resp_;
  uint64_t token_ = 0;
};

// A writer that sends one message, then waits on the ticker for the next.
template <class Msg>
class PeriodicWriter : public grpc::ServerWriteReactor<Msg> {
 public:
  explicit PeriodicWriter(Ticker& t) : ticker_(t) {}
  void OnWriteDone(bool ok) override {
    std::lock_guard l(mu_);
    if (!ok || cancelled_ || Done()) return FinishOnce(grpc::Status::OK);
    tick_ = ticker_.After(Interval(), [this] { Tick(); });
  }
  void OnCancel() override {
    std::lock_guard l(mu_);
    cancelled_ = true;
    if (tick_ && ticker_.Cancel(tick_)) FinishOnce(grpc::Status::OK);
    // Otherwise a write or tick is in flight and ends the call.
  }
  void OnDone() override { delete this; }

 protected:
  // Called with mu_ held: build the next message, or return false to wait
  // another interval without sending.
  virtual bool Next(Msg* m) = 0;
  virtual bool Done() { return false; }
  virtual std::chrono::milliseconds Interval() = 0;
  void Start() {
    std::lock_guard l(mu_);
    Tick(/*locked=*/true);
  }

 private:
  void Tick(bool locked = false) {
    std::unique_lock l(mu_, std::defer_lock);
    if (!locked) l.lock();
    tick_ = 0;
    if (cancelled_ || Done()) return FinishOnce(grpc::Status::OK);
    if (Next(&msg_)) {
      this->StartWrite(&msg_);
    } else {
      tick_ = ticker_.After(Interval(), [this] { Tick(); });
    }
  }
  void FinishOnce(const grpc::Status& s) {
    if (finished_) return;
    finished_ = true;
    this->Finish(s);
  }

  Ticker& ticker_;
  std::recursive_mutex mu_;
  Msg msg_;
  uint64_t tick_ = 0;
  bool cancelled_ = false, finished_ = false;
};

class StatsReactor final : public PeriodicWriter<pb::TaskStatsResponse> {
 public:
  StatsReactor(Ticker& t, std::shared_ptr<Task> task, std::chrono::milliseconds every)
      : PeriodicWriter(t), task_(std::move(task)), every_(every) {
    Start();
  }

 private:
  bool Next(pb::TaskStatsResponse* r) override {
    r->Clear();
    auto* s = r->mutable_stats();
    s->set_id(task_->rec.id);
    SetTime(s->mutable_timestamp(), NowNs());
    auto sample = container::TakeSample(task_->rec.state_root, task_->rec.container_id);
    sampler_.Fill(sample ? sample->stats : nlohmann::json::object(), s->mutable_agg_resource_usage());
    return true;
  }
  // The stream ends with the task; the client opens a new one if it wants.
  bool Done() override { return task_->Exited(); }
  std::chrono::milliseconds Interval() override { return every_; }

  std::shared_ptr<Task> task_;
  std::chrono::milliseconds every_;
  UsageSampler sampler_;
};

// Sends now, then whenever the fingerprint changes (checked every 5 s) and
// at least every 30 s. Never ends on its own: Nomad re-opens a closed
// fingerprint stream at once, in a hot loop.
class FingerprintReactor final : public PeriodicWriter<pb::FingerprintResponse> {
 public:
  FingerprintReactor(Ticker& t, const PluginState& ps) : PeriodicWriter(t), ps_(ps) { Start(); }

 private:
  bool Next(pb::FingerprintResponse* r) override {
    *r = TakeFingerprint(ps_);
    std::string now = r->SerializeAsString();
    auto t = std::chrono::steady_clock::now();
    if (now == last_ && t < next_) return false;
    last_ = std::move(now);
    next_ = t + 30s;
    return true;
  }
  std::chrono::milliseconds Interval() override { return 5s; }

  const PluginState& ps_;
  std::string last_;
  std::chrono::steady_clock::time_point next_{};
};

class EventsReactor final : public grpc::ServerWriteReactor<pb::DriverTaskEvent> {
 public:
  explicit EventsReactor(EventHub& hub) : hub_(hub) {
    token_ = hub_.Subscribe([this](const pb::DriverTaskEvent& e) {
      std::lock_guard l(mu_);
      queue_.push_back(e);
      WriteNext();
    });
  }
  void OnWriteDone(bool ok) override {
    std::lock_guard l(mu_);
    writing_ = false;
    if (!ok) return End();
    WriteNext();
  }
  void OnCancel() override {
    hub_.Unsubscribe(token_);  // after this no publish reaches us
    std::lock_guard l(mu_);
    cancelled_ = true;
    if (!writing_) End();
  }
  void OnDone() override {
    hub_.Unsubscribe(token_);  // waits out a publish that is calling us
    delete this;
  }

 private:
  void WriteNext() {
    if (writing_ || cancelled_ || finished_ || queue_.empty()) return;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }
  void End() {
    if (finished_) return;
    finished_ = true;
    Finish(grpc::Status::OK);
  }

  EventHub& hub_;
  uint64_t token_ = 0;
  std::recursive_mutex mu_;
  std::deque<pb::DriverTaskEvent> queue_;
  pb::DriverTaskEvent current_;
  bool writing_ = false, cancelled_ = false, finished_ = false;
};

// go-plugin's stdio stream: held open, silent (Nomad discards it anyway).
class SilentReactor final : public grpc::ServerWriteReactor<plugin::StdioData> {
 public:
  void OnCancel() override { Finish(grpc::Status::OK); }
  void OnDone() override { delete this; }
};

template <class R>
grpc::ServerWriteReactor<R>* Failed(grpc::Status s) {
  class FailedReactor final : public grpc::ServerWriteReactor<R> {
   public:
    explicit FailedReactor(grpc::Status s) { this->Finish(s); }
    void OnDone() override { delete this; }
  };
  return new FailedReactor(std::move(s));
}

}  // namespace

uint64_t EventHub::Subscribe(std::function<void(const pb::DriverTaskEvent&)> fn) {
  std::lock_guard l(mu_);
  subscribers_.emplace(next_, std::move(fn));
  return next_++;
}

void EventHub::Unsubscribe(uint64_t token) {
  std::lock_guard l(mu_);
  subscribers_.erase(token);
}

void EventHub::Publish(const pb::DriverTaskEvent& e) {
  // Under the lock, so Unsubscribe returns only once no call is running.
  std::lock_guard l(mu_);
  for (auto& [token, fn] : subscribers_) fn(e);
}

grpc::ServerUnaryReactor* DriverService::WaitTask(grpc::CallbackServerContext* ctx, const pb::WaitTaskRequest* req,
                                                  pb::WaitTaskResponse* r) {
  auto t = tm_.Find(req->task_id());
  if (!t) {
    r->mutable_result();
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "task not found for given id: " + req->task_id()));
    return reactor;
  }
  return new WaitReactor(std::move(t), r);
}

grpc::ServerWriteReactor<pb::TaskStatsResponse>* DriverService::TaskStats(grpc::CallbackServerContext*,
                                                                         const pb::TaskStatsRequest* req) {
  auto t = tm_.Find(req->task_id());
  if (!t)
    return Failed<pb::TaskStatsResponse>(
        grpc::Status(grpc::StatusCode::NOT_FOUND, "task not found for given id: " + req->task_id()));
  const auto& d = req->collection_interval();
  int64_t ms = d.seconds() * 1000 + d.nanos() / 1000000;
  return new StatsReactor(ticker_, std::move(t), std::chrono::milliseconds(ms > 0 ? std::max<int64_t>(ms, 100) : 1000));
}

grpc::ServerWriteReactor<pb::FingerprintResponse>* DriverService::Fingerprint(grpc::CallbackServerContext*,
                                                                             const pb::FingerprintRequest*) {
  return new FingerprintReactor(ticker_, ps_);
}

grpc::ServerWriteReactor<pb::DriverTaskEvent>* DriverService::TaskEvents(grpc::CallbackServerContext*,
                                                                        const pb::TaskEventsRequest*) {
  return new EventsReactor(ev_);
}

grpc::ServerWriteReactor<plugin::StdioData>* StdioService::StreamStdio(grpc::CallbackServerContext*,
                                                                      const google::protobuf::Empty*) {
  return new SilentReactor();
}

}  // namespace sworn::driver
