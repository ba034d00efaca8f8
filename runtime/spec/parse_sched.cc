// process.ioPriority, process.scheduler (runtime-spec 1.2) and
// linux.personality.
#include <sched.h>
#include <sys/personality.h>

#include "spec/json_field.h"
#include "spec/spec.h"

namespace sworn::spec {
namespace {

struct Named {
  const char* name;
  uint64_t value;
};

constexpr Named kIoClasses[] = {{"IOPRIO_CLASS_RT", 1}, {"IOPRIO_CLASS_BE", 2}, {"IOPRIO_CLASS_IDLE", 3}};
constexpr Named kPolicies[] = {{"SCHED_OTHER", SCHED_OTHER}, {"SCHED_FIFO", SCHED_FIFO}, {"SCHED_RR", SCHED_RR},
                               {"SCHED_BATCH", SCHED_BATCH}, {"SCHED_ISO", 4},           {"SCHED_IDLE", SCHED_IDLE},
                               {"SCHED_DEADLINE", 6}};
constexpr Named kSchedFlags[] = {{"SCHED_FLAG_RESET_ON_FORK", 0x01}, {"SCHED_FLAG_RECLAIM", 0x02},
                                 {"SCHED_FLAG_DL_OVERRUN", 0x04},    {"SCHED_FLAG_KEEP_POLICY", 0x08},
                                 {"SCHED_FLAG_KEEP_PARAMS", 0x10},   {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
                                 {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40}};

template <size_t N>
Result<uint64_t> Lookup(const Named (&table)[N], const std::string& name, const std::string& field) {
  for (const auto& n : table)
    if (name == n.name) return n.value;
  return Fail(FieldError(field, "unknown value \"" + name + "\""));
}

}  // namespace

Result<std::optional<IoPriority>> ParseIoPriority(const json& proc, const std::string& path) {
  const json* j = Member(proc, "ioPriority");
  if (!j) return std::optional<IoPriority>();
  std::string p = Sub(path, "ioPriority"), klass;
  SWORN_TRY(ExpectType(*j, json::value_t::object, p));
  SWORN_TRY(Get(*j, "class", p, klass));
  IoPriority io;
  io.klass = static_cast<int>(SWORN_TRY(Lookup(kIoClasses, klass, Sub(p, "class"))));
  int64_t prio = 0;
  SWORN_TRY(Get(*j, "priority", p, prio));
  if (prio < 0 || prio > 7) return Fail(FieldError(Sub(p, "priority"), "must be 0..7"));
  io.priority = static_cast<int>(prio);
  return std::optional(io);
}

Result<std::optional<Scheduler>> ParseScheduler(const json& proc, const std::string& path) {
  const json* j = Member(proc, "scheduler");
  if (!j) return std::optional<Scheduler>();
  std::string p = Sub(path, "scheduler"), policy;
  SWORN_TRY(ExpectType(*j, json::value_t::object, p));
  SWORN_TRY(Get(*j, "policy", p, policy));
  Scheduler s;
  s.policy = static_cast<int>(SWORN_TRY(Lookup(kPolicies, policy, Sub(p, "policy"))));
  int64_t nice = 0, prio = 0;
  SWORN_TRY(Get(*j, "nice", p, nice));
  SWORN_TRY(Get(*j, "priority", p, prio));
  if (nice < -20 || nice > 19) return Fail(FieldError(Sub(p, "nice"), "must be -20..19"));
  // Checked before the cast below: 4294967301 must not become 5.
  if (prio < 0 || prio > 99) return Fail(FieldError(Sub(p, "priority"), std::to_string(prio) + " is out of range (0..99)"));
  s.nice = static_cast<int>(nice);
  s.priority = static_cast<int>(prio);
  std::vector<std::string> flags;
  SWORN_TRY(Get(*j, "flags", p, flags));
  for (size_t i = 0; i < flags.size(); ++i) s.flags |= SWORN_TRY(Lookup(kSchedFlags, flags[i], Idx(Sub(p, "flags"), i)));
  SWORN_TRY(GetUint(*j, "runtime", p, s.runtime));
  SWORN_TRY(GetUint(*j, "deadline", p, s.deadline));
  SWORN_TRY(GetUint(*j, "period", p, s.period));
  bool rt = s.policy == SCHED_FIFO || s.policy == SCHED_RR;
  if (rt && (s.priority < 1 || s.priority > 99)) return Fail(FieldError(Sub(p, "priority"), "must be 1..99 for " + policy));
  if (!rt && s.priority != 0) return Fail(FieldError(Sub(p, "priority"), "must be 0 for " + policy));
  return std::optional(s);
}

Result<void> ParsePersonality(const json& linux, Linux& l) {
  const json* j = Member(linux, "personality");
  if (!j) return {};
  SWORN_TRY(ExpectType(*j, json::value_t::object, "linux.personality"));
  std::string domain;
  SWORN_TRY(Get(*j, "domain", "linux.personality", domain));
  if (domain == "LINUX")
    l.personality = PER_LINUX;
  else if (domain == "LINUX32")
    l.personality = PER_LINUX32;
  else
    return Fail(FieldError("linux.personality.domain", "must be LINUX or LINUX32, got \"" + domain + "\""));
  std::vector<std::string> flags;
  SWORN_TRY(Get(*j, "flags", "linux.personality", flags));
  if (!flags.empty()) return Fail(FieldError("linux.personality.flags", "no flags are defined by the runtime spec"));
  return {};
}

}  // namespace sworn::spec
