// BuildBundle for an image-mode task that uses every TaskRequest field:
// one fixture, one test case per part of the config.
#include "fixture.h"

using namespace bundle_test;

namespace {

struct FullImageTask {
  AllocFixture f;
  bundle::Bundle b;
  json j;

  FullImageTask() {
    fs::create_directories(f.root + "/vol");
    f.t.env["B_VAR"] = "b";
    f.t.env["A_VAR"] = "a";
    f.t.user = "root";
    f.t.cpu_shares = 500;
    f.t.memory_mb = 128;
    f.t.memory_max_mb = 256;
    f.t.cpuset_cpus = "1";
    f.t.cpuset_cgroup = "/sys/fs/cgroup/nomad.slice/" + kAllocId + ".web.scope";
    f.t.netns_path = "/var/run/netns/" + kAllocId;
    f.t.hostname = "web-1";
    f.t.host_address = "10.0.0.5";
    f.t.dns_servers = {"10.0.0.2", "10.0.0.3"};
    f.t.dns_searches = {"svc.local"};
    f.t.dns_options = {"ndots:2"};
    f.t.mounts = {{"data/vol", f.root + "/vol", true, "host-to-task"},
                  {"/shared", f.root + "/vol", false, "bidirectional"}};
    f.t.devices = {{"/dev/mydev", "/dev/null", "rw"}};
    auto c = Command("/bin/sh", {"-c", "echo hi"});
    c.promises = "stdio rpath";
    c.penalty = "kill";
    c.importance = "normal";
    c.unveil = {"r:/etc/passwd", "rw:/local", "rwc:/alloc/data/", "r:/data/vol", ":/usr/bin"};
    c.unveil_tcp = {"bind:8080"};
    c.cap_add = {"net_raw"};
    c.cap_drop = {"KILL"};
    bundle::PluginConfig p;
    p.allow_caps.push_back("CAP_NET_RAW");
    b = Build(f.t, c, p);
    j = b.config;
  }

  size_t Index(const std::string& dest) const {
    for (size_t i = 0; i < j["mounts"].size(); ++i)
      if (j["mounts"][i]["destination"] == dest) return i;
    FAIL("no mount at " << dest);
    return 0;
  }
};

}  // namespace

TEST_CASE_METHOD(FullImageTask, "full image task: bundle, root, hostname", "[bundle][build]") {
  CHECK(b.dir == f.task_dir + "/sworn");
  CHECK(b.container_id == kAllocId + ".web.0123abcd");
  CHECK(j["ociVersion"] == "1.2.0");
  CHECK(j["root"] == json{{"path", "rootfs"}, {"readonly", true}});
  CHECK(j["hostname"] == "web-1");
}

