// unveil → Landlock: parsing, the per-ABI mapping (no kernel needed), and
// real enforcement in a forked child (Landlock works unprivileged).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "security/elf_deps.h"
#include "security/landlock.h"

using namespace sworn;
using namespace sworn::security;
using namespace sworn::security::landlock;
namespace fs = std::filesystem;

namespace {

struct TmpTree {
  std::string base;
  TmpTree() {
    char tmpl[] = "/tmp/sworn-landlock-XXXXXX";
    base = mkdtemp(tmpl);
    for (const char* d : {"ro", "rw", "c", "hidden"}) fs::create_directory(base + "/" + d);
    for (const char* f : {"ro/file", "rw/file", "c/old", "hidden/file", "wfile"}) std::ofstream(base + "/" + f) << "data\n";
    fs::copy_file("/bin/true", base + "/ro/true");
  }
  ~TmpTree() { fs::remove_all(base); }
};

UnveilRule Rule(const std::string& spec) {
  auto r = ParseUnveil(spec, "test");
  REQUIRE(r);
  return *r;
}

bool HasWarning(const LandlockPlan& p, std::string_view needle) {
  for (const auto& w : p.warnings)
    if (w.find(needle) != std::string::npos) return true;
  return false;
}

const LandlockPlan::PathRule* Find(const LandlockPlan& p, const std::string& path) {
  for (const auto& r : p.paths)
    if (r.path == path) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("ParseUnveil accepts PERM:PATH and reports bad specs", "[unit][landlock]") {
  CHECK(Rule("rwc:/data") == UnveilRule{"/data", true, true, false, true});
  CHECK(Rule("x:/bin/true") == UnveilRule{"/bin/true", false, false, true, false});
  CHECK(Rule(":/etc/shadow").hidden());
  CHECK(Rule("/etc").r);  // pledge.com: no PERM means r
  CHECK(Rule("r://usr//lib/").path == "/usr/lib");
  CHECK(Rule("r:/a:b").path == "/a:b");

  auto bad_letter = ParseUnveil("rz:/etc", "sworn.unveil[2]");
  REQUIRE_FALSE(bad_letter);
  CHECK(bad_letter.error().code == Errc::kInvalidArgument);
  CHECK(bad_letter.error().Message().find("sworn.unveil[2]") != std::string::npos);
  CHECK(bad_letter.error().Message().find("\"rz:/etc\"") != std::string::npos);
  CHECK(bad_letter.error().Message().find("'z'") != std::string::npos);

  auto relative = ParseUnveil("r:etc", "f");
  REQUIRE_FALSE(relative);
  CHECK(relative.error().Message().find("absolute") != std::string::npos);
  CHECK_FALSE(ParseUnveil("", "f"));
  CHECK_FALSE(ParseUnveil("rw:", "f"));
}

TEST_CASE("ParseTcpRule", "[unit][landlock]") {
  CHECK(*ParseTcpRule("bind:8080", "f") == TcpRule{true, 8080});
  CHECK(*ParseTcpRule("connect:5432", "f") == TcpRule{false, 5432});
  for (const char* bad : {"listen:80", "bind:", "bind:65536", "bind:-1", "bind:8o", "8080"}) {
    auto r = ParseTcpRule(bad, "sworn.tcp[0]");
    INFO(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().Message().find("sworn.tcp[0]") != std::string::npos);
  }
}

TEST_CASE("Landlock mapping follows the ABI", "[unit][landlock]") {
  TmpTree t;
  LandlockPolicy policy;
  policy.rules = {Rule("r:" + t.base + "/ro"), Rule("rw:" + t.base + "/rw/file"), Rule("rwc:" + t.base + "/c"),
                  Rule("rxc:" + t.base + "/ro/true")};
  policy.tcp = std::vector<TcpRule>{{true, 8080}};

  SECTION("ABI 7 handles everything") {
    auto plan = PrepareLandlock(policy, 7, kHostRoot);
    REQUIRE(plan);
    CHECK(plan->handled_fs == FsRightsForAbi(7));
    CHECK((plan->handled_fs & (kFsRefer | kFsTruncate | kFsIoctlDev)) == (kFsRefer | kFsTruncate | kFsIoctlDev));
    CHECK(plan->handled_net == (kNetBindTcp | kNetConnectTcp));
    CHECK(plan->scoped == (kScopeAbstractUnixSocket | kScopeSignal));
    REQUIRE(plan->ports.size() == 1);
    CHECK(plan->ports[0].access == kNetBindTcp);
    CHECK(plan->ports[0].port == 8080);
    CHECK_FALSE(HasWarning(*plan, "lacks"));
    CHECK(Find(*plan, t.base + "/ro")->access == (kFsReadFile | kFsReadDir));
    // w on a file: TRUNCATE and IOCTL_DEV allowed, so O_TRUNC works (cosmo's bug).
    CHECK(Find(*plan, t.base + "/rw/file")->access == (kFsReadFile | kFsWriteFile | kFsTruncate | kFsIoctlDev));
    CHECK(Find(*plan, t.base + "/c")->access == (kFsReadFile | kFsReadDir | kFsWriteFile | kFsTruncate | kFsIoctlDev |
                                                 kFsMake | kFsRemoveFile | kFsRemoveDir | kFsRefer));
    // c on a file is masked (dir-only rights give EINVAL) and reported.
    CHECK(Find(*plan, t.base + "/ro/true")->access == (kFsReadFile | kFsExecute));
    CHECK(HasWarning(*plan, "c has no effect on a file"));
  }
  SECTION("ABI 2 drops truncate, ioctl_dev, net and scopes with warnings") {
    auto plan = PrepareLandlock(policy, 2, kHostRoot);
    REQUIRE(plan);
    CHECK(plan->handled_fs == FsRightsForAbi(2));
    CHECK((plan->handled_fs & kFsRefer) != 0);
    CHECK((plan->handled_fs & (kFsTruncate | kFsIoctlDev)) == 0);
    CHECK(plan->handled_net == 0);
    CHECK(plan->ports.empty());
    CHECK(plan->scoped == 0);
    CHECK(Find(*plan, t.base + "/rw/file")->access == (kFsReadFile | kFsWriteFile));
    CHECK(HasWarning(*plan, "TRUNCATE (ABI 3)"));
    CHECK(HasWarning(*plan, "TCP rules (ABI 4)"));
    CHECK(HasWarning(*plan, "IOCTL_DEV (ABI 5)"));
    CHECK(HasWarning(*plan, "scopes (ABI 6)"));
    CHECK_FALSE(HasWarning(*plan, "REFER"));
  }
  SECTION("ABI 1 has no REFER") {
    auto plan = PrepareLandlock(policy, 1, kHostRoot);
    REQUIRE(plan);
    CHECK((plan->handled_fs & kFsRefer) == 0);
    CHECK((Find(*plan, t.base + "/c")->access & kFsRefer) == 0);
    CHECK(HasWarning(*plan, "REFER (ABI 2)"));
  }
  SECTION("hard compat fails naming what the kernel lacks") {
    policy.compat = Compat::kHard;
    auto plan = PrepareLandlock(policy, 2, kHostRoot);
    REQUIRE_FALSE(plan);
    CHECK(plan.error().code == Errc::kUnsupported);
    for (const char* what : {"TRUNCATE", "TCP", "scopes"}) CHECK(plan.error().Message().find(what) != std::string::npos);
    CHECK(PrepareLandlock(policy, 7, kHostRoot));
    auto none = PrepareLandlock(policy, 0, kHostRoot);
    REQUIRE_FALSE(none);
    CHECK(none.error().code == Errc::kUnsupported);
  }
  SECTION("best effort without Landlock is a warning") {
    auto plan = PrepareLandlock(policy, 0, kHostRoot);
    REQUIRE(plan);
    CHECK(plan->abi == 0);
    CHECK(HasWarning(*plan, "unavailable"));
    CHECK(ApplyLandlock(*plan));
  }
  SECTION("no tcp list leaves TCP unhandled; scope can be turned off") {
    policy.tcp.reset();
    policy.scope = false;
    auto plan = PrepareLandlock(policy, 7, kHostRoot);
    REQUIRE(plan);
    CHECK(plan->handled_net == 0);
    CHECK(plan->scoped == 0);
  }
}

TEST_CASE("Landlock: missing paths, roots and narrowed rules", "[unit][landlock]") {
  TmpTree t;
  LandlockPolicy policy;
  policy.rules = {Rule("r:" + t.base + "/nope")};
  auto missing = PrepareLandlock(policy, 7, kHostRoot);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::kNotFound);
  CHECK(missing.error().Message().find(t.base + "/nope") != std::string::npos);

  // Resolved inside a root: "/ro" is <tmp>/ro, and an absolute symlink
  // cannot leave the root.
  fs::create_symlink("/etc", t.base + "/escape");
  UniqueFd root(open(t.base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  policy.rules = {Rule("r:/ro"), Rule("r:/escape/hostname")};
  auto in_root = PrepareLandlock(policy, 7, root.get());
  REQUIRE_FALSE(in_root);
  CHECK(in_root.error().Message().find("/escape/hostname") != std::string::npos);
  policy.rules.pop_back();
  CHECK(PrepareLandlock(policy, 7, root.get()));

  // The most specific rule wins: "rwc:BASE" above "r:BASE/c" and
  // "r:BASE/ro" becomes rwc on BASE's other entries, while BASE itself keeps
  // only r (Landlock rights on a directory reach everything beneath it).
  policy.rules = {Rule("rwc:" + t.base), Rule("r:" + t.base + "/c"), Rule("r:" + t.base + "/ro"),
                  Rule("rx:" + t.base + "/ro/true")};
  policy.rules.back().automatic = true;  // automatic rules narrow nothing
  auto plan = PrepareLandlock(policy, 7, kHostRoot);
  REQUIRE(plan);
  REQUIRE(Find(*plan, t.base));
  CHECK(Find(*plan, t.base)->access == (kFsReadFile | kFsReadDir));
  for (const char* e : {"/rw", "/hidden"}) {
    REQUIRE(Find(*plan, t.base + e));
    CHECK((Find(*plan, t.base + e)->access & (kFsWriteFile | kFsMakeReg | kFsRemoveFile)) ==
          (kFsWriteFile | kFsMakeReg | kFsRemoveFile));
  }
  REQUIRE(Find(*plan, t.base + "/wfile"));
  CHECK(Find(*plan, t.base + "/wfile")->access == (kFsReadFile | kFsWriteFile | kFsTruncate | kFsIoctlDev));
  CHECK(Find(*plan, t.base + "/c")->access == kFsReadFile + kFsReadDir);
  CHECK(Find(*plan, t.base + "/ro/true")->access == (kFsReadFile | kFsExecute));
  CHECK(HasWarning(*plan, "\"rwc:" + t.base + "\" is narrowed by \"r:" + t.base + "/c\" and 1 more: " + t.base +
                              " itself keeps \"r\""));
  CHECK(plan->warnings.size() == 1);

  // A narrower rule behind a symlink cannot be expressed: both rules named.
  fs::create_symlink(t.base + "/rw", t.base + "/link");
  policy.rules = {Rule("rwc:" + t.base), Rule(":" + t.base + "/link/file")};
  auto through_link = PrepareLandlock(policy, 7, kHostRoot);
  REQUIRE_FALSE(through_link);
  CHECK(through_link.error().Message().find("\":" + t.base + "/link/file\" cannot narrow \"rwc:" + t.base + "\"") !=
        std::string::npos);
  CHECK(through_link.error().Message().find(t.base + "/link is not a directory") != std::string::npos);
}

namespace {

std::string Outcome(int rc) { return rc >= 0 ? "ok" : strerrorname_np(errno); }

std::string Open(const std::string& path, int flags) {
  int fd = open(path.c_str(), flags | O_CLOEXEC, 0644);
  std::string r = Outcome(fd);
  if (fd >= 0) close(fd);
  return r;
}

// "ok" when the program ran and exited 0, else execv's errno name.
std::string Exec(const std::string& path) {
  pid_t pid = fork();
  if (pid == 0) {
    execl(path.c_str(), path.c_str(), nullptr);
    _exit(errno);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) return "signal";
  return WEXITSTATUS(status) == 0 ? "ok" : strerrorname_np(WEXITSTATUS(status));
}

std::string Tcp(bool bind_it, uint16_t port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  auto* sa = reinterpret_cast<sockaddr*>(&a);
  std::string r = Outcome(bind_it ? bind(s, sa, sizeof(a)) : connect(s, sa, sizeof(a)));
  close(s);
  return r;
}

// Runs `body` in a forked child after ApplyLandlock; returns what it wrote.
std::string RunSandboxed(const LandlockPlan& plan, const std::function<std::string()>& body) {
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    auto applied = ApplyLandlock(plan);
    std::string out = applied ? body() : "apply failed: " + applied.error().Message();
    (void)!write(p[1], out.data(), out.size());
    _exit(0);
  }
  close(p[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(p[0], buf, sizeof(buf))) > 0;) out.append(buf, static_cast<size_t>(n));
  close(p[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status));
  return out;
}

// Each access the enforcement test checks, as "name=ok" or "name=ERRNO".
std::string ProbeAccess(const std::string& b) {
    std::ostringstream o;
    o << "read ro=" << Open(b + "/ro/file", O_RDONLY) << "\n";
    o << "list ro=" << Open(b + "/ro", O_RDONLY | O_DIRECTORY) << "\n";
    o << "write ro=" << Open(b + "/ro/file", O_WRONLY) << "\n";
    o << "trunc rw=" << Open(b + "/rw/file", O_WRONLY | O_TRUNC) << "\n";
    o << "trunc wfile=" << Open(b + "/wfile", O_WRONLY | O_TRUNC) << "\n";
    o << "read wfile=" << Open(b + "/wfile", O_RDONLY) << "\n";
    o << "create rw=" << Open(b + "/rw/new", O_WRONLY | O_CREAT) << "\n";
    o << "unlink rw=" << Outcome(unlink((b + "/rw/file").c_str())) << "\n";
    o << "create c=" << Open(b + "/c/new", O_WRONLY | O_CREAT) << "\n";
    o << "rename c=" << Outcome(rename((b + "/c/new").c_str(), (b + "/c/renamed").c_str())) << "\n";
    o << "unlink c=" << Outcome(unlink((b + "/c/renamed").c_str())) << "\n";
    o << "mkdir c=" << Outcome(mkdir((b + "/c/d").c_str(), 0755)) << "\n";
    o << "rmdir c=" << Outcome(rmdir((b + "/c/d").c_str())) << "\n";
    o << "exec x=" << Exec("/bin/true") << "\n";
    o << "exec r=" << Exec(b + "/ro/true") << "\n";
    o << "read outside=" << Open("/etc/hostname", O_RDONLY) << "\n";
    o << "read hidden=" << Open(b + "/hidden/file", O_RDONLY) << "\n";
    o << "list root=" << Open("/", O_RDONLY | O_DIRECTORY) << "\n";
    o << "connect denied=" << Tcp(false, 2) << "\n";
    o << "bind denied=" << Tcp(true, 0) << "\n";
    o << "signal parent=" << Outcome(kill(getppid(), 0)) << "\n";
  return o.str();
}

}  // namespace

TEST_CASE("Landlock enforces unveil rules in a child", "[unit][landlock]") {
  int abi = LandlockAbi();
  if (abi == 0) {
    WARN("skipped: Landlock is unavailable on this kernel (LandlockAbi() == 0)");
    return;
  }
  TmpTree t;
  const std::string& b = t.base;
  LandlockPolicy policy;
  policy.rules = {Rule("r:" + b + "/ro"), Rule("rw:" + b + "/rw"), Rule("rwc:" + b + "/c"), Rule("w:" + b + "/wfile")};
  UniqueFd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  auto deps = ElfDepsDetailed(root.get(), "/bin/true");
  REQUIRE(deps);
  for (const auto& d : *deps) policy.rules.push_back(Rule((d.exec ? "rx:" : "r:") + d.path));
  policy.tcp = std::vector<TcpRule>{{false, 1}};
  auto plan = PrepareLandlock(policy, abi, root.get());
  REQUIRE(plan);
  for (const auto& w : plan->warnings) UNSCOPED_INFO("warning: " << w);

  std::string report = RunSandboxed(*plan, [&] { return ProbeAccess(b); });
  INFO(report);
  auto expect = [&](const std::string& line) { CHECK(report.find(line + "\n") != std::string::npos); };
  expect("read ro=ok");
  expect("list ro=ok");
  expect("write ro=EACCES");
  expect("create rw=EACCES");
  expect("unlink rw=EACCES");
  expect("create c=ok");
  expect("rename c=ok");
  expect("unlink c=ok");
  expect("mkdir c=ok");
  expect("rmdir c=ok");
  expect("exec x=ok");
  expect("exec r=EACCES");
  expect("read outside=EACCES");
  expect("read hidden=EACCES");
  expect("list root=EACCES");
  expect("read wfile=EACCES");
  if (abi >= 3) expect("trunc rw=ok");
  if (abi >= 3) expect("trunc wfile=ok");  // cosmo masks TRUNCATE off file rules: EACCES
  if (abi >= 4) expect("connect denied=EACCES");
  if (abi >= 4) expect("bind denied=EACCES");
  if (abi >= 6) expect("signal parent=EPERM");
  CHECK(fs::exists(b + "/rw/file"));
}

TEST_CASE("Landlock plans for an older ABI apply on a newer kernel", "[unit][landlock]") {
  int abi = LandlockAbi();
  if (abi < 2) {
    WARN("skipped: needs Landlock ABI >= 2, this kernel has " << abi);
    return;
  }
  TmpTree t;
  LandlockPolicy policy;
  policy.rules = {Rule("r:" + t.base + "/ro"), Rule("rwc:" + t.base + "/c")};
  policy.tcp = std::vector<TcpRule>{};
  auto plan = PrepareLandlock(policy, 2, kHostRoot);
  REQUIRE(plan);
  std::string report = RunSandboxed(*plan, [&] {
    return "write ro=" + Open(t.base + "/ro/file", O_WRONLY) + "\n" +
           "trunc ro=" + Open(t.base + "/ro/file", O_RDONLY | O_TRUNC) + "\n" +  // TRUNCATE not handled
           "connect=" + Tcp(false, 2) + "\n";  // net not handled on ABI 2
  });
  INFO(report);
  CHECK(report.find("write ro=EACCES\n") != std::string::npos);
  CHECK(report.find("trunc ro=ok\n") != std::string::npos);
  CHECK(report.find("connect=EACCES\n") == std::string::npos);
}

TEST_CASE("unveil: the most specific rule wins, as on OpenBSD", "[unit][landlock]") {
  if (LandlockAbi() == 0) {
    WARN("skipped: Landlock is unavailable on this kernel (LandlockAbi() == 0)");
    return;
  }
  TmpTree t;
  const std::string& b = t.base;
  fs::create_directories(b + "/ro/deep/er");
  std::ofstream(b + "/ro/deep/er/f") << "data\n";
  fs::create_symlink(b + "/hidden/file", b + "/rw/alias");  // a sibling symlink to the hidden file
  LandlockPolicy policy;
  // README's example, and a narrower rule that keeps some rights deep down.
  policy.rules = {Rule("rwc:" + b), Rule(":" + b + "/hidden"), Rule("r:" + b + "/ro/deep")};
  auto plan = PrepareLandlock(policy, LandlockAbi(), kHostRoot);
  REQUIRE(plan);
  for (const auto& w : plan->warnings) UNSCOPED_INFO("warning: " << w);
  std::string report = RunSandboxed(*plan, [&] {
    std::ostringstream o;
    o << "read hidden=" << Open(b + "/hidden/file", O_RDONLY) << "\n";
    o << "read alias=" << Open(b + "/rw/alias", O_RDONLY) << "\n";
    o << "create hidden=" << Open(b + "/hidden/new", O_WRONLY | O_CREAT) << "\n";
    o << "list hidden=" << Open(b + "/hidden", O_RDONLY | O_DIRECTORY) << "\n";
    o << "read rw=" << Open(b + "/rw/file", O_RDONLY) << "\n";
    o << "write rw=" << Open(b + "/rw/file", O_WRONLY) << "\n";
    o << "create rw=" << Open(b + "/rw/new", O_WRONLY | O_CREAT) << "\n";
    o << "write wfile=" << Open(b + "/wfile", O_WRONLY) << "\n";
    o << "read deep=" << Open(b + "/ro/deep/er/f", O_RDONLY) << "\n";
    o << "write deep=" << Open(b + "/ro/deep/er/f", O_WRONLY) << "\n";
    o << "write ro=" << Open(b + "/ro/file", O_WRONLY) << "\n";
    o << "list base=" << Open(b, O_RDONLY | O_DIRECTORY) << "\n";
    return o.str();
  });
  INFO(report);
  auto expect = [&](const std::string& line) { CHECK(report.find(line + "\n") != std::string::npos); };
  expect("read hidden=EACCES");
  expect("read alias=EACCES");
  expect("create hidden=EACCES");
  expect("list hidden=EACCES");
  expect("read rw=ok");
  expect("write rw=ok");
  expect("create rw=ok");
  expect("write wfile=ok");
  expect("read deep=ok");
  expect("write deep=EACCES");  // r:/ro/deep wins over rwc:BASE
  expect("write ro=ok");        // ro/ is a sibling on the way: rwc
  expect("list base=EACCES");   // BASE itself keeps nothing: the documented cost
}
