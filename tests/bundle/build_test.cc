// BuildBundle: the OCI config built for a Nomad task.
#include <grp.h>
#include <pwd.h>

#include "bundle/internal.h"
#include "core/sys.h"
#include "fixture.h"

using namespace bundle_test;

TEST_CASE("image mode: a plain task gets no pledge, no unveil, no network namespace", "[bundle][build]") {
  AllocFixture f;
  f.t.memory_mb = 64;
  f.t.cpuset_cpus = "0-1";
  f.t.cpu_shares = 1;
  auto b = Build(f.t, Command("sleep", {"10"}));
  const json& j = b.config;
  CHECK(j["process"]["args"] == json{"sleep", "10"});
  // A private pid namespace gets sworn-init as PID 1 (issue #10 item 5).
  CHECK(j["annotations"] == json{{"nomad.task.id", f.t.id},
                                 {"nomad.alloc.id", kAllocId},
                                 {"nomad.task.name", "web"},
                                 {"sworn.init", "true"}});
  CHECK(NsTypes(j) == std::vector<std::string>{"pid", "ipc", "mount", "cgroup"});
  CHECK_FALSE(j.contains("hostname"));
  CHECK(j["linux"]["resources"]["memory"] == json{{"limit", 64 * 1048576}});
  CHECK(j["linux"]["resources"]["cpu"] == json{{"cpus", "0-1"}});  // shares < 2 are left out
  CHECK(j["linux"]["cgroupsPath"] == "/nomad.slice/" + b.container_id);
  CHECK_FALSE(b.reuse_cgroup);
  CHECK(b.resolv_conf.empty());
  CHECK(b.hosts.empty());
  CHECK(MountAt(j, "/etc/resolv.conf").is_null());
  CHECK_FALSE(j["linux"].contains("devices"));
  CHECK(j["linux"]["resources"]["devices"] == json::array({{{"allow", false}, {"access", "rwm"}}}));
}

TEST_CASE("image mode: Nomad's directories go where the env says", "[bundle][build]") {
  AllocFixture f;
  f.t.env["NOMAD_TASK_DIR"] = "/task/local";
  f.t.env.erase("NOMAD_SECRETS_DIR");
  auto b = Build(f.t, Command("x"));
  CHECK(MountAt(b.config, "/task/local")["source"] == f.task_dir + "/local");
  CHECK(MountAt(b.config, "/local").is_null());
  CHECK(MountAt(b.config, "/secrets")["source"] == f.task_dir + "/secrets");
}

TEST_CASE("image mode: a missing Nomad directory is an error naming it", "[bundle][build]") {
  AllocFixture f;
  fs::remove(f.task_dir + "/secrets");
  std::string e = BuildError(f.t, Command("x"));
  CHECK_THAT(e, Catch::StartsWith("NOMAD_SECRETS_DIR: stat " + f.task_dir + "/secrets"));
}

TEST_CASE("image mode: a custom chroot_env replaces the default", "[bundle][build]") {
  AllocFixture f;
  bundle::PluginConfig p;
  p.chroot_env = {{"/usr", "/usr"}, {"/usr/local", "/opt/local"}, {"/nonexistent-sworn-test", "/x"}};
  auto b = Build(f.t, Command("x"), p);
  CHECK_FALSE(MountAt(b.config, "/usr").is_null());
  CHECK(MountAt(b.config, "/opt/local")["source"] == "/usr/local");
  CHECK(MountAt(b.config, "/x").is_null());
  CHECK(MountAt(b.config, "/etc").is_null());
}

TEST_CASE("commands and work_dir", "[bundle][build]") {
  AllocFixture f;
  auto args0 = [&](const bundle::TaskDriverConfig& c) { return Build(f.t, c).config["process"]["args"][0]; };
  CHECK(args0(Command("consumer")) == "consumer");
  CHECK(args0(Command("local/consumer")) == "/local/consumer");
  CHECK(args0(Command("/usr/bin/env")) == "/usr/bin/env");
  auto c = Command("x");
  c.work_dir = "local";
  CHECK(Build(f.t, c).config["process"]["cwd"] == "/local");
  c.work_dir = "/alloc/data";
  CHECK(Build(f.t, c).config["process"]["cwd"] == "/alloc/data");
  c.filesystem = "host";
  c.command = "local/consumer";
  auto host = Build(f.t, c).config["process"];
  CHECK(host["args"][0] == f.task_dir + "/local/consumer");
  CHECK(host["cwd"] == f.alloc_dir + "/alloc/data");
  c.work_dir = "";
  c.command = "/local/bin/app";
  host = Build(f.t, c).config["process"];
  CHECK(host["args"][0] == f.task_dir + "/local/bin/app");
  CHECK(host["cwd"] == f.task_dir);
}

