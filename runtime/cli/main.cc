#include <sys/prctl.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <sstream>

#include "cli/cli.h"
#include "core/log.h"
#include "core/rootless.h"
#include "spec/spec.h"

namespace sworn::cli {
namespace {

struct Verb {
  const char* name;
  VerbFn fn;
  const char* help;
  const char* usage;  // what follows the options, after the verb
};

constexpr Verb kVerbs[] = {
    {"create", Create, "create a container", "[options] <container-id>"},
    {"start", Start, "start the user process of a created container", "<container-id>"},
    {"run", Run, "create and start a container", "[options] <container-id>"},
    {"state", State, "print the state of a container", "<container-id>"},
    {"kill", Kill, "send a signal to the container's init (or all its processes)", "[options] <container-id> [signal]"},
    {"delete", Delete, "delete a container and its resources", "[options] <container-id>"},
    {"list", List, "list containers", "[options]"},
    {"exec", Exec, "run a process in a running container", "[options] <container-id> <command> [args...]  (or --process FILE)"},
    {"ps", Ps, "list the processes of a container", "[options] <container-id> [ps options]"},
    {"pause", Pause, "freeze every process of a container", "<container-id>"},
    {"resume", Resume, "thaw a paused container", "<container-id>"},
    {"update", Update, "change a container's resource limits", "[options] <container-id>"},
    {"events", Events, "stream stats and OOM events (or --stats once)", "[options] <container-id>"},
    {"pledge", Pledge, "run a host command under pledge promises and unveil rules (pledge.com's flags)", "[-p PROMISES] [-v [PERM:]PATH]... [options] PROG ARGS"},
    {"features", Features, "print the features this runtime implements (JSON)", ""},
    {"spec", SpecVerb, "write a default config.json", "[options]"},
};

void Usage(std::ostream& out, const po::options_description& global) {
  out << "usage: sworn [global options] <command> [options] [args]\n\ncommands:\n";
  for (const auto& v : kVerbs) out << "  " << v.name << std::string(12 - std::string(v.name).size(), ' ') << v.help << "\n";
  out << "\n" << global;
}

int VerbUsage(const Verb& v, const UsageRequest& u) {
  if (!u.help) log::Error(std::string(v.name) + ": " + u.message);
  std::ostream& out = u.help ? std::cout : std::cerr;
  out << "usage: sworn " << v.name << " " << v.usage << "\n\n" << v.help << "\n\n" << u.options;
  return u.help ? 0 : 1;
}

}  // namespace

Parsed ParseVerb(const po::options_description& verb_desc, const std::vector<std::string>& args, bool reorder) {
  po::options_description desc;
  desc.add(verb_desc);
  bool own_help = !verb_desc.find_nothrow("help", false);
  if (own_help) desc.add_options()("help,h", "show this help");
  std::vector<std::string> flags;
  Parsed p;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a[0] != '-') {
      if (!reorder) break;
      p.positional.push_back(a);
      continue;
    }
    flags.push_back(a);
    // A flag that takes a value and has none attached consumes the next arg.
    std::string name = a.substr(a.find_first_not_of('-'));
    if (name.find('=') != std::string::npos) continue;
    // boost keeps a short option's name with its dash ("-r").
    const po::option_description* d =
        desc.find_nothrow(name.size() == 1 && a[1] != '-' ? "-" + name : name, false, false, false);
    if (d && d->semantic()->max_tokens() > 0 && !d->semantic()->is_required() && i + 1 < args.size() &&
        d->semantic()->min_tokens() > 0)
      flags.push_back(args[++i]);
  }
  p.positional.insert(p.positional.end(), args.begin() + static_cast<long>(i), args.end());
  int style = (po::command_line_style::default_style | po::command_line_style::allow_long_disguise) &
              ~po::command_line_style::allow_guessing;
  // Formatted only when shown: wrapping every option's text costs more than
  // the parse itself.
  auto options = [&] {
    std::ostringstream out;
    out << desc;
    return out.str();
  };
  try {
    po::store(po::command_line_parser(flags).options(desc).style(style).run(), p.vm);
  } catch (const po::error& e) {
    throw UsageRequest{false, e.what(), options()};
  }
  if (own_help && p.vm.count("help")) throw UsageRequest{true, "", options()};
  po::notify(p.vm);
  return p;
}

