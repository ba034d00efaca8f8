// Untrusted JSON (config.json, state.json, annotations, process.json, update
// resources) goes through here: nesting and size are bounded before
// nlohmann's recursive parser sees the text, so a hostile file gets an error
// naming it instead of a stack overflow.
//
//   auto j = SWORN_TRY(ParseJsonInput(text, "config.json"));
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace sworn {

// runc (Go's encoding/json) stops at 10000 levels; no OCI document needs
// more than a few dozen.
inline constexpr size_t kMaxJsonDepth = 256;
inline constexpr size_t kMaxJsonBytes = 64u << 20;

// `what` names the input in errors: "config.json: nested deeper than 256 levels".
Result<nlohmann::json> ParseJsonInput(std::string_view text, std::string_view what,
                                      size_t max_depth = kMaxJsonDepth);

// The deepest nesting of arrays and objects in `text` (strings skipped); a
// linear scan that does not build anything.
size_t JsonDepth(std::string_view text);

}  // namespace sworn
