// WriteBundle, and the written bundle checked by the runtime-spec JSON
// schema and by sworn itself.
#include <glob.h>
#include <sys/wait.h>

#include <cstdlib>

#include "fixture.h"

using namespace bundle_test;

namespace {

mode_t ModeOf(const std::string& path) {
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Runs a shell command; returns its exit status (-1 if it did not exit).
int Shell(const std::string& cmd) {
  int r = std::system(cmd.c_str());
  return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

// A bundle with most of what BuildBundle can produce, for the validators.
bundle::Bundle FullBundle(AllocFixture& f, bool host) {
  fs::create_directories(f.root + "/vol");
  f.t.user = "nobody";
  f.t.memory_mb = 64;
  f.t.memory_max_mb = 128;
  f.t.cpu_shares = 100;
  f.t.cpuset_cgroup = "/sys/fs/cgroup/cpuset/nomad/" + kAllocId + "-web";
  f.t.hostname = "web-1";
  f.t.host_address = "10.0.0.5";
  f.t.dns_servers = {"10.0.0.2"};
  f.t.mounts = {{"data/vol", f.root + "/vol", true, "host-to-task"}};
  f.t.devices = {{"/dev/null", "/dev/null", ""}};
  auto c = Command("/bin/sh", {"-c", "true"});
  c.promises = "stdio rpath";
  c.unveil = {"r:/local"};
  c.unveil_tcp = {"connect:443"};
  c.penalty = "eperm";
  c.filesystem = host ? "host" : "image";
  return Build(f.t, c);
}

constexpr const char* kValidator = R"(
import json, sys
from jsonschema import RefResolver, validators
schema_dir, config_path, annotation_schema = sys.argv[1:4]
config = json.load(open(config_path))
failed = False
def check(schema, instance, base):
    global failed
    cls = validators.validator_for(schema)
    v = cls(schema, resolver=RefResolver(base_uri=base, referrer=schema))
    for e in v.iter_errors(instance):
        failed = True
        print("/".join(str(p) for p in e.absolute_path), ":", e.message)
check(json.load(open(schema_dir + "/config-schema.json")), config, "file://" + schema_dir + "/")
check(json.load(open(annotation_schema)), config.get("annotations", {}), "file://" + annotation_schema)
sys.exit(1 if failed else 0)
)";

}  // namespace

TEST_CASE("WriteBundle writes config.json, rootfs and the generated files", "[bundle][write]") {
  AllocFixture f;
  f.t.dns_servers = {"1.1.1.1"};
  f.t.hostname = "h";
  auto b = Build(f.t, Command("x"));
  auto r = bundle::WriteBundle(b);
  INFO((r ? "" : r.error().Message()));
  REQUIRE(r);
  CHECK(ModeOf(b.dir) == 0700);
  CHECK(ModeOf(b.dir + "/rootfs") == 0755);
  CHECK(fs::is_empty(b.dir + "/rootfs"));
  CHECK(json::parse(ReadAll(b.dir + "/config.json")) == b.config);
  CHECK(ReadAll(b.dir + "/resolv.conf") == "nameserver 1.1.1.1\n");
  CHECK(ModeOf(b.dir + "/resolv.conf") == 0644);
  CHECK(ReadAll(b.dir + "/hosts") == "127.0.0.1 localhost\n::1 localhost\n127.0.1.1 h\n");
  CHECK(ModeOf(b.dir + "/hosts") == 0644);

  // Rewritten in place: no DNS this time, so no stale resolv.conf.
  f.t.dns_servers.clear();
  auto b2 = Build(f.t, Command("y"));
  REQUIRE(bundle::WriteBundle(b2));
  CHECK(json::parse(ReadAll(b.dir + "/config.json"))["process"]["args"][0] == "y");
  CHECK_FALSE(fs::exists(b.dir + "/resolv.conf"));
  CHECK(fs::exists(b.dir + "/hosts"));
  CHECK_FALSE(fs::exists(b.dir + "/config.json.tmp"));
}

TEST_CASE("WriteBundle refuses a relative directory", "[bundle][write]") {
  bundle::Bundle b;
  b.dir = "relative/sworn";
  CHECK_FALSE(bundle::WriteBundle(b));
}

TEST_CASE("the written config.json passes the runtime-spec JSON schema", "[bundle][write][schema]") {
  const std::string python = "/usr/bin/python3", schema_dir = OCI_SCHEMA_DIR;
  const std::string annotations = SWORN_SCHEMA_DIR "/sworn-annotations.schema.json";
  if (!fs::exists(python) || !fs::exists(schema_dir + "/config-schema.json")) {
    WARN("skipped: " + python + " or " + schema_dir + "/config-schema.json is missing");
    return;
  }
  AllocFixture f;
  std::string script = f.root + "/validate.py";
  std::ofstream(script) << kValidator;
  for (bool host : {false, true}) {
    auto b = FullBundle(f, host);
    REQUIRE(bundle::WriteBundle(b));
    std::string out = f.root + "/validate.out";
    int rc = Shell(python + " " + script + " " + schema_dir + " " + b.dir + "/config.json " + annotations + " >" + out +
                   " 2>&1");
    INFO("host mode: " << host << "\n" << ReadAll(out));
    CHECK(rc == 0);
  }
}

namespace {

// Runs the bundle with the sworn built beside these tests, then removes
// what a run leaves behind: the container (if sworn failed half-way), its
// state dir, and the test's own cgroup directories (rmdir only).
struct SwornRun {
  std::string root, id, cgroup_parent;
  SwornRun(const std::string& r, std::string container_id)
      : root(r + "/state"),
        id(std::move(container_id)),
        cgroup_parent("/sworn-bundle-test-" + std::to_string(getpid())) {}
  int Run(const std::string& bundle_dir, const std::string& out) {
    return Shell(std::string(SWORN_BIN) + " --root " + root + " run -b " + bundle_dir + " " + id + " </dev/null >" +
                 out + " 2>" + out + ".err");
  }
  ~SwornRun() {
    Shell(std::string(SWORN_BIN) + " --root " + root + " delete -f " + id + " >/dev/null 2>&1");
    for (const std::string& pattern : {"/sys/fs/cgroup/*" + cgroup_parent, "/sys/fs/cgroup" + cgroup_parent}) {
      glob_t g{};
      if (glob(pattern.c_str(), GLOB_ONLYDIR, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) RemoveCgroup(g.gl_pathv[i]);
      globfree(&g);
    }
  }
  struct Ran {
    int rc;
    std::string out, err;
  };
  // Builds and writes the task's bundle under this run's cgroup parent, runs
  // it, and reads back what it printed.
  Ran Task(const AllocFixture& f, const bundle::TaskDriverConfig& c) {
    bundle::PluginConfig p;
    p.cgroup_parent = cgroup_parent;
    auto b = Build(f.t, c, p);
    REQUIRE(bundle::WriteBundle(b));
    std::string out = f.root + "/out";
    int rc = Run(b.dir, out);
    return {rc, ReadAll(out), ReadAll(out + ".err")};
  }
  static void RemoveCgroup(const std::string& dir) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_directory()) RemoveCgroup(e.path());
    rmdir(dir.c_str());
  }
};

}  // namespace

