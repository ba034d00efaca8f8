// Named network namespaces for CreateNetwork/DestroyNetwork, made the way
// the Nomad client's default does: /var/run/netns/<alloc_id>, a bind mount
// of a fresh namespace's nsfs file (as `ip netns add`), loopback up.
#pragma once

#include <string>

#include "core/error.h"

namespace sworn::driver {

struct NetnsResult {
  std::string path;
  bool created = false;  // false: it already existed (an agent restart)
};
Result<NetnsResult> CreateNetns(const std::string& alloc_id);
Result<void> DestroyNetns(const std::string& path);
// /var/run/netns/<alloc_id>; kInvalidArgument for an id that is not a plain name.
Result<std::string> NetnsPathFor(const std::string& alloc_id);

}  // namespace sworn::driver
