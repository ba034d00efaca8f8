#include "security/unveil_reporter.h"

#include <linux/netlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "core/sys.h"
#include "security/landlock.h"

namespace sworn::security {
namespace {

// include/uapi/linux/audit.h; Debian 12's headers lack the Landlock ones.
constexpr int kNetlinkAudit = 9;
constexpr int kAuditGet = 1000;
constexpr int kAuditSyscall = 1300;
constexpr int kAuditEoe = 1320;
constexpr int kAuditLandlockAccess = 1423;
constexpr int kAuditLandlockDomain = 1424;
constexpr unsigned kAuditNlgrpReadlog = 1;

struct AuditStatus {  // the first fields of struct audit_status
  uint32_t mask, enabled, failure, pid, rate_limit, backlog_limit, lost, backlog;
};

// AUDIT_GET over a unicast socket: is auditing on at all?
bool AuditEnabled() {
  UniqueFd s(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, kNetlinkAudit));
  if (!s) return false;
  nlmsghdr req{NLMSG_LENGTH(0), kAuditGet, NLM_F_REQUEST, 1, 0};
  if (send(s.get(), &req, req.nlmsg_len, 0) < 0) return false;
  timeval tv{1, 0};
  setsockopt(s.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  alignas(nlmsghdr) char buf[1024];
  for (int i = 0; i < 4; ++i) {
    ssize_t n = recv(s.get(), buf, sizeof(buf), 0);
    if (n < static_cast<ssize_t>(NLMSG_LENGTH(sizeof(AuditStatus)))) {
      if (n < 0) return false;
      continue;  // the ack
    }
    auto* h = reinterpret_cast<nlmsghdr*>(buf);
    if (h->nlmsg_type != kAuditGet) continue;
    AuditStatus st;
    std::memcpy(&st, NLMSG_DATA(h), sizeof(st));
    return st.enabled != 0;
  }
  return false;
}

// key=value from an audit record; a value audit found untrusted (spaces,
// quotes, non-ASCII) is hex-encoded instead of quoted.
std::string Field(const std::string& text, const std::string& key) {
  size_t at = 0;
  std::string k = key + "=";
  while ((at = text.find(k, at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == ' ') break;
    at += k.size();
  }
  if (at == std::string::npos) return "";
  at += k.size();
  if (at < text.size() && text[at] == '"') {
    size_t end = text.find('"', at + 1);
    return text.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
  }
  std::string v = text.substr(at, text.find(' ', at) - at);
  if (key != "path" && key != "comm") return v;
  if (v.size() % 2 || v.find_first_not_of("0123456789ABCDEF") != std::string::npos) return v;
  std::string out;
  for (size_t i = 0; i < v.size(); i += 2) out += static_cast<char>(std::strtol(v.substr(i, 2).c_str(), nullptr, 16));
  return out;
}

}  // namespace

UnveilAudit UnveilAudit::Open() {
  UnveilAudit a;
  if (LandlockAbi() < 7) {
    a.why_ = "Landlock ABI " + std::to_string(LandlockAbi()) + " has no audit log (needs ABI 7, Linux 6.15)";
    return a;
  }
  if (!AuditEnabled()) {
    a.why_ = "the audit subsystem is disabled (audit=0; enable with auditctl -e 1)";
    return a;
  }
  a.fd_.reset(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, kNetlinkAudit));
  sockaddr_nl sa{};
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = 1u << (kAuditNlgrpReadlog - 1);
  if (!a.fd_ || bind(a.fd_.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) {
    a.why_ = std::string("cannot read the audit log (NETLINK_AUDIT readlog: ") + strerror(errno) + ")";
    a.fd_.reset();
  }
  return a;
}

void UnveilAudit::Finish(std::vector<UnveilDenial>& out) {
  if (cur_ && !cur_->blockers.empty() && mine_.contains(cur_->domain)) out.push_back(*cur_);
  cur_.reset();
}

void UnveilAudit::Record(int type, const std::string& text, pid_t owner, std::vector<UnveilDenial>& out) {
  // "audit(1796440845.438:78): …": records of one event share the serial.
  size_t colon = text.find(':'), close = text.find("):");
  std::string serial = colon < close ? text.substr(colon + 1, close - colon - 1) : "";
  if (serial != serial_) Finish(out);
  serial_ = serial;
  if (type == kAuditLandlockAccess) {
    cur_ = UnveilDenial{Field(text, "domain"), Field(text, "blockers"), Field(text, "path"), "", 0};
  } else if (type == kAuditLandlockDomain) {
    if (Field(text, "status") == "allocated" && std::atoi(Field(text, "pid").c_str()) == owner && mine_.size() < 256)
      mine_.insert(Field(text, "domain"));
  } else if (type == kAuditSyscall && cur_) {
    cur_->pid = static_cast<pid_t>(std::atoi(Field(text, "pid").c_str()));
    cur_->comm = Field(text, "comm");
  } else if (type == kAuditEoe) {
    Finish(out);
  }
}

std::vector<UnveilDenial> UnveilAudit::Read(pid_t owner) {
  std::vector<UnveilDenial> out;
  alignas(nlmsghdr) char buf[16384];
  for (ssize_t n; fd_ && (n = recv(fd_.get(), buf, sizeof(buf), 0)) != 0;) {
    if (n < 0) {
      if (errno == ENOBUFS) continue;  // the kernel dropped some: read on
      break;
    }
    int len = static_cast<int>(n);  // signed: NLMSG_NEXT may take it below 0
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, len); h = NLMSG_NEXT(h, len)) {
      std::string text(static_cast<const char*>(NLMSG_DATA(h)), h->nlmsg_len - NLMSG_HDRLEN);
      Record(h->nlmsg_type, text.substr(0, text.find('\0')), owner, out);
    }
  }
  return out;
}

