#include "driver/pledge_events.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "core/sys.h"
#include "driver/clock.h"
#include "driver/hclog.h"
#include "security/pledge_reporter.h"

namespace sworn::driver {
namespace {

using json = nlohmann::json;
constexpr std::chrono::milliseconds kTick{1000};
// Ticks a task is still read after its exit: the reporter writes the learned
// policy when the last process using the filter is gone, which may be just
// after `run` reported the exit.
constexpr int kDrainTicks = 2, kLearnDrainTicks = 5;

struct Annotated {
  bool pledged = false, learn = false;
};

Annotated ReadAnnotations(const std::string& bundle_dir) {
  auto text = ReadFile(bundle_dir + "/config.json");
  if (!text) return {};
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object() || !j.contains("annotations") || !j["annotations"].is_object()) return {};
  const json& a = j["annotations"];
  Annotated r;
  r.learn = a.value("sworn.pledge.learn", "") == "true";
  // Unveil denials go to the same record (when sworn reports them).
  r.pledged = a.contains("sworn.pledge.promises") || a.contains("sworn.unveil") || r.learn;
  return r;
}

std::string Scalar(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

std::string LearnedConfigSnippet(const json& annotations) {
  std::string out = "config {\n  promises = " + json(annotations.value("sworn.pledge.promises", "")).dump() + "\n";
  json unveil = json::parse(annotations.value("sworn.unveil", "[]"), nullptr, false);
  if (unveil.is_array() && !unveil.empty()) {
    out += "  unveil   = [";
    for (size_t i = 0; i < unveil.size(); ++i) out += (i ? ", " : "") + unveil[i].dump();
    out += "]\n";
  }
  return out + "}";
}

PledgeEvents::PledgeEvents(Publish publish, Ticker& ticker) : publish_(std::move(publish)), ticker_(ticker) {
  tick_ = ticker_.After(kTick, [this] { Tick(); });
}

PledgeEvents::~PledgeEvents() {
  std::lock_guard lock(mu_);
  ticker_.Cancel(tick_);
}

void PledgeEvents::Watch(const std::shared_ptr<Task>& t, bool started) {
  Annotated a = ReadAnnotations(t->rec.bundle_dir);
  if (!a.pledged) return;
  Watched w{.task = t, .learn = a.learn};
  if (started && a.learn)
    Emit(w,
         "pledge learn: LEARN MODE, this task is NOT sandboxed: every system call is allowed and recorded; "
         "the smallest policy that lets it succeed is reported when it exits",
         {{"type", "learn"}});
  std::string path = t->rec.state_root + "/" + t->rec.container_id + "/" + security::kPledgeRecordFile;
  w.log.reset(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!w.log) {  // a task that ended while no plugin ran: `run` deleted it
    hclog::Debug("no pledge record to read", {{"task_id", t->rec.id}, {"path", path}});
    return;
  }
  std::string offset_path = t->rec.bundle_dir + "/pledge.offset";
  if (auto saved = ReadFile(offset_path)) w.offset = std::strtoull(saved->c_str(), nullptr, 10);
  w.offset_file.reset(open(offset_path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  std::lock_guard lock(mu_);
  tasks_.try_emplace(t->rec.id, std::move(w));
}

void PledgeEvents::Tick() {
  {
    std::lock_guard lock(mu_);
    for (auto it = tasks_.begin(); it != tasks_.end();) it = Poll(it->second) ? std::next(it) : tasks_.erase(it);
  }
  std::lock_guard lock(mu_);
  tick_ = ticker_.After(kTick, [this] { Tick(); });
}

bool PledgeEvents::Poll(Watched& w) {
  bool exited = w.task->Exited();
  size_t before = w.offset;
  for (const json& rec : security::ReadNewRecordsFd(w.log.get(), "pledge.log", &w.offset)) Handle(w, rec);
  if (w.offset != before && w.offset_file) {
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%020zu\n", w.offset);
    (void)!pwrite(w.offset_file.get(), buf, static_cast<size_t>(n), 0);
  }
  bool done = exited && ++w.ticks_after_exit >= (w.learn ? kLearnDrainTicks : kDrainTicks);
  auto now = DenialLimiter::Clock::now();
  if (uint64_t n = w.limiter.TakeSuppressed(now, done))
    Emit(w,
         "pledge: " + std::to_string(n) + " more distinct denials suppressed (see `sworn --root " +
             w.task->rec.state_root + " events " + w.task->rec.container_id + "` while the task runs)",
         {{"type", "suppressed"}, {"count", std::to_string(n)}});
  return !done;
}

void PledgeEvents::Handle(Watched& w, const json& rec) {
  std::string type = rec.contains("type") ? Scalar(rec["type"]) : "";
  if (type == "learned") {
    const json& ann = rec.contains("annotations") ? rec["annotations"] : json::object();
    std::string config = LearnedConfigSnippet(ann);
    std::string msg = "pledge learn: the smallest policy that lets this run succeed:\n" + config;
    if (rec.contains("impossible") && rec["impossible"].is_array())
      for (const auto& s : rec["impossible"]) msg += "\nno promise allows " + Scalar(s);
    w.learn = false;  // drained: the policy is the last record
    w.ticks_after_exit = kLearnDrainTicks;
    return Emit(w, msg, {{"type", "learned"}, {"config", config}, {"annotations", ann.dump()}});
  }
  // pledge, unveil, or whatever sworn reports next: any record with a text.
  std::string msg = rec.contains("message") ? Scalar(rec["message"]) : rec.contains("text") ? Scalar(rec["text"]) : "";
  if (msg.empty()) return;
  if (w.limiter.Offer(msg, DenialLimiter::Clock::now()) != DenialLimiter::Verdict::kEmit) return;
  std::map<std::string, std::string> a;
  for (const auto& [k, v] : rec.items())
    if (k != "message" && k != "text") a[k] = Scalar(v);
  Emit(w, msg, std::move(a));
}

void PledgeEvents::Emit(const Watched& w, const std::string& message, std::map<std::string, std::string> annotations,
                        bool warn) {
  const TaskRecord& r = w.task->rec;
  hclog::Write(warn ? "warn" : "info", message,
               {{"task_id", r.id}, {"alloc_id", r.alloc_id}, {"task_name", r.name}, {"container_id", r.container_id}});
  pb::DriverTaskEvent e;
  e.set_task_id(r.id);
  e.set_alloc_id(r.alloc_id);
  e.set_task_name(r.name);
  SetTime(e.mutable_timestamp(), NowNs());
  e.set_message(message);
  for (auto& [k, v] : annotations) (*e.mutable_annotations())[k] = std::move(v);
  publish_(e);
}

}  // namespace sworn::driver