TEST_CASE("host mode: the host's root, host paths for Nomad's directories", "[bundle][build]") {
  AllocFixture f;
  fs::create_directories(f.root + "/vol");
  fs::create_directories(f.task_dir + "/local/conf");
  f.t.mounts = {{"data/vol", f.root + "/vol", false, ""}};
  f.t.dns_servers = {"10.0.0.2"};
  auto c = Command("app");
  c.filesystem = "host";
  c.unveil = {"r:/local/conf", "rw:/alloc/data", "r:/secrets", "r:/etc/passwd"};
  auto b = Build(f.t, c);
  const json& j = b.config;
  CHECK(j["root"] == json{{"path", "/"}, {"readonly", false}});
  CHECK(j["mounts"][0] == json{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}});
  CHECK(MountAt(j, "/usr").is_null());
  CHECK(MountAt(j, "/local").is_null());
  CHECK(MountAt(j, f.task_dir + "/data/vol")["options"] == json{"rbind", "rw", "rprivate"});
  CHECK(MountAt(j, "/etc/resolv.conf")["source"] == b.dir + "/resolv.conf");
  // The host's alloc/logs is bound read-only over itself.
  json logs = MountAt(j, f.alloc_dir + "/alloc/logs");
  CHECK(logs["source"] == f.alloc_dir + "/alloc/logs");
  CHECK(HasOption(logs, "rro"));
  json env = j["process"]["env"];
  auto has = [&](const std::string& kv) { return std::find(env.begin(), env.end(), kv) != env.end(); };
  CHECK(has("NOMAD_ALLOC_DIR=" + f.alloc_dir + "/alloc"));
  CHECK(has("NOMAD_TASK_DIR=" + f.task_dir + "/local"));
  CHECK(has("NOMAD_SECRETS_DIR=" + f.task_dir + "/secrets"));
  CHECK(json::parse(j["annotations"]["sworn.unveil"].get<std::string>()) ==
        json{"r:" + f.task_dir + "/local/conf", "rw:" + f.alloc_dir + "/alloc/data", "r:" + f.task_dir + "/secrets",
             "r:/etc/passwd"});
  CHECK(j["process"]["cwd"] == f.task_dir);
  CHECK(NsTypes(j) == std::vector<std::string>{"pid", "ipc", "mount", "cgroup"});
}

TEST_CASE("host mode: only paths under Nomad's directories are rewritten", "[bundle][build]") {
  AllocFixture f;
  auto c = Command("app");
  c.filesystem = "host";
  c.unveil = {"r:/localx"};
  // /localx is not /local/...: left alone, and then missing on the host.
  CHECK_THAT(BuildError(f.t, c), Catch::StartsWith("unveil[0]: /localx: stat /localx"));
}

TEST_CASE("unveil paths are checked against the mounts", "[bundle][build]") {
  AllocFixture f;
  auto c = Command("x");
  SECTION("missing under a bind") {
    c.unveil = {"r:/local", "r:/local/missing.txt"};
    CHECK_THAT(BuildError(f.t, c),
               Catch::StartsWith("unveil[1]: /local/missing.txt: stat " + f.task_dir + "/local/missing.txt"));
  }
  SECTION("outside every bind of an image root") {
    c.unveil = {"r:/opt/app"};
    CHECK(BuildError(f.t, c) == "unveil[0]: /opt/app is not visible in the task's filesystem");
  }
  SECTION("the root, mount point parents and kernel filesystems are fine") {
    c.unveil = {"r:/", "r:/sys/fs", "r:/proc/self", "r:/dev/null", "r:/etc/hosts"};
    f.t.hostname = "h";
    CHECK(bundle::BuildBundle(f.t, c, {}));
  }
  SECTION("a path that exists under its bind") {
    std::ofstream(f.task_dir + "/local/app.conf") << "x";
    c.unveil = {"r:/local/app.conf", "rx:/usr/bin"};
    CHECK(bundle::BuildBundle(f.t, c, {}));
  }
}

