#include "state/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "cgroup/cgroup.h"
#include "core/json_input.h"
#include "core/sys.h"

namespace sworn::state {

using nlohmann::json;

const char* StatusName(Status s) {
  switch (s) {
    case Status::kCreating: return "creating";
    case Status::kCreated: return "created";
    case Status::kRunning: return "running";
    case Status::kPaused: return "paused";
    case Status::kStopped: return "stopped";
    case Status::kUnknown: return "unknown";
  }
  return "unknown";
}

Result<void> ValidateId(std::string_view id) {
  if (id.empty()) return Fail(MakeError(Errc::kInvalidArgument, "container id: must not be empty"));
  if (id == "." || id == "..")
    return Fail(MakeError(Errc::kInvalidArgument, "container id \"" + std::string(id) + "\": not a valid id"));
  if (id.size() > 1024) return Fail(MakeError(Errc::kInvalidArgument, "container id: longer than 1024 bytes"));
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '+' ||
              c == '-' || c == '.';
    if (!ok)
      return Fail(MakeError(Errc::kInvalidArgument, "container id \"" + std::string(id) +
                                                        "\": only letters, digits and _ + - . are allowed"));
  }
  return {};
}

json ContainerState::FieldsButConfig() const {
  json j = {{"id", id},           {"ociVersion", oci_version}, {"bundle", bundle},
            {"rootfs", rootfs},   {"created", created},        {"owner_uid", owner_uid},
            {"pid", pid},         {"pid_start", pid_start},    {"annotations", annotations},
            {"cgroup_dirs", cgroup_dirs}, {"cgroup_reused", cgroup_reused}};
  if (systemd_cgroup) j["systemd_cgroup"] = true;
  return j;
}

json ContainerState::ToJson() const {
  json j = FieldsButConfig();
  j["config"] = config;
  return j;
}

// The config is most of the state: written from the text it was parsed
// from, or dumped where it is, never copied into a second document first.
std::string ContainerState::Dump() const {
  std::string out = FieldsButConfig().dump();
  out.pop_back();  // the closing brace of a non-empty object
  return out + ",\"config\":" + (config_text.empty() ? config.dump() : config_text) + "}";
}

Result<ContainerState> ContainerState::FromJson(const json& j) {
  try {
    ContainerState s;
    s.id = j.at("id").get<std::string>();
    s.oci_version = j.at("ociVersion").get<std::string>();
    s.bundle = j.at("bundle").get<std::string>();
    s.rootfs = j.at("rootfs").get<std::string>();
    s.created = j.at("created").get<std::string>();
    s.owner_uid = j.at("owner_uid").get<uid_t>();
    s.pid = j.at("pid").get<pid_t>();
    s.pid_start = j.at("pid_start").get<uint64_t>();
    s.annotations = j.at("annotations").get<std::map<std::string, std::string>>();
    s.cgroup_dirs = j.at("cgroup_dirs").get<std::vector<std::string>>();
    // Absent in state written before sworn recorded it: all were created.
    if (j.contains("cgroup_reused")) s.cgroup_reused = j.at("cgroup_reused").get<std::vector<std::string>>();
    s.config = j.at("config");
    if (j.contains("systemd_cgroup")) s.systemd_cgroup = j.at("systemd_cgroup").get<bool>();
    return s;
  } catch (const json::exception& e) {
    return Fail(MakeError(Errc::kInvalidArgument, std::string("corrupt: ") + e.what()));
  }
}

static Result<UniqueFd> LockDir(const std::string& path, bool lock = true) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Fail(SysError("open", path));
  while (lock && flock(fd.get(), LOCK_EX) < 0)
    if (errno != EINTR) return Fail(SysError("flock", path));
  return fd;
}

