#include "core/json_input.h"

#include <string>

namespace sworn {

size_t JsonDepth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '[' || c == '{') deepest = std::max(deepest, ++depth);
    else if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  return deepest;
}

Result<nlohmann::json> ParseJsonInput(std::string_view text, std::string_view what, size_t max_depth) {
  if (text.size() > kMaxJsonBytes)
    return Fail(MakeError(Errc::kInvalidArgument, std::string(what) + ": larger than " +
                                                      std::to_string(kMaxJsonBytes >> 20) + " MiB"));
  if (JsonDepth(text) > max_depth)
    return Fail(MakeError(Errc::kInvalidArgument, std::string(what) + ": nested deeper than " +
                                                      std::to_string(max_depth) + " levels"));
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    return Fail(MakeError(Errc::kInvalidArgument, std::string(what) + ": malformed JSON: " + e.what()));
  }
}

}  // namespace sworn
