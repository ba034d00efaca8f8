// A hostile task config nested deeper than any real one: an error naming the
// input, not a stack overflow in the driver (issue #14 item 15).
#include <catch2/catch.hpp>
#include <string>

#include "bundle/bundle.h"

TEST_CASE("cty msgpack: nesting is bounded", "[bundle][msgpack][hostile]") {
  for (char open : {'\x91', '\x81'}) {  // fixarray of 1, fixmap of 1
    std::string bytes;
    for (int i = 0; i < 200000; ++i) {
      bytes += open;
      if (open == '\x81') bytes += "\xa1k";  // key "k"
    }
    bytes += '\xc0';  // nil
    auto r = sworn::bundle::DecodeCtyMsgpack(bytes, "task config");
    REQUIRE_FALSE(r);
    CHECK(r.error().Message() == "task config: malformed msgpack: nested deeper than 256 levels");
  }
  std::string ok(100, '\x91');
  ok += '\xc0';
  CHECK(sworn::bundle::DecodeCtyMsgpack(ok, "task config"));
  // Truncated input still gets the decoder's own message with its offset.
  auto cut = sworn::bundle::DecodeCtyMsgpack(std::string(10, '\x91'), "task config");
  REQUIRE_FALSE(cut);
  CHECK(cut.error().Message().find("byte") != std::string::npos);
}
