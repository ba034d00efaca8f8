// Typed, path-aware access to JSON members. Each getter leaves `out` alone
// when the member is absent or null, and fails with the member's full path
// ("linux.uidMappings[0].size") when its type or range is wrong.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace sworn::spec {

using json = nlohmann::json;

inline std::string Sub(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}
inline std::string Idx(const std::string& path, size_t i) { return path + "[" + std::to_string(i) + "]"; }

const char* JsonTypeName(const json& j);

// Member `key` of `obj`, or nullptr when absent or null.
inline const json* Member(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Result<void> ExpectType(const json& j, json::value_t t, const std::string& path);

Result<void> Get(const json& obj, const char* key, const std::string& path, std::string& out);
Result<void> Get(const json& obj, const char* key, const std::string& path, bool& out);
Result<void> Get(const json& obj, const char* key, const std::string& path, std::vector<std::string>& out);
Result<void> Get(const json& obj, const char* key, const std::string& path, int64_t& out);

// Unsigned integers with a range check against T.
Result<uint64_t> ToUnsigned(const json& j, const std::string& path, uint64_t max);
template <class T>
Result<void> GetUint(const json& obj, const char* key, const std::string& path, T& out) {
  const json* v = Member(obj, key);
  if (!v) return {};
  out = static_cast<T>(SWORN_TRY(ToUnsigned(*v, Sub(path, key), std::numeric_limits<T>::max())));
  return {};
}
template <class T>
Result<void> GetUint(const json& obj, const char* key, const std::string& path, std::optional<T>& out) {
  const json* v = Member(obj, key);
  if (!v) return {};
  out = static_cast<T>(SWORN_TRY(ToUnsigned(*v, Sub(path, key), std::numeric_limits<T>::max())));
  return {};
}

// uids and gids: 0..4294967294. (uid_t)-1 is "leave unchanged" to
// setresuid/setresgid/chown, so 4294967295 would silently keep root.
inline constexpr uint64_t kMaxId = 4294967294u;
Result<uint32_t> ToId(const json& j, const std::string& path);
template <class T>
Result<void> GetId(const json& obj, const char* key, const std::string& path, T& out) {
  const json* v = Member(obj, key);
  if (!v) return {};
  out = SWORN_TRY(ToId(*v, Sub(path, key)));
  return {};
}
// An id typed on the command line ("--user 1000:1000"): decimal digits only.
Result<uint32_t> ParseIdText(std::string_view text, std::string_view flag);

// Strings reach the kernel as C strings: a NUL would cut them short.
Result<void> CheckNoNul(std::string_view s, const std::string& path);

// Whether `s` can go into a JSON string (nlohmann throws on dump otherwise).
bool IsValidUtf8(std::string_view s);

}  // namespace sworn::spec
