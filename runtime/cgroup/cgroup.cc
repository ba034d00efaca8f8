#include "cgroup/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <optional>

#include "core/log.h"
#include "core/rootless.h"
#include "core/sys.h"
#include "cgroup/systemd.h"

namespace sworn::cgroup {
namespace {

// Maps each hierarchy's controller list (or "" for cgroup2) to this
// process's path in it.
std::vector<std::pair<std::string, std::string>> OwnCgroups() {
  std::vector<std::pair<std::string, std::string>> out;
  auto text = ReadFile("/proc/self/cgroup");
  if (!text) return out;
  for (auto line : SplitView(*text, '\n')) {
    size_t a = line.find(':'), b = a == line.npos ? a : line.find(':', a + 1);
    if (b == line.npos) continue;
    out.emplace_back(line.substr(a + 1, b - a - 1), line.substr(b + 1));
  }
  return out;
}

// runc's isIgnorableError: what a rootless runtime may meet in a cgroup
// hierarchy it was not given.
bool IsPermissionError(int err) { return err == EACCES || err == EPERM || err == EROFS; }

bool HasController(const std::string& list, std::string_view c) {
  for (const auto& x : Split(list, ','))
    if (x == c) return true;
  return false;
}

// v1 cpuset cgroups start with empty cpus/mems and refuse tasks until both
// are filled; copy them from the parent as runc does. A cgroup just made has
// either nothing or (cgroup.clone_children) the parent's already: no need to
// read it first.
Result<void> InitCpuset(const std::string& dir, bool fresh) {
  std::string parent = dir.substr(0, dir.rfind('/'));
  for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
    if (!fresh)
      if (auto cur = ReadFile(dir + "/" + f); cur && !Trim(*cur).empty()) continue;
    auto val = SWORN_TRY(ReadFile(parent + "/" + f));
    SWORN_TRY(WriteFile(dir + "/" + f, Trim(val), O_WRONLY));
  }
  return {};
}

// cgroup2 hands controllers down only when the parent lists them in
// cgroup.subtree_control; enable every one the parent has, as runc does.
// A parent with processes of its own refuses (no internal processes), and
// then its children simply lack the controller.
void EnableControllers(const std::string& parent) {
  auto avail = ReadFile(parent + "/cgroup.controllers");
  if (!avail) return;
  std::string req;
  for (const auto& c : Split(Trim(*avail), ' '))
    if (!c.empty()) req += (req.empty() ? "+" : " +") + c;
  if (!req.empty()) (void)WriteFile(parent + "/cgroup.subtree_control", req, O_WRONLY);
}

// EnableControllers for a parent that existed already: usually a former
// create enabled them, and a write to subtree_control (which takes the
// cgroup locks) is then wasted; two reads tell.
void EnsureControllers(const std::string& parent) {
  auto avail = ReadFile(parent + "/cgroup.controllers");
  auto on = ReadFile(parent + "/cgroup.subtree_control");
  if (!avail || !on) return;
  auto enabled = Split(Trim(*on), ' ');
  for (const auto& c : Split(Trim(*avail), ' '))
    if (!c.empty() && std::find(enabled.begin(), enabled.end(), c) == enabled.end()) return EnableControllers(parent);
}

// Makes dir and any missing parent below mount; true if dir itself was
// made. The leaf is tried first: its parent usually exists (the cgroup of
// former containers), so no failing mkdir per parent. Parents made here get
// what the leaf gets (controllers, cpuset) and go on `made`.
Result<bool> MakeCgroup(const std::string& mount, const std::string& rel, const Hierarchy& h,
                        std::vector<std::string>* made) {
  std::string dir = mount + rel;
  bool cpuset = HasController(h.controllers, "cpuset");
  if (mkdir(dir.c_str(), 0755) == 0) {
    // Enabling a controller in the parent hands it to existing children too.
    if (h.v2) EnsureControllers(dir.substr(0, dir.rfind('/')));
    made->push_back(dir);
    if (cpuset) SWORN_TRY(InitCpuset(dir, true));
    return true;
  }
  if (errno == EEXIST) {
    // A cgroup made by someone else (a Nomad 1.7 scope) may sit below
    // parents that never handed their controllers down.
    if (h.v2) {
      std::string up = mount;
      for (const auto& part : Split(rel, '/')) {
        if (part.empty()) continue;
        EnsureControllers(up);
        up += "/" + part;
      }
    }
    return false;
  }
  if (errno != ENOENT) return Fail(SysError("mkdir", dir));
  dir = mount;
  bool leaf = false;
  for (const auto& part : Split(rel, '/')) {
    if (part.empty()) continue;
    if (h.v2) EnableControllers(dir);
    dir += "/" + part;
    leaf = mkdir(dir.c_str(), 0755) == 0;
    if (leaf)
      made->push_back(dir);
    else if (errno != EEXIST)
      return Fail(SysError("mkdir", dir));
    if (cpuset) SWORN_TRY(InitCpuset(dir, leaf));
  }
  return leaf;
}

}  // namespace