Result<ContainerDir> ContainerDir::Create(const std::string& root, std::string_view id) {
  SWORN_TRY(ValidateId(id));
  std::string path = root + "/" + std::string(id);
  // The root usually exists: made (with its parents) only when it does not.
  int made = mkdir(path.c_str(), 0711);
  if (made < 0 && errno == ENOENT) {
    SWORN_TRY(MkdirAll(root, 0711));
    made = mkdir(path.c_str(), 0711);
  }
  if (made < 0) {
    if (errno == EEXIST)
      return Fail(MakeError(Errc::kAlreadyExists, "container \"" + std::string(id) + "\" already exists"));
    return Fail(SysError("mkdir", path));
  }
  auto lock = LockDir(path);
  if (!lock) {
    rmdir(path.c_str());
    return Fail(lock.error());
  }
  return ContainerDir(path, std::string(id), std::move(*lock));
}

Result<ContainerDir> ContainerDir::Open(const std::string& root, std::string_view id, bool locked) {
  SWORN_TRY(ValidateId(id));
  std::string path = root + "/" + std::string(id);
  auto lock = LockDir(path, locked);
  if (!lock) {
    if (lock.error().sys_errno == ENOENT || lock.error().sys_errno == ENOTDIR)
      return Fail(MakeError(Errc::kNotFound, "container \"" + std::string(id) + "\" does not exist"));
    return Fail(lock.error());
  }
  // A delete that held the lock before us may have removed the directory.
  struct stat st;
  if (fstat(lock->get(), &st) < 0 || st.st_nlink == 0)
    return Fail(MakeError(Errc::kNotFound, "container \"" + std::string(id) + "\" does not exist"));
  return ContainerDir(path, std::string(id), std::move(*lock));
}

namespace {

// O_NONBLOCK: a fifo planted as state.json must not hang every verb; the
// fstat then refuses it, and a symlink (to /dev/zero, say) fails the open.
Result<std::string> ReadStateFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (!fd) {
    if (errno == ELOOP) return Fail(MakeError(Errc::kInvalidArgument, path + ": is a symlink"));
    return Fail(SysError("open", path));
  }
  struct stat st;
  if (fstat(fd.get(), &st) < 0) return Fail(SysError("fstat", path));
  if (!S_ISREG(st.st_mode)) return Fail(MakeError(Errc::kInvalidArgument, path + ": not a regular file"));
  if (static_cast<uint64_t>(st.st_size) > kMaxJsonBytes)
    return Fail(MakeError(Errc::kInvalidArgument, path + ": larger than " + std::to_string(kMaxJsonBytes) + " bytes"));
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = read(fd.get(), text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(SysError("read", path));
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  return text;
}

// The config's linux.cgroupsPath ("" if unset); an error if it is not a string.
Result<std::string> StoredCgroupsPath(const json& config) {
  if (!config.is_object()) return Fail(MakeError(Errc::kInvalidArgument, "config: not an object"));
  auto linux = config.find("linux");
  if (linux == config.end() || !linux->is_object()) return std::string();
  auto p = linux->find("cgroupsPath");
  if (p == linux->end()) return std::string();
  if (!p->is_string()) return Fail(MakeError(Errc::kInvalidArgument, "config: linux.cgroupsPath is not a string"));
  return p->get<std::string>();
}

}  // namespace

Result<ContainerState> ContainerDir::Load() const {
  std::string file = path_ + "/state.json";
  auto text = ReadStateFile(file);
  if (!text) {
    if (text.error().sys_errno == ENOENT)
      return Fail(MakeError(Errc::kNotFound, "container \"" + id_ + "\" has no state (its create was interrupted)"));
    return Fail(text.error());
  }
  auto j = SWORN_TRY(ParseJsonInput(*text, file));
  auto s = SWORN_TRY(WithContext(ContainerState::FromJson(j), file));
  if (s.id != id_)
    return Fail(MakeError(Errc::kInvalidArgument, file + ": id \"" + s.id + "\" is not the container's (\"" + id_ + "\")"));
  auto cgroups_path = SWORN_TRY(WithContext(StoredCgroupsPath(s.config), file));
  SWORN_TRY(WithContext(cgroup::CheckStateDirs(s.cgroup_dirs, cgroups_path, id_), file));
  for (const auto& r : s.cgroup_reused)
    if (std::find(s.cgroup_dirs.begin(), s.cgroup_dirs.end(), r) == s.cgroup_dirs.end())
      return Fail(MakeError(Errc::kInvalidArgument, file + ": cgroup_reused: \"" + r + "\" is not in cgroup_dirs"));
  return s;
}

