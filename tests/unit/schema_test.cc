// schemas/sworn-annotations.schema.json and the annotation parser must agree:
// every key the schema lists is accepted with a value its schema allows, and
// a sworn.* key it does not list is refused.
#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <nlohmann/json.hpp>

#include "security/sandbox.h"

namespace {

nlohmann::json Schema() {
  std::ifstream f(SWORN_SCHEMA_DIR "/sworn-annotations.schema.json");
  return nlohmann::json::parse(f);
}

// A value the schema allows for `key`.
std::string Example(const std::string& key, const nlohmann::json& prop) {
  if (prop.contains("enum")) return prop["enum"][0].get<std::string>();
  if (key == "sworn.pledge.promises") return "stdio rpath";
  if (key == "sworn.unveil") return R"(["r:/etc"])";
  if (key == "sworn.unveil.tcp") return R"(["bind:8080"])";
  return "";
}

}  // namespace

TEST_CASE("the annotation schema and the parser agree", "[unit][schema]") {
  auto schema = Schema();
  const auto& props = schema["properties"];
  REQUIRE(props.size() >= 7);
  for (auto it = props.begin(); it != props.end(); ++it) {
    std::map<std::string, std::string> a = {{it.key(), Example(it.key(), *it)}};
    INFO(it.key() << " = " << a[it.key()]);
    CHECK(sworn::security::ParseSandbox(a));
  }
  // propertyNames lists the same keys for sworn.*
  CHECK(schema["propertyNames"]["then"]["enum"].size() == props.size());
  auto unknown = sworn::security::ParseSandbox({{"sworn.bogus", "x"}});
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().Message() == "annotations.sworn.bogus: unknown sworn annotation");
  // Keys outside sworn.* are not ours to judge.
  CHECK(sworn::security::ParseSandbox({{"io.podman.annotations.label", "x"}}));
  // Look-alike keys: the schema's propertyNames pattern catches them and
  // its enum does not list them; the parser refuses them too.
  std::regex ours(schema["propertyNames"]["if"]["pattern"].get<std::string>(), std::regex::ECMAScript);
  const auto& known = schema["propertyNames"]["then"]["enum"];
  for (const char* key : {"SWORN.pledge.promises", " sworn.pledge.promises", "Sworn.unveil", "\tsworn.unveil.tcp"}) {
    INFO(key);
    CHECK(std::regex_search(key, ours));
    CHECK(std::find(known.begin(), known.end(), key) == known.end());
    CHECK_FALSE(sworn::security::ParseSandbox({{key, "stdio"}}));
  }
  for (const char* key : {"io.sworn.x", "swornish", "x-sworn.pledge.promises"}) {
    INFO(key);
    CHECK_FALSE(std::regex_search(key, ours));
    CHECK(sworn::security::ParseSandbox({{key, "x"}}));
  }
}
