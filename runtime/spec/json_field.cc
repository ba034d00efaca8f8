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

Result<void> Get(const json& obj, const char* key, const std::string& path, std::string& out) {
  const json* v = Member(obj, key);
  if (!v) return {};
  SWORN_TRY(ExpectType(*v, json::value_t::string, Sub(path, key)));
  out = v->get<std::string>();
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
  for (size_t i = 0; i < v->size(); ++i) {
    SWORN_TRY(ExpectType((*v)[i], json::value_t::string, Idx(p, i)));
    out.push_back((*v)[i].get<std::string>());
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
  if (!j.is_number_unsigned() && j.get<int64_t>() < 0) return Fail(FieldError(path, "must not be negative"));
  uint64_t v = j.get<uint64_t>();
  if (v > max) return Fail(FieldError(path, "out of range (max " + std::to_string(max) + ")"));
  return v;
}

}  // namespace sworn::spec
