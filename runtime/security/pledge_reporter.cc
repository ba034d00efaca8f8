#include "security/pledge_reporter.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_input.h"
#include "core/sys.h"
#include "core/log.h"
#include "security/dmz.h"
#include "security/pledge_explain.h"
#include "security/pledge_learn.h"
#include "security/unveil_reporter.h"

namespace sworn::security {
namespace {

using Clock = std::chrono::steady_clock;

// The listener and the pid of the process that sent it (sworn-dmz, which
// becomes the entrypoint), from SCM_RIGHTS and SCM_CREDENTIALS.
struct Handover {
  UniqueFd listener;
  pid_t pid = 0;
};

std::optional<Handover> RecvListener(int sock) {
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(ucred))];
  msghdr h{};
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  h.msg_control = cbuf;
  h.msg_controllen = sizeof(cbuf);
  ssize_t r;
  do r = recvmsg(sock, &h, MSG_CMSG_CLOEXEC);
  while (r < 0 && errno == EINTR);
  if (r <= 0) return std::nullopt;  // every sender is gone: the program never started
  Handover out;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof(fd));
      out.listener.reset(fd);
    } else if (c->cmsg_type == SCM_CREDENTIALS) {
      ucred cr;
      std::memcpy(&cr, CMSG_DATA(c), sizeof(cr));
      out.pid = cr.pid;
    }
  }
  if (!out.listener) return std::nullopt;
  return out;
}

// "Name:\tvalue" from /proc/PID/status; for NSpid/NStgid the innermost value.
std::string StatusField(pid_t pid, const char* name) {
  auto text = ReadFile("/proc/" + std::to_string(pid) + "/status");
  if (!text) return "";
  std::string key = std::string(name) + ":";
  for (const auto& line : Split(*text, '\n'))
    if (StartsWith(line, key)) {
      auto fields = Split(Trim(line.substr(key.size())), '\t');
      return fields.empty() ? "" : Trim(fields.back());
    }
  return "";
}

class Reporter {
 public:
  Reporter(const ReporterOptions& o, Handover h, UniqueFd record)
      : o_(o), h_(std::move(h)), record_(std::move(record)) {
    entry_ns_pid_ = static_cast<pid_t>(std::atoi(StatusField(h_.pid, "NStgid").c_str()));
  }
  void Serve();
  void Learn(const seccomp_notif& req, const uint64_t args[6]);
  void WriteLearned();
  void Unveiled(const UnveilDenial& d);
  // kill: recorded even past the cap (up to twice it), as `run` reads it.
  // print: also on stderr (when text).
  void Emit(const std::string& line, const nlohmann::json& rec, bool kill, bool print = true);