TEST_CASE_METHOD(FullImageTask, "full image task: process", "[bundle][build]") {
  const json& proc = j["process"];
  CHECK(proc["args"] == json{"/bin/sh", "-c", "echo hi"});
  CHECK(proc["env"] == json{"A_VAR=a", "B_VAR=b", "NOMAD_ALLOC_DIR=/alloc", "NOMAD_SECRETS_DIR=/secrets",
                            "NOMAD_TASK_DIR=/local", "NOMAD_TASK_NAME=web",
                            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"});
  CHECK(proc["cwd"] == "/");
  CHECK(proc["user"] == json{{"uid", 0}, {"gid", 0}});
  CHECK(proc["noNewPrivileges"] == true);
  CHECK_FALSE(proc.contains("rlimits"));
  CHECK_FALSE(proc.contains("oomScoreAdj"));
  CHECK(proc["scheduler"] == json{{"policy", "SCHED_OTHER"}, {"nice", -5}});
  json caps = {"CAP_AUDIT_WRITE",      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID",  "CAP_MKNOD",
               "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SETFCAP",      "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
               "CAP_SYS_CHROOT"};
  CHECK(proc["capabilities"] == json{{"bounding", caps}, {"effective", caps}, {"permitted", caps}});
}

TEST_CASE_METHOD(FullImageTask, "full image task: sworn's default mounts, then chroot_env", "[bundle][build]") {
  std::vector<std::string> first;
  for (size_t i = 0; i < 7; ++i) first.push_back(j["mounts"][i]["destination"]);
  CHECK(first ==
        std::vector<std::string>{"/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"});
  json usr = MountAt(j, "/usr");
  CHECK(usr["source"] == "/usr");
  CHECK(usr["type"] == "bind");
  CHECK(HasOption(usr, "rbind"));
  CHECK(HasOption(usr, "rro"));
  CHECK(HasOption(usr, "nodev"));
  CHECK_FALSE(MountAt(j, "/etc").is_null());
  // Sources missing on the host are skipped, as Nomad does.
  for (const char* d : {"/run/resolvconf", "/run/systemd/resolve", "/lib32"})
    CHECK(MountAt(j, d).is_null() == !fs::exists(d));
}

TEST_CASE_METHOD(FullImageTask, "full image task: Nomad's directories and volumes", "[bundle][build]") {
  CHECK(MountAt(j, "/alloc")["source"] == f.alloc_dir + "/alloc");
  CHECK(MountAt(j, "/local")["source"] == f.task_dir + "/local");
  CHECK(MountAt(j, "/secrets")["source"] == f.task_dir + "/secrets");
  CHECK(MountAt(j, "/tmp")["source"] == f.task_dir + "/tmp");
  // Nomad 2.0.1: the alloc's log FIFOs are read-only to the task, after /alloc.
  json logs = MountAt(j, "/alloc/logs");
  CHECK(logs["source"] == f.alloc_dir + "/alloc/logs");
  CHECK(HasOption(logs, "rro"));
  CHECK_FALSE(HasOption(logs, "rw"));
  CHECK(Index("/alloc/logs") > Index("/alloc"));
  CHECK(HasOption(MountAt(j, "/local"), "rw"));
  CHECK_FALSE(HasOption(MountAt(j, "/local"), "rro"));
  json vol = MountAt(j, "/data/vol");
  CHECK(vol["source"] == f.root + "/vol");
  CHECK(vol["options"] == json{"rbind", "ro", "rslave"});
  CHECK(MountAt(j, "/shared")["options"] == json{"rbind", "rw", "rshared"});
}

TEST_CASE_METHOD(FullImageTask, "full image task: resolv.conf and hosts", "[bundle][build]") {
  CHECK(b.resolv_conf == "nameserver 10.0.0.2\nnameserver 10.0.0.3\nsearch svc.local\noptions ndots:2\n");
  CHECK(b.hosts == "127.0.0.1 localhost\n::1 localhost\n10.0.0.5 web-1\n");
  CHECK(MountAt(j, "/etc/resolv.conf")["source"] == b.dir + "/resolv.conf");
  CHECK(MountAt(j, "/etc/hosts")["source"] == b.dir + "/hosts");
  CHECK(HasOption(MountAt(j, "/etc/hosts"), "ro"));
  // After /etc, or the /etc bind would hide them.
  CHECK(Index("/etc/resolv.conf") > Index("/etc"));
  CHECK(Index("/etc/hosts") > Index("/etc"));
}

TEST_CASE_METHOD(FullImageTask, "full image task: namespaces", "[bundle][build]") {
  CHECK(NsTypes(j) == std::vector<std::string>{"pid", "network", "ipc", "uts", "mount", "cgroup"});
  CHECK(j["linux"]["namespaces"][1]["path"] == "/var/run/netns/" + kAllocId);
  CHECK(j["linux"]["maskedPaths"].size() == 10);
  CHECK(j["linux"]["readonlyPaths"].size() == 5);
}

TEST_CASE_METHOD(FullImageTask, "full image task: resources and cgroup", "[bundle][build]") {
  const json& r = j["linux"]["resources"];
  CHECK(r["memory"] == json{{"limit", 256 * 1048576}, {"reservation", 128 * 1048576}});
  CHECK(r["cpu"] == json{{"shares", 500}});  // no cpus: Nomad owns the cpuset
  CHECK(j["linux"]["cgroupsPath"] == "/nomad.slice/" + kAllocId + ".web.scope");
  CHECK(b.cgroups_path == j["linux"]["cgroupsPath"]);
  CHECK(b.reuse_cgroup);
}

TEST_CASE_METHOD(FullImageTask, "full image task: devices", "[bundle][build]") {
  CHECK(j["linux"]["devices"] == json::array({{{"path", "/dev/mydev"},
                                               {"type", "c"},
                                               {"major", 1},
                                               {"minor", 3},
                                               {"fileMode", 0666},
                                               {"uid", 0},
                                               {"gid", 0}}}));
  const json& rules = j["linux"]["resources"]["devices"];
  REQUIRE(rules.size() == 2);
  CHECK(rules[0] == json{{"allow", false}, {"access", "rwm"}});
  CHECK(rules[1] == json{{"allow", true}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"access", "rw"}});
}

TEST_CASE_METHOD(FullImageTask, "full image task: annotations", "[bundle][build]") {
  const json& a = j["annotations"];
  CHECK(a["sworn.pledge.promises"] == "stdio rpath");
  CHECK(a["sworn.pledge.penalty"] == "kill");
  CHECK(json::parse(a["sworn.unveil"].get<std::string>()) ==
        json{"r:/etc/passwd", "rw:/local", "rwc:/alloc/data", "r:/data/vol", ":/usr/bin"});
  CHECK(a["sworn.unveil.auto"] == "true");
  CHECK(json::parse(a["sworn.unveil.tcp"].get<std::string>()) == json{"bind:8080"});
  CHECK(a["nomad.task.id"] == f.t.id);
  CHECK(a["nomad.alloc.id"] == kAllocId);
  CHECK(a["nomad.task.name"] == "web");
}
