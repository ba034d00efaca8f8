#include "spec/json_field.h"

namespace sworn::spec {

const char* JsonTypeName(const json& j) {
  switch (j.type()) {
    case json::value_t::null: return "null";
    case json::value_t::object: return "object";
    case json::value_t::array: return "array";
    case json::value_t::string: return "string";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    default: return "value";
  }
}

static const char* TypeWord(json::value_t t) {
  switch (t) {
    case json::value_t::object: return "an object";
    case json::value_t::array: return "an array";
    case json::value_t::string: return "a string";
    case json::value_t::boolean: return "a boolean";
    default: return "a number";
  }
}

Result<void> ExpectType(const json& j, json::value_t t, const std::string& path) {
  if (j.type() == t) return {};
  return Fail(FieldError(path, std::string("expected ") + TypeWord(t) + ", got " + JsonTypeName(j)));
}

// The getters name a field only when it is wrong: a config has hundreds of
// fields, and building each path on the way costs more than the checks.
static bool HasNul(const json& s) { return s.get_ref<const std::string&>().find('\0') != std::string::npos; }

Result<void> Get(const json& obj, const char* key, const std::string& path, std::string& out) {
  const json* v = Member(obj, key);
  if (!v) return {};
  if (!v->is_string()) return ExpectType(*v, json::value_t::string, Sub(path, key));
  if (HasNul(*v)) return CheckNoNul(v->get_ref<const std::string&>(), Sub(path, key));
  out = v->get_ref<const std::string&>();
  return {};
}

Result<void> Get(const json& obj, const char* key, const std::string& path, bool& out) {
  const json* v = Member(obj, key);
  if (!v) return {};
  SWORN_TRY(ExpectType(*v, json::value_t::boolean, Sub(path, key)));
  out = v->get<bool>();
  return {};
}

Result<void> Get(const json& obj, const char* key, const std::string& path, std::vector<std::string>& out) {
  const json* v = Member(obj, key);
  if (!v) return {};
  std::string p = Sub(path, key);
  SWORN_TRY(ExpectType(*v, json::value_t::array, p));
  out.clear();
  out.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    if (!e.is_string()) return ExpectType(e, json::value_t::string, Idx(p, i));
    if (HasNul(e)) return CheckNoNul(e.get_ref<const std::string&>(), Idx(p, i));
    out.push_back(e.get_ref<const std::string&>());
  }
  return {};
}

Result<void> Get(const json& obj, const char* key, const std::string& path, int64_t& out) {
  const json* v = Member(obj, key);
  if (!v) return {};
  if (!v->is_number_integer()) return Fail(FieldError(Sub(path, key), std::string("expected an integer, got ") + JsonTypeName(*v)));
  if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
    return Fail(FieldError(Sub(path, key), "out of range"));
  out = v->get<int64_t>();
  return {};
}

Result<uint64_t> ToUnsigned(const json& j, const std::string& path, uint64_t max) {
  if (!j.is_number_integer())
    return Fail(FieldError(path, std::string("expected a non-negative integer, got ") + JsonTypeName(j)));
  if (!j.is_number_unsigned() && j.get<int64_t>() < 0)
    return Fail(FieldError(path, std::to_string(j.get<int64_t>()) + " must not be negative"));
  uint64_t v = j.get<uint64_t>();
  if (v > max) return Fail(FieldError(path, std::to_string(v) + " is out of range (max " + std::to_string(max) + ")"));
  return v;
}

static std::string IdRange(std::string_view value) {
  return std::string(value) + " is not a valid id (valid: 0.." + std::to_string(kMaxId) +
         "; 4294967295 is -1, which would leave the id unchanged)";
}

Result<uint32_t> ToId(const json& j, const std::string& path) {
  if (!j.is_number_integer())
    return Fail(FieldError(path, std::string("expected an id (0..") + std::to_string(kMaxId) + "), got " + JsonTypeName(j)));
  if (!j.is_number_unsigned() && j.get<int64_t>() < 0) return Fail(FieldError(path, IdRange(std::to_string(j.get<int64_t>()))));
  uint64_t v = j.get<uint64_t>();
  if (v > kMaxId) return Fail(FieldError(path, IdRange(std::to_string(v))));
  return static_cast<uint32_t>(v);
}

Result<uint32_t> ParseIdText(std::string_view text, std::string_view flag) {
  std::string f(flag);
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos)
    return Fail(FieldError(f, "expected a numeric id (0.." + std::to_string(kMaxId) + "), got \"" + std::string(text) + "\""));
  // More than 10 digits is out of range whatever they are; no overflow below.
  if (text.size() > 10) return Fail(FieldError(f, IdRange(text)));
  uint64_t v = 0;
  for (char c : text) v = v * 10 + static_cast<uint64_t>(c - '0');
  if (v > kMaxId) return Fail(FieldError(f, IdRange(text)));
  return static_cast<uint32_t>(v);
}

Result<void> CheckNoNul(std::string_view s, const std::string& path) {
  if (s.find('\0') == std::string_view::npos) return {};
  return Fail(FieldError(path, "contains a NUL byte (at offset " + std::to_string(s.find('\0')) + ")"));
}

bool IsValidUtf8(std::string_view s) {
  try {
    (void)json(s).dump();
  } catch (const json::type_error&) {
    return false;
  }
  return true;
}

}  // namespace sworn::spec