TEST_CASE("sworn runs the bundle of an image-mode task", "[bundle][sworn][root]") {
  if (geteuid() != 0) {
    WARN("skipped: needs root");
    return;
  }
  AllocFixture f;
  std::ofstream(f.task_dir + "/local/hello.txt") << "hello from local\n";
  // chroot_env binds are read-only, Nomad's directories writable.
  auto c = Command("/bin/sh", {"-c",
                               "cat /local/hello.txt && echo \"$NOMAD_TASK_NAME\" > /alloc/data/out && "
                               "{ [ -w /usr/bin ] && echo usr-writable; [ -w /local ] || echo local-readonly; echo ok; }"});
  SwornRun run(f.root, bundle::ContainerId(f.t.id));
  auto r = run.Task(f, c);
  INFO("stderr: " << r.err);
  CHECK(r.rc == 0);
  CHECK(r.out == "hello from local\nok\n");
  CHECK(ReadAll(f.alloc_dir + "/alloc/data/out") == "web\n");
}

TEST_CASE("sworn runs a pledged, unveiled task", "[bundle][sworn][root]") {
  if (geteuid() != 0) {
    WARN("skipped: needs root");
    return;
  }
  AllocFixture f;
  std::ofstream(f.task_dir + "/local/hello.txt") << "unveiled\n";
  auto c = Command("/bin/busybox", {"cat", "/local/hello.txt"});
  c.promises = "stdio rpath";
  c.unveil = {"r:/local"};
  SwornRun run(f.root, bundle::ContainerId(f.t.id));
  auto r = run.Task(f, c);
  INFO("stderr: " << r.err);
  CHECK(r.rc == 0);
  CHECK(r.out == "unveiled\n");

  // The same task may not read outside its unveil.
  c.args = {"cat", "/etc/passwd"};
  auto denied = run.Task(f, c);
  INFO("stderr: " << denied.err);
  CHECK(denied.rc != 0);
  CHECK(denied.out.empty());
  CHECK_THAT(denied.err, Catch::Contains("/etc/passwd") && Catch::Contains("Permission denied"));
}

// A host-mode task sees the host's files (its own bundle, by host path) but
// has a pid namespace of its own, where sworn-init is pid 1 and the task 2.
TEST_CASE("sworn runs the bundle of a host-mode task", "[bundle][sworn][root][host-run]") {
  if (geteuid() != 0) {
    WARN("skipped: needs root");
    return;
  }
  AllocFixture f;
  auto c = Command("/bin/sh", {"-c", "test -d \"$NOMAD_TASK_DIR\" && test -f " + f.task_dir +
                                         "/sworn/config.json && test $$ = 2 && test $PPID = 1 && echo ok"});
  c.filesystem = "host";
  SwornRun run(f.root, bundle::ContainerId(f.t.id));
  auto r = run.Task(f, c);
  INFO("stderr: " << r.err);
  CHECK(r.rc == 0);
  CHECK(r.out == "ok\n");
}