Result<std::vector<Hierarchy>> Discover() {
  // Mounts do not change under a running command; read them once.
  static std::optional<std::vector<Hierarchy>> cache;
  if (cache) return *cache;
  std::vector<Hierarchy> out;
  auto text = SWORN_TRY(ReadFile("/proc/self/mountinfo"));
  auto own = OwnCgroups();
  for (auto line : SplitView(text, '\n')) {
    size_t sep = line.find(" - ");
    if (sep == std::string::npos) continue;
    auto pre = SplitView(line.substr(0, sep), ' ');
    auto post = SplitView(line.substr(sep + 3), ' ');
    if (pre.size() < 5 || post.size() < 3) continue;
    if (post[0] != "cgroup2" && post[0] != "cgroup") continue;
    Hierarchy h;
    h.mount = pre[4];
    h.v2 = post[0] == "cgroup2";
    if (!h.v2)
      for (auto o : SplitView(post[2], ','))
        if (o != "rw" && o != "ro" && o != "relatime" && o.find("release_agent") != 0 && o != "clone_children" &&
            o != "noprefix" && o != "xattr")
          (h.controllers += h.controllers.empty() ? "" : ",") += o;
    bool dup = std::any_of(out.begin(), out.end(), [&](const Hierarchy& o) {
      return o.v2 == h.v2 && o.controllers == h.controllers;
    });
    if (dup) continue;
    for (const auto& [ctrl, path] : own) {
      if (h.v2 ? ctrl.empty() : ctrl == h.controllers) h.own_path = path;
    }
    out.push_back(std::move(h));
  }
  cache = out;
  return out;
}

// dir and every cgroup below it, parents first. Sub-cgroups (exec --cgroup,
// or made by the container itself) hold the container's processes too.
std::vector<std::string> Tree(const std::string& dir) {
  std::vector<std::string> out{dir};
  for (size_t i = 0; i < out.size() && out.size() < 10000; ++i) {
    DIR* d = opendir(out[i].c_str());
    if (!d) continue;
    while (dirent* e = readdir(d)) {
      std::string name = e->d_name;
      if (e->d_type == DT_DIR && name != "." && name != "..") out.push_back(out[i] + "/" + name);
    }
    closedir(d);
  }
  return out;
}

namespace {

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out;
}

Error PathError(const std::string& cgroups_path, std::string_view why) {
  std::string shown;
  for (char c : cgroups_path) shown += c == '\0' ? std::string("\\0") : std::string(1, c);
  return FieldError("linux.cgroupsPath", "\"" + shown + "\" " + std::string(why));
}

// A frozen cgroup freezes whatever joins it: the process would never reach
// its sync point or execve, and the verb would hang.
Result<void> CheckThawed(const std::string& dir, const Hierarchy& h) {
  std::string why;
  if (!h.v2 && HasController(h.controllers, "freezer")) {
    auto st = ReadFile(dir + "/freezer.state");
    if (st && Trim(*st) != "THAWED") why = "freezer.state " + std::string(Trim(*st));
  }
  if (h.v2) {
    auto ev = ReadFile(dir + "/cgroup.events");
    if (ev && ev->find("frozen 1") != std::string::npos) why = "cgroup.events: frozen 1";
  }
  if (why.empty()) return {};
  return Fail(MakeError(Errc::kBadState, "cgroup " + dir + " is frozen (" + why + "): thaw it or choose another path"));
}