TEST_CASE("users", "[bundle][build]") {
  AllocFixture f;
  auto user = [&](const std::string& u) {
    f.t.user = u;
    return Build(f.t, Command("x")).config["process"];
  };
  // No user: nobody, as Nomad's exec driver; the plugin may make it root.
  CHECK(user("")["user"]["uid"] == 65534);
  bundle::PluginConfig root;
  root.default_user = "root";
  f.t.user = "";
  CHECK(Build(f.t, Command("x"), root).config["process"]["user"] == json{{"uid", 0}, {"gid", 0}});
  root.default_user = "no-such-user-sworn";
  CHECK(BuildError(f.t, Command("x"), root) == "default_user: unknown user \"no-such-user-sworn\"");
  CHECK(user("54321")["user"] == json{{"uid", 54321}, {"gid", 54321}});
  CHECK(user("54321:99")["user"] == json{{"uid", 54321}, {"gid", 99}});
  CHECK(user("0")["user"] == json{{"uid", 0}, {"gid", 0}});
  json nobody = user("nobody");
  CHECK(nobody["user"]["uid"] == 65534);
  CHECK(nobody["user"]["gid"] == 65534);
  // Not root: the task keeps its capabilities across execve.
  CHECK(nobody["capabilities"]["ambient"] == nobody["capabilities"]["effective"]);
  CHECK(nobody["capabilities"]["inheritable"] == nobody["capabilities"]["effective"]);
  CHECK_FALSE(user("root")["capabilities"].contains("ambient"));
  CHECK(user("nobody:root")["user"] == json{{"uid", 65534}, {"gid", 0}});
  f.t.user = "no-such-user-sworn";
  CHECK(BuildError(f.t, Command("x")) == "user: unknown user \"no-such-user-sworn\"");
  f.t.user = "nobody:no-such-group-sworn";
  CHECK(BuildError(f.t, Command("x")) == "user: unknown group \"no-such-group-sworn\"");
  f.t.user = "4294967295";
  CHECK_THAT(BuildError(f.t, Command("x")), Catch::StartsWith("user: unknown user"));
}

TEST_CASE("users: supplementary groups from the host's group file", "[bundle][build]") {
  AllocFixture f;
  // Any group with a member that is a real user will do.
  std::string member;
  gid_t gid = 0;
  setgrent();
  while (struct group* g = getgrent()) {
    for (char** m = g->gr_mem; m && *m && member.empty(); ++m) {
      struct passwd* pw = getpwnam(*m);
      if (pw && pw->pw_gid != g->gr_gid) member = *m, gid = g->gr_gid;
    }
  }
  endgrent();
  if (member.empty()) {
    WARN("no user with supplementary groups in /etc/group; skipped");
    return;
  }
  f.t.user = member;
  json groups = Build(f.t, Command("x")).config["process"]["user"]["additionalGids"];
  CHECK(std::find(groups.begin(), groups.end(), gid) != groups.end());
}

TEST_CASE("capabilities: allow_caps, cap_add, cap_drop", "[bundle][build]") {
  AllocFixture f;
  auto caps = [&](const bundle::TaskDriverConfig& c, const bundle::PluginConfig& p) {
    return Build(f.t, c, p).config["process"]["capabilities"]["effective"];
  };
  bundle::PluginConfig p;
  p.allow_caps = {"chown", "KILL", "CAP_SYS_ADMIN"};
  auto c = Command("x");
  CHECK(caps(c, p) == json{"CAP_CHOWN", "CAP_KILL"});  // defaults ∩ allow_caps
  c.cap_add = {"sys_admin"};
  CHECK(caps(c, p) == json{"CAP_CHOWN", "CAP_KILL", "CAP_SYS_ADMIN"});
  c.cap_drop = {"all"};
  CHECK(caps(c, p) == json{"CAP_SYS_ADMIN"});
  c.cap_add = {"kill", "net_admin"};
  CHECK(BuildError(f.t, c, p) == "cap_add[1]: CAP_NET_ADMIN is not in the plugin's allow_caps");
  p.allow_caps = {"all"};
  CHECK(caps(c, p) == json{"CAP_KILL", "CAP_NET_ADMIN"});
  c.cap_add.clear();
  c.cap_drop.clear();
  CHECK(caps(c, p).size() == bundle::DefaultCaps().size());
  p.allow_caps = {"nonsense"};
  CHECK(BuildError(f.t, c, p) == "allow_caps[0]: unknown capability \"nonsense\"");
}