UnveilFix ExplainUnveil(const std::string& blockers, const std::string& path) {
  // Blockers naming the directory itself (path is the parent of what was
  // made or removed, or the listed directory); the rest name a file.
  static const struct {
    const char* blocker;
    const char* access;
    char perm;
    bool dir;
  } kMap[] = {
      {"fs.execute", "execute", 'x', false},          {"fs.write_file", "write", 'w', false},
      {"fs.read_file", "read", 'r', false},           {"fs.truncate", "truncate", 'w', false},
      {"fs.ioctl_dev", "ioctl", 'w', false},          {"fs.read_dir", "list", 'r', true},
      {"fs.remove_dir", "remove a directory in", 'c', true}, {"fs.remove_file", "remove a file in", 'c', true},
      {"fs.make_char", "create a device in", 'c', true},     {"fs.make_dir", "create a directory in", 'c', true},
      {"fs.make_reg", "create a file in", 'c', true},        {"fs.make_sock", "create a socket in", 'c', true},
      {"fs.make_fifo", "create a fifo in", 'c', true},       {"fs.make_block", "create a device in", 'c', true},
      {"fs.make_sym", "create a symlink in", 'c', true},     {"fs.refer", "link or rename across", 'c', true},
  };
  UnveilFix f;
  std::string perms;
  bool dir = false;
  for (const auto& b : Split(blockers, ',')) {
    bool known = false;
    for (const auto& m : kMap)
      if (b == m.blocker) {
        f.access += (f.access.empty() ? "" : "+") + std::string(m.access);
        if (perms.find(m.perm) == std::string::npos) perms += m.perm;
        dir = dir || m.dir;
        known = true;
      }
    if (!known) f.access += (f.access.empty() ? "" : "+") + b;
  }
  std::string where = path;
  if (!dir) {
    size_t slash = path.rfind('/');
    where = slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
  }
  f.rule = perms.empty() ? "no unveil rule (" + blockers + ")" : perms + ":" + where;
  return f;
}

}  // namespace sworn::security