// Whether any process is in dir or below it.
bool Populated(const std::string& dir, bool v2) {
  if (v2) {
    auto ev = ReadFile(dir + "/cgroup.events");
    return ev && ev->find("populated 1") != std::string::npos;
  }
  for (const auto& d : Tree(dir)) {
    auto procs = ReadFile(d + "/cgroup.procs");
    if (procs && !Trim(*procs).empty()) return true;
  }
  return false;
}

}  // namespace

Result<std::vector<std::string>> PathComponents(const std::string& cgroups_path) {
  if (cgroups_path.find('\0') != std::string::npos)
    return Fail(PathError(cgroups_path, "contains a NUL byte"));
  std::vector<std::string> parts;
  for (const auto& part : Split(cgroups_path, '/')) {
    if (part == "..") return Fail(PathError(cgroups_path, "must not contain \"..\" components"));
    if (!part.empty() && part != ".") parts.push_back(part);
  }
  if (parts.empty() && !cgroups_path.empty())
    return Fail(PathError(cgroups_path, cgroups_path[0] == '/'
                                            ? "resolves to the root of every cgroup hierarchy; give a path below it, "
                                              "such as \"/sworn/<id>\""
                                            : "resolves to the runtime's own cgroup; give a path below it"));
  return parts;
}

static std::string DefaultPath(const std::string& id) { return RootlessCgroups() ? id : "/sworn/" + id; }

std::string ResolvePath(const std::string& cgroups_path, const std::string& id, const Hierarchy& h) {
  if (cgroups_path.empty()) {
    if (!RootlessCgroups()) return "/sworn/" + id;
    return ResolvePath(DefaultPath(id), id, h);
  }
  std::vector<std::string> parts;
  for (const auto& part : Split(cgroups_path, '/'))
    if (!part.empty() && part != ".") parts.push_back(part);
  if (cgroups_path[0] == '/') return Join(parts);
  std::vector<std::string> base;
  for (const auto& part : Split(h.own_path, '/'))
    if (!part.empty() && part != ".") base.push_back(part);
  base.insert(base.end(), parts.begin(), parts.end());
  return Join(base);
}

Result<void> CheckStateDirs(const std::vector<std::string>& dirs, const std::string& cgroups_path,
                            const std::string& id) {
  auto parts = SWORN_TRY(PathComponents(cgroups_path));
  std::string path = cgroups_path.empty() ? DefaultPath(id) : cgroups_path;
  // --systemd-cgroup: the scope's ControlGroup, wherever systemd put it.
  if (auto unit = systemd::ParsePath(cgroups_path, id); systemd::IsSystemdPath(cgroups_path) && unit)
    path = unit->scope;
  if (path != cgroups_path) parts = SWORN_TRY(PathComponents(path));
  std::string suffix = Join(parts);
  bool absolute = path[0] == '/';
  auto hierarchies = SWORN_TRY(Discover());
  for (const auto& dir : dirs) {
    auto bad = [&](std::string_view why) {
      return Fail(MakeError(Errc::kInvalidArgument, "cgroup_dirs: \"" + dir + "\" " + std::string(why)));
    };
    const Hierarchy* h = nullptr;
    for (const auto& x : hierarchies)
      if (StartsWith(dir, x.mount + "/")) h = &x;
    if (!h) return bad("is not below a mounted cgroup hierarchy");
    std::string rel = dir.substr(h->mount.size());
    for (const auto& part : Split(rel.substr(1), '/'))
      if (part.empty() || part == "." || part == "..") return bad("is not a normalized path");
    // Relative: below the runtime's own cgroup, which may be the root
    // (suffix starts with "/", so ends_with stops at a component).
    bool mine = absolute ? rel == suffix : rel.ends_with(suffix);
    if (!mine) return bad("is not the container's cgroup (linux.cgroupsPath \"" + cgroups_path + "\")");
  }
  return {};
}

