// Nomad's TaskConfig message → the bundle library's plain TaskRequest.
#pragma once

#include "bundle/bundle.h"
#include "plugins/drivers/proto/driver.pb.h"

namespace sworn::driver {

bundle::TaskRequest ToRequest(const hashicorp::nomad::plugins::drivers::proto::TaskConfig& c);

}  // namespace sworn::driver
