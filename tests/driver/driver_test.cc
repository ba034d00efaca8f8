#include <catch2/catch.hpp>

#include <filesystem>

#include "driver/plugin.h"
#include "driver/schema.h"
#include "driver/tasks.h"
#include "google/rpc/status.pb.h"
#include "plugins/shared/structs/proto/recoverable_error.pb.h"

using namespace sworn;
using namespace sworn::driver;

namespace {

// What Nomad's client does with a StartTask error: details[0] of the
// google.rpc.Status in grpc-status-details-bin, as a RecoverableError.
std::optional<bool> Recoverable(const grpc::Status& s) {
  google::rpc::Status st;
  if (s.error_details().empty() || !st.ParseFromString(s.error_details()) || st.details_size() == 0) return std::nullopt;
  hashicorp::nomad::plugins::shared::structs::RecoverableError rec;
  if (!st.details(0).UnpackTo(&rec)) return std::nullopt;
  return rec.recoverable();
}

}  // namespace

TEST_CASE("StartTask errors: host failures are recoverable, bad input is not", "[driver]") {
  auto sys = ToStartStatus(SysError(ENXIO, "open", "/alloc/logs/.web.stdout.fifo"));
  CHECK(sys.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(Recoverable(sys) == std::optional<bool>(true));
  CHECK(sys.error_message().find("/alloc/logs/.web.stdout.fifo") != std::string::npos);

  auto bad = ToStartStatus(FieldError("promises", "unknown promise \"foo\""));
  CHECK(bad.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_FALSE(Recoverable(bad));
  CHECK(bad.error_message().find("promises") != std::string::npos);
}

TEST_CASE("errors never map to UNAVAILABLE", "[driver]") {
  for (auto c : {Errc::kInvalidArgument, Errc::kNotFound, Errc::kAlreadyExists, Errc::kBadState, Errc::kSystem,
                 Errc::kUnsupported, Errc::kTimeout}) {
    CHECK(ToStatus(MakeError(c, "x")).error_code() != grpc::StatusCode::UNAVAILABLE);
    CHECK(ToStartStatus(MakeError(c, "x")).error_code() != grpc::StatusCode::UNAVAILABLE);
  }
}

TEST_CASE("driver_state round-trips and bad state is named", "[driver]") {
  TaskRecord r{.id = "a/web/01234567", .name = "web", .alloc_id = "a", .container_id = "a.web.01234567",
               .bundle_dir = "/b", .state_root = "/s", .sworn = "/usr/bin/sworn", .exit_file = "/b/exit.json",
               .log_file = "/b/sworn.log", .cgroups_path = "/nomad.slice/a.web.01234567",
               .recreate_cgroup = "", .supervisor_pid = 42, .supervisor_start = 123456, .started_at = 7};
  auto back = DecodeRecord(EncodeRecord(r));
  REQUIRE(back);
  CHECK(back->id == r.id);
  CHECK(back->container_id == r.container_id);
  CHECK(back->supervisor_pid == 42);
  CHECK(back->supervisor_start == 123456);
  CHECK(back->exit_file == r.exit_file);
  auto bad = DecodeRecord("\x82\xa1x");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().context.find("handle.driver_state") != std::string::npos);
  auto missing = DecodeRecord(R"({"id": "x"})");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().context.find("handle.driver_state") != std::string::npos);
}

TEST_CASE("the task schema names every key the parser reads, with HCL literals", "[driver]") {
  auto spec = TaskConfigSpec();
  REQUIRE(spec.has_object());
  const auto& attrs = spec.object().attributes();
  for (const char* k : {"command", "args", "promises", "unveil", "unveil_tcp", "importance", "penalty", "cap_add",
                        "cap_drop", "pid_mode", "ipc_mode", "init", "work_dir", "filesystem"})
    CHECK(attrs.count(k) == 1);
  CHECK(attrs.at("command").attr().required());
  // String defaults are HCL expressions: quoted.
  CHECK(attrs.at("filesystem").default_().default_().literal().value() == "\"image\"");
  auto plugin = PluginConfigSpec();
  const auto& pattrs = plugin.object().attributes();
  CHECK(pattrs.at("state_dir").default_().default_().literal().value() == "\"/run/nomad-driver-sworn\"");
  CHECK(pattrs.at("allow_host_pid").default_().default_().literal().value() == "false");
  CHECK(pattrs.at("allow_caps").default_().default_().literal().value().starts_with("[\""));
}

TEST_CASE("finding sworn: configured path, beside the plugin, PATH, never itself", "[driver]") {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  REQUIRE_FALSE(ec);
  // driver_tests is built beside sworn, as the plugin is.
  CHECK(FindSworn("") == (exe.parent_path() / "sworn").string());
  CHECK(FindSworn("/no/such/sworn").empty());
  auto tru = FindSworn("true");  // a bare name is looked up in PATH
  CHECK((tru.starts_with("/") && tru.ends_with("/true")));
  CHECK(FindSworn(exe.string()).empty());      // installed as plugin_dir/sworn, the plugin is not the runtime
}
