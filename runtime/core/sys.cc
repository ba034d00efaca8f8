#include "core/sys.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace sworn {

Result<pid_t> Clone3(Clone3Args& args) {
  long r = syscall(SYS_clone3, &args, sizeof(args));
  if (r < 0) return Fail(SysError("clone3"));
  return static_cast<pid_t>(r);
}

Result<UniqueFd> PidfdOpen(pid_t pid) {
  long r = syscall(SYS_pidfd_open, pid, 0);
  if (r < 0) return Fail(SysError("pidfd_open", std::to_string(pid)));
  return UniqueFd(static_cast<int>(r));
}

Result<void> PidfdSendSignal(int pidfd, int sig) {
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) < 0) return Fail(SysError("pidfd_send_signal"));
  return {};
}

int RawOpenat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct open_how how = {};
  how.flags = flags;
  how.mode = mode;
  how.resolve = resolve;
  int r;
  do {
    r = static_cast<int>(syscall(SYS_openat2, dirfd, path, &how, sizeof(how)));
  } while (r < 0 && (errno == EINTR || errno == EAGAIN));
  return r;
}

Result<UniqueFd> OpenInRoot(int rootfd, std::string_view path, uint64_t flags, uint64_t mode) {
  std::string p(path);
  int fd = RawOpenat2(rootfd, p.c_str(), flags | O_CLOEXEC, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  if (fd < 0) return Fail(SysError("openat2", p));
  return UniqueFd(fd);
}

int RawPivotRoot(const char* new_root, const char* put_old) {
  return static_cast<int>(syscall(SYS_pivot_root, new_root, put_old));
}

int RawCloseRange(unsigned first, unsigned last, unsigned flags) {
  return static_cast<int>(syscall(SYS_close_range, first, last, flags));
}

int RawMountSetattr(int dirfd, const char* path, unsigned flags, uint64_t attr_set, uint64_t attr_clr,
                    uint64_t propagation) {
  struct {
    uint64_t attr_set, attr_clr, propagation, userns_fd;
  } attr = {attr_set, attr_clr, propagation, 0};
  return static_cast<int>(syscall(SYS_mount_setattr, dirfd, path, flags, &attr, sizeof(attr)));
}

void CloseFdsExcept(int first, std::vector<int> keep) {
  std::sort(keep.begin(), keep.end());
  unsigned from = static_cast<unsigned>(first);
  for (int k : keep) {
    if (k < first) continue;
    if (static_cast<unsigned>(k) > from) RawCloseRange(from, static_cast<unsigned>(k) - 1, 0);
    from = static_cast<unsigned>(k) + 1;
  }
  RawCloseRange(from, ~0U, 0);
}

std::string FdPath(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

static Result<std::string> ReadAll(int fd, const std::string& path) {
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(SysError("read", path));
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> ReadFile(const std::string& path) { return ReadFileAt(AT_FDCWD, path); }

Result<std::string> ReadFileAt(int dirfd, const std::string& path) {
  UniqueFd fd(openat(dirfd, path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Fail(SysError("open", path));
  return ReadAll(fd.get(), path);
}

std::optional<uint64_t> SelfStatusMask(std::string_view key) {
  static const std::string status = ReadFile("/proc/self/status").value_or("");
  size_t at = status.find("\n" + std::string(key) + ":\t");
  if (at == std::string::npos) return std::nullopt;
  return std::strtoull(status.c_str() + at + key.size() + 3, nullptr, 16);
}

std::string HostUserName(uid_t uid) {
  auto text = ReadFile("/etc/passwd");
  if (!text) return "";
  for (const auto& line : Split(*text, '\n')) {
    auto f = Split(line, ':');  // name:password:uid:...
    if (f.size() > 2 && !f[0].empty() && f[2] == std::to_string(uid)) return f[0];
  }
  return "";
}

static Result<void> WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(SysError("write", path));
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<void> WriteFile(const std::string& path, std::string_view data, int flags, mode_t mode) {
  int f = flags ? flags : (O_WRONLY | O_CREAT | O_TRUNC);
  UniqueFd fd(open(path.c_str(), f | O_CLOEXEC, mode));
  if (!fd) return Fail(SysError("open", path));
  return WriteAll(fd.get(), data, path);
}

Result<void> WriteFileAt(int dirfd, const std::string& path, std::string_view data) {
  UniqueFd fd(openat(dirfd, path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Fail(SysError("open", path));
  return WriteAll(fd.get(), data, path);
}

Result<void> WriteFileAtomic(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  SWORN_TRY(WriteFile(tmp, data, O_WRONLY | O_CREAT | O_TRUNC, 0600));
  if (rename(tmp.c_str(), path.c_str()) < 0) return Fail(SysError("rename", path));
  return {};
}

Result<void> MkdirAll(const std::string& path, mode_t mode) {
  std::string cur;
  for (const auto& part : Split(path, '/')) {
    if (part.empty()) continue;
    cur += "/" + part;
    if (mkdir(cur.c_str(), mode) < 0 && errno != EEXIST) return Fail(SysError("mkdir", cur));
  }
  return {};
}

std::vector<std::string_view> SplitView(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

std::vector<std::string> Split(std::string_view s, char sep) {
  auto views = SplitView(s, sep);
  return {views.begin(), views.end()};
}

bool StartsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\n\r");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\n\r");
  return std::string(s.substr(b, e - b + 1));
}

Result<UniqueFd> SealedMemfd(const char* name, const void* data, size_t size) {
  UniqueFd fd(memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return Fail(SysError("memfd_create", name));
  for (size_t off = 0; off < size;) {
    ssize_t n = write(fd.get(), static_cast<const char*>(data) + off, size - off);
    if (n <= 0) return Fail(SysError("write", name));
    off += static_cast<size_t>(n);
  }
  if (fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    return Fail(SysError("fcntl F_ADD_SEALS", name));
  // Readers of the inherited description (the repledge preload) start here.
  if (lseek(fd.get(), 0, SEEK_SET) < 0) return Fail(SysError("lseek", name));
  return fd;
}

std::string Rfc3339(int64_t secs_since_epoch, long nsec) {
  // Not gmtime_r/strftime: glibc's first conversion runs tzset, which reads
  // /etc/localtime, for a UTC stamp. Days to civil date: H. Hinnant's
  // algorithm (proleptic Gregorian, era of 400 years).
  int64_t days = secs_since_epoch / 86400, rem = secs_since_epoch % 86400;
  if (rem < 0) rem += 86400, --days;
  days += 719468;
  int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  int64_t doe = days - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153, day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
  int64_t year = yoe + era * 400 + (month <= 2);
  char buf[96];
  snprintf(buf, sizeof(buf), "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%09ldZ", static_cast<long long>(year),
           static_cast<long long>(month), static_cast<long long>(day), static_cast<long long>(rem / 3600),
           static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60), nsec);
  return buf;
}

std::string NowRfc3339() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return Rfc3339(ts.tv_sec, ts.tv_nsec);
}

}  // namespace sworn