namespace {

struct SubSpec {
  std::vector<std::string> controllers;  // empty: every hierarchy
  std::vector<std::string> parts;
};

Result<SubSpec> ParseSubSpec(const std::string& spec) {
  auto bad = [&](std::string_view why) {
    std::string shown;
    for (char c : spec) shown += c == '\0' ? std::string("\\0") : std::string(1, c);
    return Fail(MakeError(Errc::kInvalidArgument, "--cgroup \"" + shown + "\": " + std::string(why)));
  };
  if (spec.find('\0') != std::string::npos) return bad("contains a NUL byte");
  SubSpec s;
  std::string path = spec;
  if (size_t colon = spec.find(':'); colon != std::string::npos) {
    path = spec.substr(colon + 1);
    for (const auto& c : Split(spec.substr(0, colon), ','))
      if (c.empty()) return bad("empty controller name (expected [CONTROLLER[,CONTROLLER]:]PATH)");
      else s.controllers.push_back(c);
  }
  for (const auto& part : Split(path, '/')) {
    if (part == "..") return bad("must not contain \"..\": the sub-cgroup must be inside the container's cgroup");
    if (!part.empty() && part != ".") s.parts.push_back(part);
  }
  if (s.parts.empty()) return bad("names no sub-cgroup (expected [CONTROLLER[,CONTROLLER]:]PATH below the container's cgroup)");
  return s;
}

}  // namespace

