// A bounded mutation fuzzer for the config parser (issue #14 item 15: 18 of
// 2,500 fuzzed configs crashed create). It mutates a valid config.json that
// touches every parser (process, mounts, linux.*, hooks, annotations,
// seccomp, resources) in the ways an attacker would: deep nesting, wrong
// types, NULs, huge lists and strings, out-of-range numbers, invalid UTF-8,
// truncation. Every input must either parse or fail with a message; a
// crash, a hang or an escaped exception fails the test.
//
// SWORN_FUZZ_SEED and SWORN_FUZZ_ITERS override the fixed seed and count;
// the run stops early at 40 s so it stays affordable in CI.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "cgroup/resources.h"
#include "security/oci_seccomp.h"
#include "security/sandbox.h"
#include "spec/spec.h"

using nlohmann::json;

namespace {

json Base() {
  return json::parse(R"({
    "ociVersion": "1.2.0",
    "root": {"path": "rootfs", "readonly": true},
    "hostname": "h", "domainname": "d",
    "process": {
      "terminal": false, "cwd": "/", "args": ["/bin/sh", "-c", "true"], "env": ["PATH=/bin", "A=b"],
      "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 6]},
      "capabilities": {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]},
      "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}],
      "noNewPrivileges": true, "oomScoreAdj": 100,
      "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
      "scheduler": {"policy": "SCHED_OTHER", "nice": 1}
    },
    "mounts": [
      {"destination": "/proc", "type": "proc", "source": "proc"},
      {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=64k", "uid=1000"]},
      {"destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", "rro", "rprivate"]}
    ],
    "linux": {
      "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"},
                     {"type": "user"}, {"type": "cgroup"}],
      "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
      "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
      "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0}],
      "cgroupsPath": "/fuzz/c1",
      "resources": {
        "memory": {"limit": 67108864, "swap": 134217728}, "cpu": {"shares": 512, "quota": 50000, "period": 100000},
        "pids": {"limit": 64}, "blockIO": {"weight": 500},
        "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}],
        "unified": {"memory.high": "max"}
      },
      "seccomp": {
        "defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}]
      },
      "sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000000"},
      "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"],
      "rootfsPropagation": "rprivate"
    },
    "hooks": {"prestart": [{"path": "/bin/true", "args": ["true"], "env": ["X=1"], "timeout": 5}]},
    "annotations": {"sworn.pledge.promises": "stdio rpath", "sworn.unveil": "[\"r:/etc\"]", "org.example": "x"}
  })");
}

// Every node's JSON pointer, so a mutation can pick any of them.
void Pointers(const json& j, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
  out.push_back(at);
  if (j.is_object())
    for (auto it = j.begin(); it != j.end(); ++it) Pointers(*it, at / it.key(), out);
  else if (j.is_array())
    for (size_t i = 0; i < j.size(); ++i) Pointers(j[i], at / i, out);
}

class Mutator {
 public:
  explicit Mutator(uint64_t seed) : rng_(seed) {}

  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  // A hostile value for any node.
  json Value() {
    switch (Pick(16)) {
      case 0: return nullptr;
      case 1: return -1;
      case 2: return 4294967295u;
      case 3: return 18446744073709551615u;
      case 4: return -9223372036854775807LL - 1;
      case 5: return 1e308;
      case 6: return std::string("a\0b", 3);
      case 7: return std::string(1 << Pick(21), 'x');
      case 8: return json::array();
      case 9: return json::object();
      case 10: return true;
      case 11: return "../../../../etc/shadow";
      case 12: return "\x1b[2J\n\r\t";
      case 13: {
        json a = json::array();
        size_t n = size_t{1} << Pick(17);
        for (size_t i = 0; i < n; ++i) a.push_back("/p" + std::to_string(i % 7));
        return a;
      }
      case 14: {
        json o = json::object();
        for (int i = 0; i < 2000; ++i) o["k" + std::to_string(i)] = i;
        return o;
      }
      default: return "";
    }
  }