void ExpectArgs(const char* verb, const Parsed& p, size_t min, size_t max, const char* usage) {
  if (p.positional.size() < min || p.positional.size() > max)
    throw po::error(std::string(verb) + ": expected " + usage);
}

int Report(const std::string& message) {
  log::Error(message);
  return 1;
}

static int Main(int argc, char** argv) {
  Globals g;
  po::options_description global("global options");
  global.add_options()("help,h", "show help")("version,v", "print the version")(
      "root", po::value(&g.root), "state directory (default /run/sworn; $XDG_RUNTIME_DIR/sworn when rootless)")(
      "log", po::value(&g.log_file), "log file (default stderr)")(
      "log-format", po::value(&g.log_format), "text or json")("debug", po::bool_switch(&g.debug), "debug logging")(
      "systemd-cgroup", po::bool_switch(&g.systemd_cgroup), "use systemd to manage cgroups")(
      "rootless", po::value<std::string>(), "true, false or auto: ignore cgroup permission errors (default auto)")(
      "criu", po::value<std::string>(), "ignored (no checkpoint/restore)");
  std::vector<std::string> args(argv + 1, argv + argc);
  Parsed p = ParseVerb(global, args, /*reorder=*/false);
  log::Configure(g.log_file, g.log_format == "json", g.debug);
  if (g.log_format != "text" && g.log_format != "json") return Report("--log-format: expected text or json");
  if (!p.vm.count("root")) g.root = DefaultStateRoot();
  if (p.vm.count("rootless")) {
    std::string v = p.vm["rootless"].as<std::string>();
    if (v != "true" && v != "false" && v != "auto") return Report("--rootless: expected true, false or auto");
    if (v != "auto") SetRootlessOverride(v == "true");
  }
  if (p.vm.count("version")) {
    std::printf("sworn version 0.1.0\nspec: %s\n", spec::kSpecVersion);
    return 0;
  }
  if (p.vm.count("help") || p.positional.empty()) {
    Usage(p.vm.count("help") ? std::cout : std::cerr, global);
    return p.vm.count("help") ? 0 : 1;
  }
  if (g.systemd_cgroup && access("/run/systemd/system", F_OK) != 0)
    return Report("--systemd-cgroup: systemd is not running on this host (no /run/systemd/system)");
  std::string verb = p.positional[0];
  // pledge parses pledge.com's own flags (getopt, not urfave-style).
  if (verb == "pledge") {
    std::vector<std::string> rest;
    for (int i = 1; i < argc; ++i)
      if (std::string(argv[i]) == "pledge") {
        rest.assign(argv + i + 1, argv + argc);
        break;
      }
    return Pledge(g, rest);
  }
  std::vector<std::string> rest(p.positional.begin() + 1, p.positional.end());
  for (const auto& v : kVerbs) {
    if (verb != v.name) continue;
    try {
      return v.fn(g, rest);
    } catch (const UsageRequest& u) {
      return VerbUsage(v, u);
    }
  }
  return Report("unknown command \"" + verb + "\" (see sworn --help)");
}

}  // namespace sworn::cli

int main(int argc, char** argv) {
  // Run as root, every sworn process (a `run` supervisor, `exec`, the init
  // until its exec) is non-dumpable: a container that sees it (host pid
  // namespace) cannot open its /proc/PID/exe, i.e. this binary (CVE-2019-5736).
  if (geteuid() == 0) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  int rc;
  try {
    rc = sworn::cli::Main(argc, argv);
  } catch (const boost::program_options::error& e) {
    rc = sworn::cli::Report(e.what());
  } catch (const std::exception& e) {
    rc = sworn::cli::Report(std::string("internal error: ") + e.what());
  }
  // What is left is memory and fds, which the kernel takes back: no static
  // destructors (the verbs' own objects are gone already; log lines are
  // written unbuffered). Only stdio may still hold output.
  std::cout.flush();
  std::fflush(nullptr);
  _exit(rc);
}