Result<std::vector<std::string>> SubCgroupDirs(const std::vector<std::string>& dirs,
                                               const std::vector<std::string>& specs) {
  std::vector<std::string> out = dirs;
  if (specs.empty()) return out;
  auto hierarchies = SWORN_TRY(Discover());
  std::vector<bool> set(dirs.size(), false);
  for (const auto& spec : specs) {
    auto sub = SWORN_TRY(ParseSubSpec(spec));
    for (const auto& c : sub.controllers) {
      bool found = false;
      for (size_t i = 0; i < dirs.size(); ++i) {
        const Hierarchy* h = nullptr;
        for (const auto& x : hierarchies)
          if (StartsWith(dirs[i], x.mount + "/")) h = &x;
        if (!h || h->v2 || !HasController(h->controllers, c)) continue;
        found = true;
        if (set[i]) return Fail(MakeError(Errc::kInvalidArgument, "--cgroup \"" + spec + "\": controller " + c +
                                                                      " is given a sub-cgroup twice"));
        out[i] = dirs[i] + Join(sub.parts);
        set[i] = true;
      }
      if (!found)
        return Fail(MakeError(Errc::kInvalidArgument, "--cgroup \"" + spec + "\": the container has no cgroup v1 "
                                                      "hierarchy with controller \"" + c + "\""));
    }
    if (sub.controllers.empty())
      for (size_t i = 0; i < dirs.size(); ++i)
        if (!set[i]) out[i] = dirs[i] + Join(sub.parts);
  }
  for (size_t i = 0; i < out.size(); ++i) {
    struct stat st;
    if (out[i] == dirs[i]) continue;
    if (lstat(out[i].c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
      return Fail(MakeError(Errc::kNotFound, "--cgroup: sub-cgroup " + out[i] + " does not exist"));
    // A process placed in a frozen cgroup never reaches its execve.
    for (const auto& h : hierarchies)
      if (StartsWith(out[i], h.mount + "/"))
        SWORN_TRY(WithContext(CheckThawed(out[i], h), "--cgroup"));
  }
  return out;
}

Result<Placement> Placement::Create(const std::string& cgroups_path, const std::string& id) {
  SWORN_TRY(PathComponents(cgroups_path));
  Placement p;
  // As runc's rootless cgroup manager: without an explicit cgroupsPath, a
  // hierarchy the user may not write is left out (the container runs
  // without it); limits asked for there then fail in Apply.
  bool may_skip = RootlessCgroups() && cgroups_path.empty();
  for (const auto& h : SWORN_TRY(Discover())) {
    std::string rel = ResolvePath(cgroups_path, id, h);
    // Never the hierarchy root (a relative path from a process in the root).
    if (rel.empty()) return Fail(PathError(cgroups_path, "resolves to the root of " + h.mount));
    std::string dir = h.mount + rel;
    auto maybe_made = MakeCgroup(h.mount, rel, h, &p.created_);
    if (!maybe_made && may_skip && IsPermissionError(maybe_made.error().sys_errno)) {
      log::Debug("create: rootless: no cgroup in " + h.mount + " (" + maybe_made.error().Message() + ")");
      continue;
    }
    bool made = SWORN_TRY(std::move(maybe_made));
    // runc refuses an existing cgroup with processes: delete --force would
    // kill them as the container's own.
    if (!made && Populated(dir, h.v2))
      return Fail(PathError(cgroups_path, "names cgroup " + dir + ", which already has processes"));
    if (auto thawed = CheckThawed(dir, h); !thawed) return Fail(PathError(cgroups_path, "is unusable: " + thawed.error().context));
    // Only into a cgroup made here: on 6.18 (at least) a cgroup that ever had
    // cgroup.kill written SIGKILLs every later CLONE_INTO_CGROUP child at
    // birth, while a write to cgroup.procs still works. A reused cgroup (a
    // Nomad scope after `delete` killed in it) takes the fallback.
    if (h.v2 && made) {
      p.v2_fd_.reset(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!p.v2_fd_) return Fail(SysError("open", dir));
      p.v2_dir_ = dir;
    }
    p.dirs_.push_back(dir);
  }
  if (p.dirs_.empty() && !may_skip) return Fail(MakeError(Errc::kUnsupported, "no cgroup hierarchy is mounted"));
  return p;
}

std::vector<std::string> Placement::Reused() const {
  std::vector<std::string> out;
  for (const auto& d : dirs_)
    if (std::find(created_.begin(), created_.end(), d) == created_.end()) out.push_back(d);
  return out;
}

std::vector<std::string> Existing(const std::vector<std::string>& dirs) {
  std::vector<std::string> out;
  for (const auto& d : dirs)
    if (access(d.c_str(), F_OK) == 0) out.push_back(d);
  return out;
}

Placement::~Placement() {
  if (committed_) return;
  if (!unit_.empty()) {
    Rejoin();
    if (auto r = systemd::StopUnit(unit_); !r) log::Warn(r.error().Message());
  }
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) rmdir(it->c_str());
}

std::vector<std::string> Placement::ToAttach(bool skip_v2, const std::vector<std::string>& joined) const {
  std::vector<std::string> out;
  for (const auto& dir : dirs_)
    if (!(skip_v2 && v2_fd_ && dir == v2_dir_) && std::find(joined.begin(), joined.end(), dir) == joined.end())
      out.push_back(dir);
  return out;
}

Result<void> Placement::Attach(pid_t pid, bool skip_v2, const std::vector<std::string>& joined) const {
  std::string p = std::to_string(pid);
  for (const auto& dir : ToAttach(skip_v2, joined)) SWORN_TRY(WriteFile(dir + "/cgroup.procs", p, O_WRONLY));
  Rejoin();
  return {};
}

bool Placement::NeedsAttach(bool skip_v2, const std::vector<std::string>& joined) const {
  return !rejoin_.empty() || !ToAttach(skip_v2, joined).empty();
}

void Placement::Rejoin() const {
  for (const auto& dir : rejoin_)
    if (auto r = WriteFile(dir + "/cgroup.procs", std::to_string(getpid()), O_WRONLY); !r) log::Warn(r.error().Message());
}

Result<Placement> Placement::Systemd(const std::string& cgroups_path, const std::string& id, const Resources& r) {
  auto unit = SWORN_TRY(systemd::ParsePath(cgroups_path, id));
  auto hierarchies = SWORN_TRY(Discover());
  Placement p;
  std::string cg = SWORN_TRY(systemd::StartScope(unit, getpid(), r, "sworn container " + id));
  p.unit_ = unit.scope;
  for (const auto& h : hierarchies) {
    std::string dir = h.mount + cg;
    // Where systemd moved us, we go back to once the init is placed.
    if (access(dir.c_str(), F_OK) == 0) {
      p.rejoin_.push_back(h.mount + (h.own_path == "/" ? "" : h.own_path));
    } else {
      SWORN_TRY(MakeCgroup(h.mount, cg, h, &p.created_));
    }
    if (h.v2) {
      p.v2_fd_.reset(open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!p.v2_fd_) return Fail(SysError("open", dir));
      p.v2_dir_ = dir;
    }
    p.dirs_.push_back(dir);
  }
  return p;
}

}  // namespace sworn::cgroup
