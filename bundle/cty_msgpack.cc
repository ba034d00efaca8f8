// go-cty msgpack → JSON. nlohmann's MessagePack reader does the decoding;
// this file only maps what it cannot know about cty: bin is a string, and an
// ext value (ext 0 is cty's "unknown") can never appear in a usable config.
#include <string>

#include "bundle/bundle.h"
#include "core/json_input.h"

namespace sworn::bundle {
namespace {

using nlohmann::json;

Error DecodeError(std::string_view what, const std::string& detail) {
  return MakeError(Errc::kInvalidArgument, std::string(what) + ": " + detail);
}

std::string At(const std::string& path) { return path.empty() ? "top level" : path; }

// nlohmann only checks UTF-8 when it dumps; check here so a bad string is
// reported against its field, not when config.json is written.
Result<void> CheckUtf8(const std::string& s, std::string_view what, const std::string& path) {
  try {
    (void)json(s).dump();
  } catch (const json::type_error&) {
    return Fail(DecodeError(what, At(path) + ": string is not valid UTF-8"));
  }
  return {};
}

Result<void> Walk(json& j, std::string_view what, const std::string& path) {
  if (j.is_binary()) {
    const auto& bin = j.get_binary();
    if (bin.has_subtype()) {
      int type = static_cast<int>(bin.subtype());
      std::string why =
          type == 0 ? "an unknown value (msgpack ext type 0)" : "msgpack ext type " + std::to_string(type);
      return Fail(DecodeError(what, At(path) + ": " + why + " is not supported"));
    }
    j = std::string(bin.begin(), bin.end());
  }
  if (j.is_string()) return CheckUtf8(j.get_ref<const std::string&>(), what, path);
  if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) SWORN_TRY(Walk(j[i], what, path + "[" + std::to_string(i) + "]"));
  } else if (j.is_object()) {
    for (auto& [key, value] : j.items()) {
      SWORN_TRY(CheckUtf8(key, what, path));
      SWORN_TRY(Walk(value, what, path.empty() ? key : path + "." + key));
    }
  }
  return {};
}

// nlohmann's msgpack reader recurses once per nested array or map: a SAX
// pass that stops at kMaxDepth keeps a hostile task config from
// overflowing the driver's stack before the real decode.
class DepthLimit {
 public:
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) { return true; }
  bool string(json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool key(json::string_t&) { return true; }
  bool start_object(size_t) { return Enter(); }
  bool start_array(size_t) { return Enter(); }
  bool end_object() { return Leave(); }
  bool end_array() { return Leave(); }
  bool parse_error(size_t, const std::string&, const nlohmann::detail::exception&) { return false; }
  bool too_deep() const { return too_deep_; }

 private:
  bool Enter() {
    if (++depth_ <= kMaxJsonDepth) return true;
    too_deep_ = true;
    return false;
  }
  bool Leave() {
    --depth_;
    return true;
  }
  size_t depth_ = 0;
  bool too_deep_ = false;
};

}  // namespace

Result<json> DecodeCtyMsgpack(std::string_view bytes, std::string_view what) {
  if (bytes.empty()) return json::object();
  json j;
  DepthLimit limit;
  try {
    json::sax_parse(bytes.begin(), bytes.end(), &limit, nlohmann::detail::input_format_t::msgpack);
  } catch (const json::exception&) {
    // Malformed input: the decode below reports it with its byte offset.
  }
  if (limit.too_deep())
    return Fail(DecodeError(what, "malformed msgpack: nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"));
  try {
    j = json::from_msgpack(bytes.begin(), bytes.end());
  } catch (const json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.110] parse error at byte 3: ..."
    std::string msg = e.what();
    if (auto k = msg.find("] "); k != std::string::npos) msg.erase(0, k + 2);
    // nlohmann's message names the byte: "parse error at byte N: ...".
    if (msg.find("byte") == std::string::npos) msg = "at byte " + std::to_string(e.byte) + ": " + msg;
    return Fail(DecodeError(what, "malformed msgpack: " + msg));
  } catch (const json::exception& e) {
    return Fail(DecodeError(what, std::string("malformed msgpack: ") + e.what()));
  }
  SWORN_TRY(Walk(j, what, ""));
  return j;
}

}  // namespace sworn::bundle