TEST_CASE("pid and ipc modes", "[bundle][build]") {
  AllocFixture f;
  auto c = Command("x");
  bundle::PluginConfig p;
  c.pid_mode = "host";
  CHECK_THAT(BuildError(f.t, c, p),
             Catch::StartsWith("pid_mode: \"host\" is not allowed by the plugin (allow_host_pid"));
  p.allow_host_pid = true;
  CHECK(NsTypes(Build(f.t, c, p).config) == std::vector<std::string>{"ipc", "mount", "cgroup"});
  c.ipc_mode = "host";
  CHECK_THAT(BuildError(f.t, c, p), Catch::StartsWith("ipc_mode: \"host\" is not allowed"));
  p.allow_host_ipc = true;
  CHECK(NsTypes(Build(f.t, c, p).config) == std::vector<std::string>{"mount", "cgroup"});
  // The operator's default is not the task asking.
  bundle::PluginConfig q;
  q.default_pid_mode = "host";
  CHECK(NsTypes(Build(f.t, Command("x"), q).config) == std::vector<std::string>{"ipc", "mount", "cgroup"});
  auto priv = Command("x");
  priv.pid_mode = "private";
  CHECK(NsTypes(Build(f.t, priv, q).config)[0] == "pid");
}

TEST_CASE("importance maps to nice as the pledge driver does", "[bundle][build]") {
  AllocFixture f;
  auto c = Command("x");
  CHECK(Build(f.t, c).config["process"]["scheduler"]["nice"] == 0);  // unset: the host's default
  for (auto [imp, nice] : std::vector<std::pair<std::string, int>>{
           {"lowest", 19}, {"low", 10}, {"normal", -5}, {"high", -10}, {"highest", -20}}) {
    c.importance = imp;
    CHECK(Build(f.t, c).config["process"]["scheduler"]["nice"] == nice);
  }
}

TEST_CASE("cgroupsPath from Nomad's cpuset cgroup", "[bundle][build]") {
  using sworn::bundle::internal::CgroupsPathFor;
  CHECK(*CgroupsPathFor("/sys/fs/cgroup/nomad.slice/a.t.scope") == "/nomad.slice/a.t.scope");
  CHECK(*CgroupsPathFor("/sys/fs/cgroup/nomad.slice/share.slice/a.t.scope/") == "/nomad.slice/share.slice/a.t.scope");
  CHECK(*CgroupsPathFor("/sys/fs/cgroup/cpuset/nomad/x") == "/nomad/x");
  CHECK(*CgroupsPathFor("/sys/fs/cgroup/cpu,cpuacct/nomad/x") == "/nomad/x");
  CHECK(*CgroupsPathFor("/sys/fs/cgroup/unified/nomad/x") == "/nomad/x");
  CHECK(*CgroupsPathFor("nomad.slice/a.t.scope") == "/nomad.slice/a.t.scope");
  CHECK(*CgroupsPathFor("/nomad/x") == "/nomad/x");
  CHECK_FALSE(CgroupsPathFor("/sys/fs/cgroup"));
  CHECK_FALSE(CgroupsPathFor("/sys/fs/cgroup/cpuset"));
  CHECK_FALSE(CgroupsPathFor("/sys/fs/cgroup/../etc"));

  AllocFixture f;
  bundle::PluginConfig p;
  p.cgroup_parent = "custom.slice/";
  auto b = Build(f.t, Command("x"), p);
  CHECK(b.cgroups_path == "/custom.slice/" + b.container_id);
  p.cgroup_parent = "/";
  CHECK(Build(f.t, Command("x"), p).cgroups_path == "/" + b.container_id);
}

// Nomad 1.6 on cgroup v1 gives every task without reserved cores the same
// shared cpuset cgroup: each task must still get a cgroup of its own.
TEST_CASE("a v1 cpuset cgroup from Nomad gives only the cpus", "[bundle][build]") {
  AllocFixture f;
  bundle::PluginConfig p;
  p.cgroup_parent = "/nomad-test";
  f.t.cpuset_cgroup = "/sys/fs/cgroup/cpuset/sworn-no-such-dir/shared";
  f.t.cpuset_cpus = "";
  auto b = Build(f.t, Command("x"), p);
  CHECK(b.cgroups_path == "/nomad-test/" + b.container_id);
  CHECK_FALSE(b.reuse_cgroup);
  CHECK_FALSE(b.config["linux"]["resources"].contains("cpu"));
  // The copy of an existing pool's cpus: cgroup_test.cc (needs root).
}

