// config.json → Spec: top level, root, mounts, linux, hooks.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>

#include <set>

#include "core/json_input.h"
#include "core/sys.h"
#include "spec/json_field.h"
#include "spec/spec.h"

namespace sworn::spec {
namespace {

// The spec sets no limit; runc's defaults use about 20 entries. A list
// this long is a mistake or an attack, and each entry costs a mount.
constexpr size_t kMaxListEntries = 4096;
// The kernel's dev_t: 12-bit majors and 20-bit minors (MINORBITS).
constexpr int64_t kMaxMajor = 0xfff, kMaxMinor = 0xfffff;

struct NsInfo {
  NsType type;
  const char* name;
  const char* proc;
  int flag;
};

constexpr NsInfo kNamespaces[] = {
    {NsType::kPid, "pid", "pid", CLONE_NEWPID},       {NsType::kNetwork, "network", "net", CLONE_NEWNET},
    {NsType::kMount, "mount", "mnt", CLONE_NEWNS},    {NsType::kIpc, "ipc", "ipc", CLONE_NEWIPC},
    {NsType::kUts, "uts", "uts", CLONE_NEWUTS},       {NsType::kUser, "user", "user", CLONE_NEWUSER},
    {NsType::kCgroup, "cgroup", "cgroup", CLONE_NEWCGROUP}, {NsType::kTime, "time", "time", CLONE_NEWTIME},
};

const NsInfo& Info(NsType t) {
  for (const auto& n : kNamespaces)
    if (n.type == t) return n;
  return kNamespaces[0];
}

// ociVersion: any 1.x is accepted (1.0.0 … 1.2.x and later minors); another
// major is refused, as the spec's compatibility rules allow.
Result<void> CheckVersion(const json& j, Spec& s) {
  if (!Member(j, "ociVersion")) return Fail(FieldError("ociVersion", "is required"));
  SWORN_TRY(Get(j, "ociVersion", "", s.oci_version));
  auto parts = Split(s.oci_version, '.');
  if (parts.size() < 2 || parts[0].empty() || parts[0].find_first_not_of("0123456789") != std::string::npos)
    return Fail(FieldError("ociVersion", "\"" + s.oci_version + "\" is not a semantic version"));
  if (parts[0] != "1")
    return Fail(FieldError("ociVersion", "version " + s.oci_version + " is not supported (sworn implements 1.x)"));
  return {};
}

Result<void> ParseRoot(const json& j, const std::string& bundle, Spec& s) {
  const json* r = Member(j, "root");
  if (!r) return Fail(FieldError("root", "is required on Linux"));
  SWORN_TRY(ExpectType(*r, json::value_t::object, "root"));
  std::string path;
  SWORN_TRY(Get(*r, "path", "root", path));
  if (path.empty()) return Fail(FieldError("root.path", "is required"));
  SWORN_TRY(Get(*r, "readonly", "root", s.root_readonly));
  s.root_path = path[0] == '/' ? path : bundle + "/" + path;
  struct stat st;
  if (stat(s.root_path.c_str(), &st) < 0)
    return Fail(SysError("root.path: stat", s.root_path));
  if (!S_ISDIR(st.st_mode)) return Fail(FieldError("root.path", s.root_path + " is not a directory"));
  return {};
}

Result<std::vector<IdMap>> ParseIdMaps(const json& j, const char* key, const std::string& parent = "linux");

Result<std::vector<Mount>> ParseMounts(const json& j) {
  std::vector<Mount> out;
  const json* ms = Member(j, "mounts");
  if (!ms) return out;
  SWORN_TRY(ExpectType(*ms, json::value_t::array, "mounts"));
  if (ms->size() > kMaxListEntries)
    return Fail(FieldError("mounts", std::to_string(ms->size()) + " entries is more than the " +
                                         std::to_string(kMaxListEntries) + " sworn accepts"));
  for (size_t i = 0; i < ms->size(); ++i) {
    std::string p = Idx("mounts", i);
    const json& mj = (*ms)[i];
    SWORN_TRY(ExpectType(mj, json::value_t::object, p));
    Mount m;
    SWORN_TRY(Get(mj, "destination", p, m.destination));
    if (m.destination.empty()) return Fail(FieldError(Sub(p, "destination"), "is required"));
    // config.md: a relative destination (old tools write them) MUST be
    // taken as relative to "/", as runc 1.2 does.
    if (m.destination[0] != '/') m.destination.insert(0, "/");
    SWORN_TRY(Get(mj, "type", p, m.type));
    SWORN_TRY(Get(mj, "source", p, m.source));
    SWORN_TRY(Get(mj, "options", p, m.options));
    m.uid_mappings = SWORN_TRY(ParseIdMaps(mj, "uidMappings", p));
    m.gid_mappings = SWORN_TRY(ParseIdMaps(mj, "gidMappings", p));
    SWORN_TRY(ApplyMountOptions(m, Sub(p, "options")));
    if (!m.uid_mappings.empty() || !m.gid_mappings.empty()) m.idmap = true;
    if (m.type.empty() && !m.bind) return Fail(FieldError(Sub(p, "type"), "is required unless the mount is a bind mount"));
    out.push_back(std::move(m));
  }
  return out;
}

Result<std::vector<IdMap>> ParseIdMaps(const json& j, const char* key, const std::string& parent) {
  std::vector<IdMap> out;
  const json* a = Member(j, key);
  if (!a) return out;
  std::string p = Sub(parent, key);
  SWORN_TRY(ExpectType(*a, json::value_t::array, p));
  for (size_t i = 0; i < a->size(); ++i) {
    std::string e = Idx(p, i);
    SWORN_TRY(ExpectType((*a)[i], json::value_t::object, e));
    IdMap m;
    SWORN_TRY(GetId((*a)[i], "containerID", e, m.container_id));
    SWORN_TRY(GetId((*a)[i], "hostID", e, m.host_id));
    SWORN_TRY(GetUint((*a)[i], "size", e, m.size));
    if (m.size == 0) return Fail(FieldError(Sub(e, "size"), "must be positive"));
    // The last id of each range must itself be a valid id: a range that
    // reaches 4294967295 (-1) or wraps is refused by the kernel, or worse.
    uint64_t last_c = uint64_t{m.container_id} + m.size - 1, last_h = uint64_t{m.host_id} + m.size - 1;
    if (std::max(last_c, last_h) > kMaxId)
      return Fail(FieldError(Sub(e, "size"), std::to_string(m.size) + " makes the range end at " +
                                                  std::to_string(std::max(last_c, last_h)) + " (ids must stay within 0.." +
                                                  std::to_string(kMaxId) + ")"));
    out.push_back(m);
  }
  return out;
}

Result<std::vector<Namespace>> ParseNamespaces(const json& j) {
  std::vector<Namespace> out;
  const json* a = Member(j, "namespaces");
  if (!a) return out;
  SWORN_TRY(ExpectType(*a, json::value_t::array, "linux.namespaces"));
  for (size_t i = 0; i < a->size(); ++i) {
    std::string p = Idx("linux.namespaces", i);
    SWORN_TRY(ExpectType((*a)[i], json::value_t::object, p));
    std::string type;
    Namespace ns{NsType::kPid, {}};
    SWORN_TRY(Get((*a)[i], "type", p, type));
    SWORN_TRY(Get((*a)[i], "path", p, ns.path));
    bool known = false;
    for (const auto& n : kNamespaces)
      if (type == n.name) ns.type = n.type, known = true;
    if (!known) return Fail(FieldError(Sub(p, "type"), "unknown namespace type \"" + type + "\""));
    for (const auto& prev : out)
      if (prev.type == ns.type) return Fail(FieldError(Sub(p, "type"), "namespace \"" + type + "\" listed twice"));
    if (!ns.path.empty() && ns.path[0] != '/')
      return Fail(FieldError(Sub(p, "path"), "must be absolute, got \"" + ns.path + "\""));
    out.push_back(std::move(ns));
  }
  return out;
}

Result<std::vector<Device>> ParseDevices(const json& j) {
  std::vector<Device> out;
  const json* a = Member(j, "devices");
  if (!a) return out;
  SWORN_TRY(ExpectType(*a, json::value_t::array, "linux.devices"));
  for (size_t i = 0; i < a->size(); ++i) {
    std::string p = Idx("linux.devices", i);
    const json& d = (*a)[i];
    SWORN_TRY(ExpectType(d, json::value_t::object, p));
    Device dev;
    std::string type;
    SWORN_TRY(Get(d, "path", p, dev.path));
    if (dev.path.empty() || dev.path[0] != '/') return Fail(FieldError(Sub(p, "path"), "must be an absolute path"));
    SWORN_TRY(Get(d, "type", p, type));
    if (type != "c" && type != "b" && type != "u" && type != "p")
      return Fail(FieldError(Sub(p, "type"), "must be one of c, b, u, p; got \"" + type + "\""));
    dev.type = type[0];
    SWORN_TRY(Get(d, "major", p, dev.major));
    SWORN_TRY(Get(d, "minor", p, dev.minor));
    if (dev.type != 'p' && (!Member(d, "major") || !Member(d, "minor")))
      return Fail(FieldError(p, "major and minor are required for type " + type));
    if (dev.major < 0 || dev.minor < 0) return Fail(FieldError(p, "major and minor must not be negative"));
    // makedev() keeps 32 bits of each: 4294967297:1 would make /dev/mem
    // while the device rules still talk about 4294967297.
    if (dev.major > kMaxMajor || dev.minor > kMaxMinor)
      return Fail(FieldError(p, std::to_string(dev.major) + ":" + std::to_string(dev.minor) +
                                    " is out of range (major 0.." + std::to_string(kMaxMajor) + ", minor 0.." +
                                    std::to_string(kMaxMinor) + ")"));
    std::optional<uint32_t> mode;
    SWORN_TRY(GetUint(d, "fileMode", p, mode));
    if (mode) dev.file_mode = *mode & 07777;
    if (Member(d, "uid")) dev.uid = SWORN_TRY(ToId(d["uid"], Sub(p, "uid")));
    if (Member(d, "gid")) dev.gid = SWORN_TRY(ToId(d["gid"], Sub(p, "gid")));
    out.push_back(std::move(dev));
  }
  return out;
}

Result<void> ParseTimeOffsets(const json& j, Linux& l) {
  const json* t = Member(j, "timeOffsets");
  if (!t) return {};
  SWORN_TRY(ExpectType(*t, json::value_t::object, "linux.timeOffsets"));
  for (auto it = t->begin(); it != t->end(); ++it) {
    std::string p = "linux.timeOffsets." + it.key();
    if (it.key() != "monotonic" && it.key() != "boottime")
      return Fail(FieldError(p, "unknown clock (expected monotonic or boottime)"));
    SWORN_TRY(ExpectType(*it, json::value_t::object, p));
    int64_t secs = 0;
    uint32_t nanos = 0;
    SWORN_TRY(Get(*it, "secs", p, secs));
    SWORN_TRY(GetUint(*it, "nanosecs", p, nanos));
    if (nanos >= 1000000000) return Fail(FieldError(Sub(p, "nanosecs"), "must be below 1e9"));
    if (it.key() == "monotonic")
      l.time_monotonic_secs = secs, l.time_monotonic_nanos = nanos;
    else
      l.time_boottime_secs = secs, l.time_boottime_nanos = nanos;
  }
  return {};
}

Result<void> ParseSysctl(const json& j, Linux& l) {
  const json* s = Member(j, "sysctl");
  if (!s) return {};
  SWORN_TRY(ExpectType(*s, json::value_t::object, "linux.sysctl"));
  for (auto it = s->begin(); it != s->end(); ++it) {
    std::string p = "linux.sysctl." + it.key();
    SWORN_TRY(ExpectType(*it, json::value_t::string, p));
    if (it.key().find("..") != std::string::npos || it.key().find('/') != std::string::npos || it.key().empty())
      return Fail(FieldError(p, "not a sysctl name"));
    l.sysctl[it.key()] = it->get<std::string>();
  }
  return {};
}

// "/etc", "/etc/" and "/./etc" name one directory; a mount stacked on it per
// spelling makes every later path walk through it cost O(stack) in the
// kernel (__lookup_mnt), O(n^2) in all. Each path is mounted once.
Result<void> DedupePaths(std::vector<std::string>& paths, const char* field) {
  if (paths.size() > kMaxListEntries)
    return Fail(FieldError(field, std::to_string(paths.size()) + " entries is more than the " +
                                      std::to_string(kMaxListEntries) + " sworn accepts"));
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (paths[i].empty() || paths[i][0] != '/')
      return Fail(FieldError(Idx(field, i), "must be an absolute path, got \"" + paths[i] + "\""));
    std::string clean;
    for (const auto& part : Split(paths[i], '/'))
      if (!part.empty() && part != ".") clean += "/" + part;
    if (clean.empty()) clean = "/";
    if (seen.insert(clean).second) out.push_back(std::move(clean));
  }
  paths = std::move(out);
  return {};
}

Result<void> ParseRootfsPropagation(const json& j, Linux& l) {
  std::string prop;
  SWORN_TRY(Get(j, "rootfsPropagation", "linux", prop));
  if (prop.empty()) return {};
  Mount m;
  m.options = {prop};
  SWORN_TRY(ApplyMountOptions(m, "linux.rootfsPropagation"));
  if (!m.propagation || m.flags || !m.data.empty() || m.attr_set)
    return Fail(FieldError("linux.rootfsPropagation", "\"" + prop + "\" is not a propagation mode"));
  l.rootfs_propagation = m.propagation;
  return {};
}

// runtime.md (Create): properties the runtime cannot apply MUST be an
// error. Spec properties sworn does not implement, unless they ask for
// nothing: there is no resctrl here to test Intel RDT, and moving network
// devices or NUMA policies are not done yet.
Result<void> RefuseUnimplemented(const json& j) {
  if (const json* r = Member(j, "intelRdt"); r && !r->is_null())
    return Fail(FieldError("linux.intelRdt", "Intel RDT (resctrl) is not supported by sworn"));
  if (const json* n = Member(j, "netDevices"); n && !n->is_null() && !n->empty())
    return Fail(FieldError("linux.netDevices", "moving network devices into the container is not supported by sworn"));
  if (const json* m = Member(j, "memoryPolicy"); m && !m->is_null()) {
    const json* mode = m->is_object() ? Member(*m, "mode") : nullptr;
    bool nothing = mode && *mode == "MPOL_DEFAULT" && !Member(*m, "nodes") && !Member(*m, "flags");
    if (!nothing) return Fail(FieldError("linux.memoryPolicy", "NUMA memory policies are not supported by sworn"));
  }
  return {};
}

Result<Linux> ParseLinux(const json& root) {
  Linux l;
  const json* jp = Member(root, "linux");
  if (!jp) return l;
  const json& j = *jp;
  SWORN_TRY(ExpectType(j, json::value_t::object, "linux"));
  SWORN_TRY(RefuseUnimplemented(j));
  l.namespaces = SWORN_TRY(ParseNamespaces(j));
  l.uid_mappings = SWORN_TRY(ParseIdMaps(j, "uidMappings"));
  l.gid_mappings = SWORN_TRY(ParseIdMaps(j, "gidMappings"));
  l.devices = SWORN_TRY(ParseDevices(j));
  SWORN_TRY(Get(j, "cgroupsPath", "linux", l.cgroups_path));
  if (const json* r = Member(j, "resources")) {
    SWORN_TRY(ExpectType(*r, json::value_t::object, "linux.resources"));
    l.resources = *r;
  }
  if (const json* s = Member(j, "seccomp")) {
    SWORN_TRY(ExpectType(*s, json::value_t::object, "linux.seccomp"));
    l.seccomp = *s;
  }
  SWORN_TRY(ParseSysctl(j, l));
  SWORN_TRY(Get(j, "maskedPaths", "linux", l.masked_paths));
  SWORN_TRY(Get(j, "readonlyPaths", "linux", l.readonly_paths));
  SWORN_TRY(DedupePaths(l.masked_paths, "linux.maskedPaths"));
  SWORN_TRY(DedupePaths(l.readonly_paths, "linux.readonlyPaths"));
  SWORN_TRY(ParseRootfsPropagation(j, l));
  SWORN_TRY(ParseTimeOffsets(j, l));
  SWORN_TRY(Get(j, "mountLabel", "linux", l.mount_label));
  SWORN_TRY(ParsePersonality(j, l));
  bool has_user = l.Find(NsType::kUser) != nullptr;
  if (!has_user && (!l.uid_mappings.empty() || !l.gid_mappings.empty()))
    return Fail(FieldError("linux.uidMappings", "mappings need a user namespace in linux.namespaces"));
  if ((l.time_monotonic_secs || l.time_boottime_secs) && !l.Find(NsType::kTime))
    return Fail(FieldError("linux.timeOffsets", "offsets need a time namespace in linux.namespaces"));
  return l;
}

Result<std::vector<Hook>> ParseHookList(const json& hooks, const char* key) {
  std::vector<Hook> out;
  const json* a = Member(hooks, key);
  if (!a) return out;
  std::string p = Sub("hooks", key);
  SWORN_TRY(ExpectType(*a, json::value_t::array, p));
  for (size_t i = 0; i < a->size(); ++i) {
    std::string e = Idx(p, i);
    SWORN_TRY(ExpectType((*a)[i], json::value_t::object, e));
    Hook h;
    SWORN_TRY(Get((*a)[i], "path", e, h.path));
    if (h.path.empty() || h.path[0] != '/') return Fail(FieldError(Sub(e, "path"), "must be an absolute path"));
    SWORN_TRY(Get((*a)[i], "args", e, h.args));
    SWORN_TRY(Get((*a)[i], "env", e, h.env));
    h.env_set = Member((*a)[i], "env") != nullptr;
    int64_t t = 0;
    SWORN_TRY(Get((*a)[i], "timeout", e, t));
    if (Member((*a)[i], "timeout")) {
      if (t <= 0 || t > INT32_MAX)
        return Fail(FieldError(Sub(e, "timeout"), std::to_string(t) + " is out of range (1.." + std::to_string(INT32_MAX) +
                                                      " seconds)"));
      h.timeout = static_cast<int>(t);
    }
    out.push_back(std::move(h));
  }
  return out;
}

Result<std::map<std::string, std::string>> ParseAnnotations(const json& j) {
  std::map<std::string, std::string> out;
  const json* a = Member(j, "annotations");
  if (!a) return out;
  SWORN_TRY(ExpectType(*a, json::value_t::object, "annotations"));
  for (auto it = a->begin(); it != a->end(); ++it) {
    SWORN_TRY(ExpectType(*it, json::value_t::string, "annotations." + it.key()));
    SWORN_TRY(CheckNoNul(it.key(), "annotations." + it.key()));
    SWORN_TRY(CheckNoNul(it->get_ref<const std::string&>(), "annotations." + it.key()));
    out[it.key()] = it->get<std::string>();
  }
  return out;
}

}  // namespace