  void MutateTree(json& j) {
    std::vector<json::json_pointer> ptrs;
    Pointers(j, json::json_pointer(), ptrs);
    for (size_t n = 1 + Pick(3); n > 0; --n) {
      const auto& p = ptrs[Pick(ptrs.size())];
      if (!j.contains(p)) continue;
      json& node = j[p];
      switch (Pick(4)) {
        case 0:
          if (!p.empty()) {
            json& parent = j[p.parent_pointer()];
            if (parent.is_object()) parent.erase(p.back());
            break;
          }
          [[fallthrough]];
        case 1:
          if (node.is_object()) {
            node["x-unknown-" + std::to_string(Pick(100))] = Value();
            break;
          }
          [[fallthrough]];
        default: node = Value();
      }
    }
  }

  std::string MutateText(std::string s) {
    size_t at = s.empty() ? 0 : Pick(s.size());
    switch (Pick(8)) {
      case 0: {
        size_t depth = size_t{200} << Pick(10);
        s.insert(at, std::string(depth, '[') + std::string(depth, ']'));
        break;
      }
      case 1: s.resize(at); break;
      case 2: s[at] = static_cast<char>(Pick(256)); break;
      case 3: s.insert(at, "\xff\xfe\xc0\x80"); break;
      case 4: s.insert(at, "\\ud800"); break;
      case 5: s.insert(at, std::string(1, '\0')); break;
      case 6: {
        // Deep nesting at a value position: replace a string with it.
        size_t q = s.find(": \"", at);
        if (q == std::string::npos) q = s.find(":\"", at);
        if (q != std::string::npos) {
          size_t d = size_t{300} << Pick(9);
          s.insert(q + 1, std::string(d, Pick(2) ? '[' : '{'));
        }
        break;
      }
      default: s.insert(at, "{\"a\":1,\"a\":2}"); break;
    }
    return s;
  }

 private:
  std::mt19937_64 rng_;
};

uint64_t EnvOr(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : def;
}

// Runs every parser the config reaches; returns false if an error had no
// message (a failure a user could not act on).
bool Exercise(const std::string& text, const std::string& bundle, bool* parsed = nullptr) {
  auto spec = sworn::spec::ParseSpec(text, bundle);
  if (parsed) *parsed = spec.has_value();
  if (!spec) return !spec.error().Message().empty();
  auto sandbox = sworn::security::ParseSandbox(spec->annotations);
  if (!sandbox && sandbox.error().Message().empty()) return false;
  auto res = sworn::cgroup::ParseResources(spec->linux.resources);
  if (!res && res.error().Message().empty()) return false;
  auto bpf = sworn::security::CompileOciSeccomp(spec->linux.seccomp);
  if (!bpf && bpf.error().Message().empty()) return false;
  return true;
}

}  // namespace

TEST_CASE("config fuzzing: hostile mutations never crash the parsers", "[unit][fuzz][hostile]") {
  char tmpl[] = "/tmp/sworn-fuzz-XXXXXX";
  std::string bundle = mkdtemp(tmpl);
  std::filesystem::create_directory(bundle + "/rootfs");
  uint64_t seed = EnvOr("SWORN_FUZZ_SEED", 14);
  uint64_t iters = EnvOr("SWORN_FUZZ_ITERS", 10000);
  Mutator m(seed);
  const json base = Base();
  REQUIRE(Exercise(base.dump(), bundle));
  auto start = std::chrono::steady_clock::now();
  uint64_t done = 0, accepted = 0;
  for (; done < iters; ++done) {
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(40)) break;
    json j = base;
    m.MutateTree(j);
    std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
    if (m.Pick(2)) text = m.MutateText(std::move(text));
    INFO("seed " << seed << " input " << done << ": " << text.substr(0, 300));
    bool parsed = false;
    CHECK(Exercise(text, bundle, &parsed));
    accepted += parsed;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "config fuzz: seed %llu, %llu inputs (%llu parsed), %.1f s\n",
               static_cast<unsigned long long>(seed), static_cast<unsigned long long>(done),
               static_cast<unsigned long long>(accepted), secs);
  CHECK(done >= std::min<uint64_t>(iters, 500));
  std::filesystem::remove_all(bundle);
}
