// The hclspec schemas Nomad decodes our configs with (hcldec, client side):
// the plugin block's config and each task's driver config. Defaults here are
// HCL expressions, and must agree with bundle::PluginConfig's.
#pragma once

#include "plugins/shared/hclspec/hcl_spec.pb.h"

namespace sworn::driver {

hashicorp::nomad::plugins::shared::hclspec::Spec PluginConfigSpec();
hashicorp::nomad::plugins::shared::hclspec::Spec TaskConfigSpec();

}  // namespace sworn::driver
