#include "security/oci_seccomp.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>

#include <map>
#include <set>
#include <tuple>
#include <memory>

#include "core/log.h"
#include "core/sys.h"
#include "security/pledge_cache.h"
#include "spec/json_field.h"

#include <cstring>

namespace sworn::security {
namespace {

using nlohmann::json;
using spec::Get;
using spec::Idx;
using spec::Sub;

using ScmpCtx = std::unique_ptr<void, decltype(&seccomp_release)>;

// runc's default profile names about 370 syscalls; a hostile one with
// millions would only cost time.
constexpr size_t kMaxNames = 65536;
constexpr size_t kMaxRules = 4096;

bool KnownAction(const std::string& name) {
  static const char* const kNames[] = {"SCMP_ACT_ALLOW", "SCMP_ACT_KILL",  "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS",
                                       "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE",       "SCMP_ACT_LOG",
                                       "SCMP_ACT_NOTIFY"};
  for (const char* n : kNames)
    if (name == n) return true;
  return false;
}

Result<uint32_t> ParseAction(const std::string& name, const json& obj, const std::string& path, uint32_t default_errno) {
  uint32_t errno_ret = default_errno;
  if (spec::Member(obj, "errnoRet")) SWORN_TRY(spec::GetUint(obj, "errnoRet", path, errno_ret));
  // SECCOMP_RET_DATA keeps 16 bits, and the kernel treats returns above
  // MAX_ERRNO as values: 65536 would make a denied call "succeed" with 0.
  if (errno_ret > 4095)
    return Fail(FieldError(Sub(path, "errnoRet"), std::to_string(errno_ret) + " is out of range (0..4095)"));
  // config-linux.md: an errno for an action that takes none MUST fail.
  if (spec::Member(obj, "errnoRet") && name != "SCMP_ACT_ERRNO" && name != "SCMP_ACT_TRACE" && KnownAction(name))
    return Fail(FieldError(Sub(path, "errnoRet"), "is set, but " + name + " returns no errno"));
  if (name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (name == "SCMP_ACT_KILL" || name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(errno_ret);
  if (name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(errno_ret);
  if (name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (name == "SCMP_ACT_NOTIFY") return SCMP_ACT_NOTIFY;
  return Fail(FieldError(Sub(path, "action"), "unknown action \"" + name + "\""));
}

Result<scmp_compare> ParseOp(const std::string& op, const std::string& path) {
  static const std::map<std::string, scmp_compare> kOps = {
      {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
      {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
      {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
  auto it = kOps.find(op);
  if (it == kOps.end()) return Fail(FieldError(path, "unknown operator \"" + op + "\""));
  return it->second;
}

Result<std::vector<scmp_arg_cmp>> ParseArgs(const json& rule, const std::string& path) {
  std::vector<scmp_arg_cmp> out;
  const json* args = spec::Member(rule, "args");
  if (!args) return out;
  std::string p = Sub(path, "args");
  SWORN_TRY(spec::ExpectType(*args, json::value_t::array, p));
  for (size_t i = 0; i < args->size(); ++i) {
    std::string a = Idx(p, i);
    SWORN_TRY(spec::ExpectType((*args)[i], json::value_t::object, a));
    uint32_t index = 0;
    uint64_t value = 0, two = 0;
    std::string op;
    SWORN_TRY(spec::GetUint((*args)[i], "index", a, index));
    if (index > 5) return Fail(FieldError(Sub(a, "index"), "must be 0..5"));
    SWORN_TRY(spec::GetUint((*args)[i], "value", a, value));
    SWORN_TRY(spec::GetUint((*args)[i], "valueTwo", a, two));
    SWORN_TRY(Get((*args)[i], "op", a, op));
    scmp_compare cmp = SWORN_TRY(ParseOp(op, Sub(a, "op")));
    out.push_back(scmp_arg_cmp{index, cmp, value, two});
  }
  return out;
}

// libseccomp refuses two comparisons on one argument in a rule; such rules
// are split into one rule per comparison (OR), as runc does.
bool RepeatsIndex(const std::vector<scmp_arg_cmp>& args) {
  for (size_t i = 0; i < args.size(); ++i)
    for (size_t j = i + 1; j < args.size(); ++j)
      if (args[i].arg == args[j].arg) return true;
  return false;
}

Result<void> AddRule(void* ctx, uint32_t action, int nr, const std::vector<scmp_arg_cmp>& args, const std::string& path) {
  auto add = [&](const scmp_arg_cmp* a, unsigned n) -> Result<void> {
    int rc = seccomp_rule_add_array(static_cast<scmp_filter_ctx>(ctx), action, nr, n, a);
    if (rc < 0) return Fail(SysError(-rc, "seccomp_rule_add", path));
    return {};
  };
  if (!RepeatsIndex(args)) return add(args.data(), static_cast<unsigned>(args.size()));
  for (const auto& a : args) SWORN_TRY(add(&a, 1));
  return {};
}

Result<void> AddArchitectures(void* ctx, const json& s, std::vector<uint32_t>& arches) {
  std::vector<std::string> names;
  SWORN_TRY(Get(s, "architectures", "linux.seccomp", names));
  arches = {seccomp_arch_native()};
  for (size_t i = 0; i < names.size(); ++i) {
    std::string n = names[i];
    std::string token = n.rfind("SCMP_ARCH_", 0) == 0 ? n.substr(10) : n;
    for (auto& c : token) c = static_cast<char>(tolower(c));
    uint32_t arch = seccomp_arch_resolve_name(token.c_str());
    if (arch == 0) return Fail(FieldError(Idx("linux.seccomp.architectures", i), "unknown architecture \"" + n + "\""));
    int rc = seccomp_arch_add(static_cast<scmp_filter_ctx>(ctx), arch);
    if (rc < 0 && rc != -EEXIST) return Fail(SysError(-rc, "seccomp_arch_add", n));
    if (rc == 0) arches.push_back(arch);
  }
  return {};
}

Result<unsigned> ParseFlags(const json& s) {
  std::vector<std::string> flags;
  SWORN_TRY(Get(s, "flags", "linux.seccomp", flags));
  unsigned out = 0;
  for (size_t i = 0; i < flags.size(); ++i) {
    const auto& f = flags[i];
    if (f == "SECCOMP_FILTER_FLAG_TSYNC") out |= SECCOMP_FILTER_FLAG_TSYNC;
    else if (f == "SECCOMP_FILTER_FLAG_LOG") out |= SECCOMP_FILTER_FLAG_LOG;
    else if (f == "SECCOMP_FILTER_FLAG_SPEC_ALLOW") out |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    else if (f == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") out |= (1U << 5);
    else return Fail(FieldError(Idx("linux.seccomp.flags", i), "unknown flag \"" + f + "\""));
  }
  return out;
}

// Prepends, per architecture: syscall numbers above the profile's highest
// get ENOSYS. Relative BPF jumps in the rest are unaffected by a prefix.
std::vector<sock_filter> EnosysPrefix(const std::map<uint32_t, int>& max_nr) {
  std::vector<sock_filter> out;
  for (const auto& [arch, nr] : max_nr) {
    out.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
    out.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 0, 4));
    out.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
    // x32 numbers carry bit 30; leave them to the main filter.
    out.push_back(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000U, 2, 0));
    out.push_back(BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, static_cast<uint32_t>(nr), 0, 1));
    out.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS));
  }
  return out;
}

}  // namespace

Result<BpfProgram> CompileOciSeccomp(const json& s) {
  BpfProgram prog;
  if (s.is_null()) return prog;
  std::string def_name;
  uint32_t def_errno = EPERM;
  SWORN_TRY(Get(s, "defaultAction", "linux.seccomp", def_name));
  if (def_name.empty()) return Fail(FieldError("linux.seccomp.defaultAction", "is required"));
  json def_obj = json::object();
  if (spec::Member(s, "defaultErrnoRet")) {
    SWORN_TRY(spec::GetUint(s, "defaultErrnoRet", "linux.seccomp", def_errno));
    if (def_name != "SCMP_ACT_ERRNO" && def_name != "SCMP_ACT_TRACE" && KnownAction(def_name))
      return Fail(FieldError("linux.seccomp.defaultErrnoRet", "is set, but " + def_name + " returns no errno"));
    def_obj["errnoRet"] = def_errno;
  }
  uint32_t def = SWORN_TRY(ParseAction(def_name, def_obj, "linux.seccomp.default", EPERM));
  ScmpCtx ctx(seccomp_init(def), &seccomp_release);
  if (!ctx) return Fail(MakeError(Errc::kInvalidArgument, "linux.seccomp: seccomp_init refused the default action"));
  // The kernel, not libseccomp, decides no_new_privs; sworn sets it itself.
  seccomp_attr_set(static_cast<scmp_filter_ctx>(ctx.get()), SCMP_FLTATR_CTL_NNP, 0);
  std::vector<uint32_t> arches;
  SWORN_TRY(AddArchitectures(ctx.get(), s, arches));
  prog.flags = SWORN_TRY(ParseFlags(s));
  SWORN_TRY(Get(s, "listenerPath", "linux.seccomp", prog.listener_path));
  SWORN_TRY(Get(s, "listenerMetadata", "linux.seccomp", prog.listener_metadata));

  std::map<uint32_t, int> max_nr;
  std::set<std::tuple<int, uint32_t, std::string>> added;
  size_t total_names = 0;
  const json* rules = spec::Member(s, "syscalls");
  if (rules) SWORN_TRY(spec::ExpectType(*rules, json::value_t::array, "linux.seccomp.syscalls"));
  for (size_t i = 0; rules && i < rules->size(); ++i) {
    std::string p = Idx("linux.seccomp.syscalls", i);
    const json& r = (*rules)[i];
    SWORN_TRY(spec::ExpectType(r, json::value_t::object, p));
    std::vector<std::string> names;
    std::string action_name;
    SWORN_TRY(Get(r, "names", p, names));
    SWORN_TRY(Get(r, "action", p, action_name));
    uint32_t action = SWORN_TRY(ParseAction(action_name, r, p, EPERM));
    auto args = SWORN_TRY(ParseArgs(r, p));
    if (action == SCMP_ACT_NOTIFY) prog.notify = true;
    if (names.size() > kMaxNames || (total_names += names.size()) > kMaxNames)
      return Fail(FieldError(Sub(p, "names"), "the profile lists more than " + std::to_string(kMaxNames) +
                                                 " syscall names in all (a full profile needs about 500)"));
    std::string arg_key(reinterpret_cast<const char*>(args.data()), args.size() * sizeof(scmp_arg_cmp));
    for (const auto& name : names) {
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) {
        log::Debug("linux.seccomp: skipping syscall \"" + name + "\" unknown to libseccomp");
        continue;
      }
      for (uint32_t arch : arches) {
        int anr = seccomp_syscall_resolve_name_arch(arch, name.c_str());
        if (anr >= 0) max_nr[arch] = std::max(max_nr[arch], anr);
      }
      if (action == def) continue;  // libseccomp rejects rules equal to the default
      // libseccomp's cost per rule grows with the rules already added: the
      // same (syscall, action, args) twice would only slow the build down.
      if (!added.insert({nr, action, arg_key}).second) continue;
      if (added.size() > kMaxRules)
        return Fail(FieldError(p, "the profile adds more than " + std::to_string(kMaxRules) +
                                      " rules (syscall and argument combinations); libseccomp's build time grows "
                                      "with the square of that"));
      SWORN_TRY(AddRule(ctx.get(), action, nr, args, p + " (" + name + ")"));
    }
  }
  if (prog.notify && prog.listener_path.empty())
    return Fail(FieldError("linux.seccomp.listenerPath", "is required with SCMP_ACT_NOTIFY"));
  prog.insns = SWORN_TRY(ExportBpf(ctx.get()));
  if (def != SCMP_ACT_ALLOW && def != SCMP_ACT_LOG) {
    auto prefix = EnosysPrefix(max_nr);
    prog.insns.insert(prog.insns.begin(), prefix.begin(), prefix.end());
  }
  return prog;
}

}  // namespace sworn::security

namespace sworn::security {
namespace {

// u32 count, instructions, u32 flags, u8 notify, then the listener path and
// metadata as u32-length-prefixed strings.
std::string Serialize(const BpfProgram& p) {
  auto u32 = [](uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), sizeof(v)); };
  std::string out = u32(static_cast<uint32_t>(p.insns.size()));
  out.append(reinterpret_cast<const char*>(p.insns.data()), p.insns.size() * sizeof(sock_filter));
  out += u32(p.flags);
  out += static_cast<char>(p.notify);
  out += u32(static_cast<uint32_t>(p.listener_path.size())) + p.listener_path;
  out += u32(static_cast<uint32_t>(p.listener_metadata.size())) + p.listener_metadata;
  return out;
}

std::optional<BpfProgram> Deserialize(const std::string& d) {
  size_t off = 0;
  auto u32 = [&](uint32_t& v) {
    if (off + sizeof(v) > d.size()) return false;
    std::memcpy(&v, d.data() + off, sizeof(v));
    off += sizeof(v);
    return true;
  };
  auto str = [&](std::string& s) {
    uint32_t n;
    if (!u32(n) || off + n > d.size()) return false;
    s.assign(d, off, n);
    off += n;
    return true;
  };
  BpfProgram p;
  uint32_t n;
  if (!u32(n) || off + size_t{n} * sizeof(sock_filter) > d.size()) return std::nullopt;
  p.insns.resize(n);
  std::memcpy(p.insns.data(), d.data() + off, size_t{n} * sizeof(sock_filter));
  off += size_t{n} * sizeof(sock_filter);
  if (!u32(p.flags) || off >= d.size()) return std::nullopt;
  p.notify = d[off++] != 0;
  if (!str(p.listener_path) || !str(p.listener_metadata) || off != d.size()) return std::nullopt;
  return p;
}

}  // namespace

Result<BpfProgram> CachedCompileOciSeccomp(const nlohmann::json& seccomp, const std::string& cache_dir) {
  if (seccomp.is_null() || cache_dir.empty()) return CompileOciSeccomp(seccomp);
  std::string file = CacheFile(cache_dir, "seccomp", seccomp.dump() + RuntimeIdentity());
  if (auto data = ReadFile(file))
    if (auto p = Deserialize(*data)) return std::move(*p);
  auto p = SWORN_TRY(CompileOciSeccomp(seccomp));
  if (MkdirAll(cache_dir, 0700)) (void)WriteFileAtomic(file, Serialize(p));
  return p;
}

}  // namespace sworn::security