const Namespace* Linux::Find(NsType t) const {
  for (const auto& n : namespaces)
    if (n.type == t) return &n;
  return nullptr;
}

const char* NsName(NsType t) { return Info(t).name; }
const char* NsProcName(NsType t) { return Info(t).proc; }
int NsCloneFlag(NsType t) { return Info(t).flag; }

Result<Hooks> ParseHooks(const json& j) {
  Hooks h;
  const json* hp = Member(j, "hooks");
  if (!hp) return h;
  SWORN_TRY(ExpectType(*hp, json::value_t::object, "hooks"));
  h.prestart = SWORN_TRY(ParseHookList(*hp, "prestart"));
  h.create_runtime = SWORN_TRY(ParseHookList(*hp, "createRuntime"));
  h.create_container = SWORN_TRY(ParseHookList(*hp, "createContainer"));
  h.start_container = SWORN_TRY(ParseHookList(*hp, "startContainer"));
  h.poststart = SWORN_TRY(ParseHookList(*hp, "poststart"));
  h.poststop = SWORN_TRY(ParseHookList(*hp, "poststop"));
  return h;
}

// As runc 1.2: id-mapped mounts are binds with both maps; "idmap" or
// "ridmap" without maps take the container's user namespace maps.
static Result<void> CheckIdMappedMounts(Spec& s) {
  for (size_t i = 0; i < s.mounts.size(); ++i) {
    Mount& m = s.mounts[i];
    if (!m.idmap) continue;
    std::string p = Idx("mounts", i);
    if (!m.bind) return Fail(FieldError(p, "id-mapped mounts are only supported for bind mounts (" + m.destination + ")"));
    if (m.uid_mappings.empty() && m.gid_mappings.empty()) {
      if (!s.linux.Find(NsType::kUser) || s.linux.uid_mappings.empty())
        return Fail(FieldError(Sub(p, "options"), "\"idmap\" without uidMappings/gidMappings on the mount takes "
                                                  "linux.uidMappings, which needs a new user namespace"));
      m.uid_mappings = s.linux.uid_mappings;
      m.gid_mappings = s.linux.gid_mappings;
    }
    if (m.uid_mappings.empty() || m.gid_mappings.empty())
      return Fail(FieldError(p, "an id-mapped mount needs both uidMappings and gidMappings (" + m.destination + ")"));
  }
  return {};
}

