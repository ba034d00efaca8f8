// pledge.com's automatic unveils per promise (fact sheet §2.2), so that a
// program that promised stdio can still reach /dev/null, dns can read
// /etc/resolv.conf, and so on. Applied by `sworn pledge`; paths that do not
// exist are skipped.
#pragma once

#include <string>
#include <vector>

#include "security/landlock.h"

namespace sworn::security {

std::vector<UnveilRule> PromiseUnveils(const std::vector<std::string>& promises);

}  // namespace sworn::security
