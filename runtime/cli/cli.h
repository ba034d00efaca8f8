// The runc-compatible command line. Each verb parses its own flags (flags
// come before positional arguments, as runc's urfave/cli expects) and calls
// the container library; errors are logged and turned into exit status 1.
#pragma once

#include <string>
#include <vector>

#include <boost/program_options.hpp>

namespace sworn::cli {

namespace po = boost::program_options;

struct Globals {
  std::string root = "/run/sworn";
  std::string log_file, log_format = "text";
  bool debug = false;
  bool systemd_cgroup = false;
};

struct Parsed {
  po::variables_map vm;
  std::vector<std::string> positional;
};

// Thrown by ParseVerb for --help/-h (help: usage on stdout, exit 0) and for
// a bad flag (usage on stderr, exit 1); main prints the verb's usage.
struct UsageRequest {
  bool help = false;
  std::string message;  // what was wrong with the flags
  std::string options;  // the verb's flags, formatted
};

// Parses flags described by desc (plus --help). As runc's urfave/cli does
// unless a command skips it (exec, ps: what follows the id is a command
// line), flags after positionals are accepted (`delete ID --force`);
// with reorder false parsing stops at the first positional. "--" ends the
// flags either way; the rest is returned as positional.
Parsed ParseVerb(const po::options_description& desc, const std::vector<std::string>& args, bool reorder = true);

// Checks the positional count; throws a usage error naming the verb.
void ExpectArgs(const char* verb, const Parsed& p, size_t min, size_t max, const char* usage);

using VerbFn = int (*)(const Globals&, const std::vector<std::string>&);

int Create(const Globals&, const std::vector<std::string>&);
int Start(const Globals&, const std::vector<std::string>&);
int Run(const Globals&, const std::vector<std::string>&);
int State(const Globals&, const std::vector<std::string>&);
int Kill(const Globals&, const std::vector<std::string>&);
int Delete(const Globals&, const std::vector<std::string>&);
int List(const Globals&, const std::vector<std::string>&);
int Exec(const Globals&, const std::vector<std::string>&);
int Features(const Globals&, const std::vector<std::string>&);
int SpecVerb(const Globals&, const std::vector<std::string>&);
int Ps(const Globals&, const std::vector<std::string>&);
int Pause(const Globals&, const std::vector<std::string>&);
int Resume(const Globals&, const std::vector<std::string>&);
int Update(const Globals&, const std::vector<std::string>&);
int Events(const Globals&, const std::vector<std::string>&);
int Pledge(const Globals&, const std::vector<std::string>&);

// Logs an error and returns the exit status for it.
int Report(const std::string& message);

}  // namespace sworn::cli