Result<Spec> ParseSpec(std::string_view text, const std::string& bundle) {
  // The bundle path goes into state.json and the hooks' state: JSON strings.
  if (!IsValidUtf8(bundle)) return Fail(FieldError("--bundle", "path is not valid UTF-8: " + bundle));
  json j = SWORN_TRY(ParseJsonInput(text, "config.json"));
  if (!j.is_object()) return Fail(FieldError("config.json", "expected an object at the top level"));
  Spec s;
  SWORN_TRY(CheckVersion(j, s));
  SWORN_TRY(ParseRoot(j, bundle, s));
  if (const json* p = Member(j, "process")) s.process = SWORN_TRY(ParseProcess(*p, "process"));
  SWORN_TRY(Get(j, "hostname", "", s.hostname));
  SWORN_TRY(Get(j, "domainname", "", s.domainname));
  s.mounts = SWORN_TRY(ParseMounts(j));
  s.linux = SWORN_TRY(ParseLinux(j));
  s.hooks = SWORN_TRY(ParseHooks(j));
  s.annotations = SWORN_TRY(ParseAnnotations(j));
  s.raw = std::move(j);
  bool uts = s.linux.Find(NsType::kUts) != nullptr;
  if (!uts && !s.hostname.empty()) return Fail(FieldError("hostname", "setting it needs a uts namespace"));
  if (!uts && !s.domainname.empty()) return Fail(FieldError("domainname", "setting it needs a uts namespace"));
  // As runc: masks and read-only binds made in the runtime's own mount
  // namespace would not restrict the container (it may unmount them).
  bool mntns = s.linux.Find(NsType::kMount) != nullptr;
  if (!mntns && !s.linux.masked_paths.empty())
    return Fail(FieldError("linux.maskedPaths", "need a mount namespace"));
  if (!mntns && !s.linux.readonly_paths.empty())
    return Fail(FieldError("linux.readonlyPaths", "need a mount namespace"));
  SWORN_TRY(CheckSysctls(s));
  SWORN_TRY(CheckIdMappedMounts(s));
  return s;
}

Result<Spec> LoadBundle(const std::string& bundle) {
  auto text = SWORN_TRY(ReadJsonFile(bundle + "/config.json", "config.json", true));
  return ParseSpec(text, bundle);
}

}  // namespace sworn::spec
