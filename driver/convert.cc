#include "driver/convert.h"

namespace sworn::driver {

bundle::TaskRequest ToRequest(const hashicorp::nomad::plugins::drivers::proto::TaskConfig& c) {
  bundle::TaskRequest t;
  t.id = c.id();
  t.name = c.name();
  t.alloc_id = c.alloc_id();
  t.alloc_dir = c.alloc_dir();
  t.user = c.user();
  t.env.insert(c.env().begin(), c.env().end());
  // Device plugins' variables are already part of env; keep them if not.
  for (const auto& [k, v] : c.device_env()) t.env.emplace(k, v);
  const auto& res = c.resources();
  const auto& lin = res.linux_resources();
  t.cpu_shares = lin.cpu_shares() ? lin.cpu_shares() : res.allocated_resources().cpu().cpu_shares();
  t.memory_mb = res.allocated_resources().memory().memory_mb();
  t.memory_max_mb = res.allocated_resources().memory().memory_max_mb();
  if (t.memory_mb == 0 && lin.memory_limit_bytes() > 0) t.memory_mb = lin.memory_limit_bytes() >> 20;
  t.cpuset_cpus = lin.cpuset_cpus();
  t.cpuset_cgroup = lin.cpuset_cgroup();
  for (const auto& m : c.mounts())
    t.mounts.push_back({m.task_path(), m.host_path(), m.readonly(), m.propagation_mode()});
  for (const auto& d : c.devices()) t.devices.push_back({d.task_path(), d.host_path(), d.cgroup_permissions()});
  if (c.has_network_isolation_spec()) {
    const auto& n = c.network_isolation_spec();
    t.netns_path = n.path();
    t.hostname = n.hostsconfig().hostname();
    t.host_address = n.hostsconfig().address();
  }
  if (c.has_dns()) {
    t.dns_servers.assign(c.dns().servers().begin(), c.dns().servers().end());
    t.dns_searches.assign(c.dns().searches().begin(), c.dns().searches().end());
    t.dns_options.assign(c.dns().options().begin(), c.dns().options().end());
  }
  return t;
}

}  // namespace sworn::driver