TEST_CASE("errors naming mounts, devices and the request", "[bundle][build]") {
  AllocFixture f;
  auto c = Command("x");
  SECTION("missing volume") {
    f.t.mounts = {{"data", f.root + "/missing", false, ""}};
    CHECK_THAT(BuildError(f.t, c), Catch::StartsWith("mounts[0].host_path: stat " + f.root + "/missing"));
  }
  SECTION("relative volume") {
    f.t.mounts = {{"data", "vol", false, ""}};
    CHECK_THAT(BuildError(f.t, c), Catch::StartsWith("mounts[0].host_path: must be an absolute path"));
  }
  SECTION("volume at the task's root") {
    f.t.mounts = {{"/", f.root, false, ""}};
    CHECK_THAT(BuildError(f.t, c), Catch::StartsWith("mounts[0].task_path"));
  }
  SECTION("missing device") {
    f.t.devices = {{"/dev/gpu0", "/dev/no-such-device-sworn", ""}};
    CHECK_THAT(BuildError(f.t, c), Catch::StartsWith("devices[0].host_path: stat /dev/no-such-device-sworn"));
  }
  SECTION("not a device") {
    f.t.devices = {{"/dev/x", "/etc/passwd", ""}};
    CHECK_THAT(BuildError(f.t, c), Catch::StartsWith("devices[0].host_path: /etc/passwd is not a device"));
  }
  SECTION("bad cgroup permissions") {
    f.t.devices = {{"/dev/null", "/dev/null", "rwx"}};
    CHECK_THAT(BuildError(f.t, c), Catch::StartsWith("devices[0].cgroup_permissions"));
  }
  SECTION("a device node elsewhere in host mode") {
    c.filesystem = "host";
    f.t.devices = {{"/dev/gpu", "/dev/null", ""}};
    CHECK_THAT(BuildError(f.t, c), Catch::StartsWith("devices[0].task_path: must equal host_path"));
    f.t.devices = {{"/dev/null", "/dev/null", ""}};
    auto b = Build(f.t, c);
    CHECK_FALSE(b.config["linux"].contains("devices"));
    CHECK(b.config["linux"]["resources"]["devices"].size() == 2);
  }
  SECTION("request fields") {
    f.t.alloc_dir = "relative";
    CHECK_THAT(BuildError(f.t, c), Catch::StartsWith("alloc_dir: must be an absolute path"));
  }
  SECTION("an unparsed config is checked too") {
    c.command = "";
    CHECK(BuildError(f.t, c) == "command: required");
    c.command = "x";
    c.promises = "stdio nope";
    CHECK(BuildError(f.t, c) == "promises: unknown promise \"nope\"");
  }
}

TEST_CASE("sworn.init: on for a private pid namespace, off with init = false or pid_mode host", "[bundle][build]") {
  AllocFixture f;
  auto on = Build(f.t, Command("sleep", {"10"}));
  CHECK(on.config["annotations"]["sworn.init"] == "true");
  auto off_cfg = Command("sleep", {"10"});
  off_cfg.init = false;
  CHECK_FALSE(Build(f.t, off_cfg).config["annotations"].contains("sworn.init"));
  auto host_cfg = Command("sleep", {"10"});
  host_cfg.pid_mode = "host";
  bundle::PluginConfig p;
  p.allow_host_pid = true;
  auto host = bundle::BuildBundle(f.t, host_cfg, p);
  REQUIRE(host);
  CHECK_FALSE(host->config["annotations"].contains("sworn.init"));
  auto parsed = bundle::ParseTaskDriverConfig(json{{"command", "x"}, {"init", false}});
  REQUIRE(parsed);
  CHECK_FALSE(parsed->init);
  auto bad = bundle::ParseTaskDriverConfig(json{{"command", "x"}, {"init", "yes"}});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().Message().find("init") != std::string::npos);
}

TEST_CASE("learn = true: the sworn.pledge.learn annotation (issue #12 item 5)", "[bundle][build]") {
  AllocFixture f;
  auto parsed = bundle::ParseTaskDriverConfig(json{{"command", "/bin/sh"}, {"promises", "stdio"}, {"learn", true}});
  REQUIRE(parsed);
  CHECK(parsed->learn);
  auto on = Build(f.t, *parsed);
  CHECK(on.config["annotations"]["sworn.pledge.learn"] == "true");
  CHECK(on.config["annotations"]["sworn.pledge.promises"] == "stdio");  // kept; sworn ignores it while learning
  auto plain = bundle::ParseTaskDriverConfig(json{{"command", "/bin/sh"}, {"promises", "stdio"}});
  REQUIRE(plain);
  CHECK_FALSE(plain->learn);
  CHECK_FALSE(Build(f.t, *plain).config["annotations"].contains("sworn.pledge.learn"));
  auto off = bundle::ParseTaskDriverConfig(json{{"command", "/bin/sh"}, {"learn", false}});
  REQUIRE(off);
  CHECK_FALSE(Build(f.t, *off).config["annotations"].contains("sworn.pledge.learn"));
  auto bad = bundle::ParseTaskDriverConfig(json{{"command", "x"}, {"learn", "yes"}});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().Message().find("learn") != std::string::npos);
}