Result<void> ContainerDir::Save(const ContainerState& s) const {
  // WriteFileAtomic opens the temp file with O_CREAT: never through a
  // symlink someone left in its place.
  unlink((path_ + "/state.json.tmp").c_str());
  return WriteFileAtomic(path_ + "/state.json", s.Dump());
}

Status ContainerDir::CurrentStatus(const ContainerState& s) const {
  if (s.pid == 0 || s.pid_start == 0) return Status::kCreating;
  if (!ProcessAlive(s.pid, s.pid_start)) return Status::kStopped;
  // A live pid outside the container's cgroup is not its init (the state
  // was edited): as far as signals and exec go, the container is stopped.
  if (!cgroup::Contains(s.cgroup_dirs, s.pid)) return Status::kStopped;
  if (access(FifoPath().c_str(), F_OK) == 0) return Status::kCreated;
  for (const auto& dir : s.cgroup_dirs) {
    // cgroup v2 reports frozen in cgroup.events, v1 in freezer.state.
    if (dir.find("/freezer") != std::string::npos) {
      auto fz = ReadFile(dir + "/freezer.state");
      if (fz && Trim(*fz) == "FROZEN") return Status::kPaused;
    } else if (access((dir + "/cgroup.freeze").c_str(), F_OK) == 0) {
      auto events = ReadFile(dir + "/cgroup.events");
      if (events && events->find("frozen 1") != std::string::npos) return Status::kPaused;
    }
  }
  return Status::kRunning;
}

Result<void> ContainerDir::Remove() {
  // Usually state.json is all there is (a `run` leaves nothing else).
  unlink((path_ + "/state.json").c_str());
  if (rmdir(path_.c_str()) == 0 || errno == ENOENT) return {};
  for (const char* f : {"state.json.tmp", "exec.fifo", "exec.done", "pledge.log", "pledge.learned.json"})
    unlink((path_ + "/" + f).c_str());
  if (rmdir(path_.c_str()) < 0 && errno != ENOENT) return Fail(SysError("rmdir", path_));
  return {};
}

Result<std::vector<std::string>> ListIds(const std::string& root) {
  std::vector<std::string> ids;
  DIR* d = opendir(root.c_str());
  if (!d) {
    if (errno == ENOENT) return ids;
    return Fail(SysError("opendir", root));
  }
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || !ValidateId(name)) continue;
    if (e->d_type == DT_DIR) ids.push_back(name);
  }
  closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// Fields after the command name (which may contain spaces and parentheses).
static std::vector<std::string> StatFields(pid_t pid) {
  auto text = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return {};
  size_t close = text->rfind(')');
  if (close == std::string::npos) return {};
  auto fields = Split(std::string_view(*text).substr(close + 2), ' ');
  return fields;
}

uint64_t ProcessStartTime(pid_t pid) {
  auto f = StatFields(pid);
  // starttime is field 22; fields[0] here is field 3 (state).
  if (f.size() < 20) return 0;
  return std::strtoull(f[19].c_str(), nullptr, 10);
}

bool ProcessAlive(pid_t pid, uint64_t start) {
  if (pid <= 0) return false;
  auto f = StatFields(pid);
  if (f.size() < 20) return false;
  if (f[0] == "Z" || f[0] == "X") return false;
  return start == 0 || std::strtoull(f[19].c_str(), nullptr, 10) == start;
}


}  // namespace sworn::state