 private:
  void Handle(const seccomp_notif& req);
  void Answer(uint64_t id, int error, int64_t val = 0, uint32_t flags = 0);
  bool Valid(uint64_t id) { return ioctl(h_.listener.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0; }
  std::optional<std::string> ReadString(pid_t tid, uint64_t id, uint64_t addr);
  // Returns the signal sent.
  int KillGroup(pid_t tid, pid_t ns_tgid);
  int NextTimeoutMs();

  ReporterOptions o_;
  Handover h_;
  UniqueFd record_;
  size_t recorded_ = 0;
  bool startup_done_ = false;
  pid_t entry_ns_pid_ = 0;
  std::map<std::string, uint64_t> seen_;  // distinct lines, bounded
  struct Pending {
    UniqueFd pidfd;
    Clock::time_point deadline;
  };
  std::vector<Pending> kills_;
  PolicyLearner learner_;

 public:
  UnveilAudit audit_;
};

void Reporter::Unveiled(const UnveilDenial& d) {
  // Audit gives host pids, and the process may be gone by now (kauditd
  // delivers after the call returned): the entrypoint's is known.
  pid_t ns_pid = d.pid == h_.pid ? entry_ns_pid_ : static_cast<pid_t>(std::atoi(StatusField(d.pid, "NSpid").c_str()));
  UnveilFix fix = ExplainUnveil(d.blockers, d.path);
  nlohmann::json path = d.path;
  std::string line = "unveil: denied " + fix.access + " " + path.dump() + " in " + d.comm + "[" +
                     std::to_string(ns_pid ? ns_pid : d.pid) + "]: needs " + fix.rule;
  nlohmann::json rec = {{"type", "unveil"},   {"time", NowRfc3339()},          {"pid", ns_pid ? ns_pid : d.pid},
                        {"comm", d.comm},     {"syscall", ""},                 {"call", fix.access + " " + path.dump()},
                        {"needs", {fix.rule}}, {"reason", d.blockers},
                        {"penalty", "eperm"}, {"path", d.path},                {"message", line}};
  Emit(line, rec, false);
}

void Reporter::Learn(const seccomp_notif& req, const uint64_t args[6]) {
  pid_t tid = static_cast<pid_t>(req.pid);
  auto read = [&](uint64_t addr) { return ReadString(tid, req.id, addr); };
  auto resolve = [&](int64_t dirfd, const std::string& path) {
    std::string base = "/proc/" + std::to_string(tid) + (dirfd == -100 ? "/cwd" : "/fd/" + std::to_string(dirfd));
    char buf[4096];
    ssize_t n = readlink(base.c_str(), buf, sizeof(buf) - 1);
    return (n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("/?")) + "/" + path;
  };
  // Seen from the caller's root, before the call runs.
  auto exists = [&](const std::string& abs) {
    struct stat st;
    return stat(("/proc/" + std::to_string(tid) + "/root" + abs).c_str(), &st) == 0;
  };
  learner_.Record(req.data.nr, args, entry_ns_pid_, PathUses(req.data.nr, args, read, resolve, exists));
  Answer(req.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}

void Reporter::WriteLearned() {
  LearnedPolicy p = learner_.Propose({});
  if (o_.text) {
    std::string t = FormatLearned(p, o_.program);
    (void)!write(2, t.data(), t.size());
  }
  if (!o_.learned_path.empty()) (void)WriteFileAtomic(o_.learned_path, LearnedJson(p).dump(2) + "\n");
  // Also in the record, whose fd outlives a `run` that deletes the directory.
  nlohmann::json rec = LearnedJson(p);
  rec["type"] = "learned";
  rec["message"] = "pledge learn: " + rec["annotations"].dump();
  Emit(rec["message"], rec, true, false);  // on stderr already, above
}

void Reporter::Answer(uint64_t id, int error, int64_t val, uint32_t flags) {
  seccomp_notif_resp resp{};
  resp.id = id;
  resp.error = error;
  resp.val = val;
  resp.flags = flags;
  // ENOENT: the caller died or was interrupted meanwhile; nothing to answer.
  (void)ioctl(h_.listener.get(), SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

std::optional<std::string> Reporter::ReadString(pid_t tid, uint64_t id, uint64_t addr) {
  UniqueFd mem(open(("/proc/" + std::to_string(tid) + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
  // The pid may have been reused between the notification and the open.
  if (!mem || !Valid(id)) return std::nullopt;
  std::string out;
  char buf[256];
  while (out.size() < 4096) {
    size_t chunk = sizeof(buf) - (addr + out.size()) % sizeof(buf);  // never across a page
    ssize_t n = pread(mem.get(), buf, chunk, static_cast<off_t>(addr + out.size()));
    if (n <= 0) return std::nullopt;
    size_t len = strnlen(buf, static_cast<size_t>(n));
    out.append(buf, len);
    if (len < static_cast<size_t>(n)) break;
  }
  if (!Valid(id)) return std::nullopt;
  return out;
}

void Reporter::Emit(const std::string& line, const nlohmann::json& rec, bool kill, bool print) {
  if (!kill && seen_.size() >= 4096 && !seen_.contains(line)) return;  // a flood of distinct calls: stop remembering
  if (seen_[line]++ > 0 && !kill) return;                                // printed and recorded once
  if (o_.text && print) {
    std::string l = line + "\n";
    (void)!write(2, l.data(), l.size());
  }
  if (log::FileFd() >= 0) log::Warn(line);
  if (!record_) return;
  std::string j = rec.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (recorded_ + j.size() > (kill ? 2 : 1) * kRecordMaxBytes) return;
  if (write(record_.get(), j.data(), j.size()) > 0) recorded_ += j.size();
}

int Reporter::KillGroup(pid_t tid, pid_t ns_tgid) {
  pid_t tgid = static_cast<pid_t>(std::atoi(StatusField(tid, "Tgid").c_str()));
  if (tgid <= 0) tgid = tid;
  auto fd = PidfdOpen(tgid);
  if (!fd) return 0;
  // The init of a pid namespace ignores every signal but SIGKILL from
  // outside it (only the kernel's own SIGSYS would kill it): SIGKILL, which
  // `run` reports as SIGSYS from the record (KilledInitStatus).
  if (ns_tgid == 1) return PidfdSendSignal(fd->get(), SIGKILL), SIGKILL;
  (void)PidfdSendSignal(fd->get(), SIGSYS);
  kills_.push_back({std::move(*fd), Clock::now() + std::chrono::milliseconds(200)});
  return SIGSYS;
}

void Reporter::Handle(const seccomp_notif& req) {
  int nr = req.data.nr;
  uint64_t args[6];
  for (int i = 0; i < 6; ++i) args[i] = req.data.args[i];
  pid_t tid = static_cast<pid_t>(req.pid);
  if (nr == __NR_seccomp && static_cast<uint32_t>(args[0]) == kStartupDoneOp) {
    if (tid == h_.pid) startup_done_ = true;
    return Answer(req.id, 0, kStartupDoneAck);
  }
  if (o_.startup_grant && !startup_done_ && tid == h_.pid &&
      (PromiseAllows("rpath", nr, args, 0) || PromiseAllows("prot_exec", nr, args, 0)))
    return Answer(req.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
  if (o_.learn) return Learn(req, args);
  pid_t ns_pid = static_cast<pid_t>(std::atoi(StatusField(tid, "NSpid").c_str()));
  pid_t ns_tgid = static_cast<pid_t>(std::atoi(StatusField(tid, "NStgid").c_str()));
  auto comm = ReadFile("/proc/" + std::to_string(tid) + "/comm");
  std::string name = comm ? Trim(*comm) : "?";
  (void)ns_tgid;
  // kill/tgkill "self" is the pid sworn-dmz patched in: the entrypoint's.
  Explanation e = ExplainSyscall(nr, args, entry_ns_pid_);
  StringReader read = [&](uint64_t addr) { return ReadString(tid, req.id, addr); };
  std::string line = FormatDenial(nr, args, read, name, ns_pid ? ns_pid : tid, e);
  nlohmann::json rec = {{"type", "pledge"},       {"time", NowRfc3339()},         {"pid", ns_pid ? ns_pid : tid},
                        {"comm", name},           {"syscall", SyscallName(nr)},   {"call", DescribeCall(nr, args, read)},
                        {"needs", e.promises},    {"reason", e.reason},
                        {"penalty", o_.penalty == Penalty::kKill ? "kill" : "eperm"}, {"message", line}};
  // Under kill the report is out before the signal: the process dies on its
  // way back from this call, as with SECCOMP_RET_KILL_PROCESS.
  if (o_.penalty == Penalty::kKill) {
    rec["killed"] = true;
    rec["pid1"] = ns_tgid == 1;
    Emit(line, rec, true);
    KillGroup(tid, ns_tgid);
  } else {
    Emit(line, rec, false);
  }
  Answer(req.id, -EPERM);
}

int Reporter::NextTimeoutMs() {
  if (kills_.empty()) return -1;
  auto now = Clock::now();
  for (auto it = kills_.begin(); it != kills_.end();) {
    if (it->deadline <= now) {
      (void)PidfdSendSignal(it->pidfd.get(), SIGKILL);  // a SIGSYS handler kept it alive
      it = kills_.erase(it);
    } else ++it;
  }
  return kills_.empty() ? -1 : 50;
}

void Reporter::Serve() {
  for (;;) {
    pollfd ps[2] = {{h_.listener.get(), POLLIN, 0}, {audit_.fd(), POLLIN, 0}};
    pollfd& p = ps[0];
    int n = poll(ps, audit_.fd() >= 0 ? 2 : 1, NextTimeoutMs());
    if (n < 0 && errno != EINTR) return;
    if (n <= 0) continue;
    if (ps[1].revents & POLLIN)
      for (const auto& d : audit_.Read(h_.pid)) Unveiled(d);
    if (p.revents & POLLIN) {
      seccomp_notif req{};
      if (ioctl(h_.listener.get(), SECCOMP_IOCTL_NOTIF_RECV, &req) == 0) Handle(req);
      continue;
    }
    if (p.revents & (POLLHUP | POLLERR)) break;  // no process uses the filter any more
  }
  for (int t; (t = NextTimeoutMs()) >= 0;) poll(nullptr, 0, t);
  // The last denials' records may still be on their way from the kernel's
  // audit thread (kauditd) after the process is gone.
  if (audit_.fd() >= 0) {
    pollfd p{audit_.fd(), POLLIN, 0};
    while (poll(&p, 1, 250) > 0)
      for (const auto& d : audit_.Read(h_.pid)) Unveiled(d);
  }
  if (o_.learn) WriteLearned();
}

[[noreturn]] void ReporterMain(const ReporterOptions& o, int sock, UniqueFd record, UnveilAudit audit) {
  UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  dup2(null.get(), 0);
  dup2(null.get(), 1);
  if (!o.text) dup2(null.get(), 2);
  // The --log file stays: reports go there too, in its format (json or text).
  CloseFdsExcept(3, {sock, record.get(), audit.fd(), log::FileFd()});
  signal(SIGPIPE, SIG_IGN);
  auto h = RecvListener(sock);
  close(sock);
  if (!h) _exit(0);
  if (o.learn && o.text) {
    static const char warn[] = "sworn: LEARN MODE: every system call is allowed and recorded; this is NOT a sandbox\n";
    (void)!write(2, warn, sizeof(warn) - 1);
  }
  Reporter r(o, std::move(*h), std::move(record));
  r.audit_ = std::move(audit);
  if (o.unveil && !o.learn && !r.audit_.unavailable().empty()) {
    std::string l = "sworn: unveil denials cannot be reported here: " + r.audit_.unavailable();
    r.Emit(l, {{"type", "notice"}, {"time", NowRfc3339()}, {"message", l}}, false);
  }
  r.Serve();
  _exit(0);
}

}  // namespace

std::vector<nlohmann::json> ReadNewRecords(const std::string& path, size_t* offset) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return {};
  return ReadNewRecordsFd(fd.get(), path, offset);
}

std::vector<nlohmann::json> ReadNewRecordsFd(int fd, const std::string& path, size_t* offset) {
  std::vector<nlohmann::json> out;
  std::string data;
  char buf[8192];
  for (ssize_t n; data.size() < 2 * kRecordMaxBytes &&
                  (n = pread(fd, buf, sizeof(buf), static_cast<off_t>(*offset + data.size()))) > 0;)
    data.append(buf, static_cast<size_t>(n));
  size_t start = 0;
  for (size_t nl; (nl = data.find('\n', start)) != std::string::npos; start = nl + 1)
    if (auto j = ParseJsonInput(std::string_view(data).substr(start, nl - start), path); j && j->is_object())
      out.push_back(std::move(*j));
  *offset += start;
  return out;
}

int KilledInitStatus(const std::string& state_dir, int status) {
  if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) return status;
  auto text = ReadFile(state_dir + "/" + kPledgeRecordFile);
  if (!text || text->find("\"pid1\":true") == std::string::npos) return status;
  return SIGSYS;  // a wait status: killed by SIGSYS
}

Result<UniqueFd> StartReporter(const ReporterOptions& o) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return Fail(SysError("socketpair", "pledge reporter"));
  UniqueFd mine(sv[0]), theirs(sv[1]), record;
  // Made now, so that it exists from create on: delete removes it with the
  // state directory, and a reporter outliving that writes to nothing.
  if (!o.record_path.empty()) {
    record.reset(open(o.record_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!record) return Fail(SysError("open", o.record_path));
  }
  // Before sworn-dmz can send: the kernel attaches the sender's credentials
  // (its pid: the entrypoint's) only if this is set when it sends.
  int on = 1;
  if (setsockopt(mine.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0)
    return Fail(SysError("setsockopt SO_PASSCRED", "pledge reporter"));
  // Subscribed before the program can start, so that no denial is missed.
  UnveilAudit audit = o.unveil && !o.learn ? UnveilAudit::Open() : UnveilAudit{};
  pid_t child = fork();
  if (child < 0) return Fail(SysError("fork", "pledge reporter"));
  if (child == 0) {
    // Detached: a session of its own (a ^C to `sworn run` must not take it
    // down) and reparented, so nobody waits for it.
    setsid();
    if (fork() != 0) _exit(0);
    theirs.reset();
    ReporterMain(o, mine.release(), std::move(record), std::move(audit));
  }
  int status;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return theirs;
}

}  // namespace sworn::security
