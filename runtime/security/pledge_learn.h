// Learn mode (`sworn pledge --learn`, sworn.pledge.learn): the program runs
// under a filter that allows stdio and sends every other call to the
// reporter, which lets it through (SECCOMP_USER_NOTIF_FLAG_CONTINUE) and
// records it here. NOT a sandbox. At exit the learner proposes the smallest
// promise set that allows every recorded call (from the promise tables, as
// denial reports are explained) and unveil rules for the paths the calls
// named, grouped by directory with the fewest permissions.
//
//   PolicyLearner l;
//   l.Record(__NR_openat, args, pid, {{"/data/out.txt", "c"}});
//   LearnedPolicy p = l.Propose({"/usr/bin/python3", "/lib/x86_64-linux-gnu/libc.so.6"});
//   std::string text = FormatLearned(p);   // sworn pledge flags, annotations, Nomad config
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace sworn::security {

// What a path was used for: r read, w write, x execute, c create/remove in
// (for c the path is the directory); d marks a path known to be a directory
// (opened with O_DIRECTORY), which gets a rule of its own.
struct PathUse {
  std::string path;
  std::string perms;
};

// The uses of paths a call makes, from its decoded arguments; relative paths
// are resolved by `resolve(dirfd, path)`. Empty for calls without paths.
// `exists(path)`, when given, tells an O_CREAT open of a file that is there
// already (which Landlock lets through without c on its directory).
using PathResolver = std::function<std::string(int64_t dirfd, const std::string& path)>;
std::vector<PathUse> PathUses(int nr, const uint64_t args[6],
                              const std::function<std::optional<std::string>(uint64_t)>& read,
                              const PathResolver& resolve,
                              const std::function<bool(const std::string&)>& exists = nullptr);

struct LearnedPolicy {
  std::vector<std::string> promises;    // cosmo order
  std::vector<std::string> unveil;      // "rwc:/dir"
  std::vector<std::string> impossible;  // calls no promise allows, described
};

class PolicyLearner {
 public:
  void Record(int nr, const uint64_t args[6], pid_t self_pid, const std::vector<PathUse>& uses);
  // `automatic`: paths sworn unveils by itself (the entrypoint, its libraries).
  LearnedPolicy Propose(const std::set<std::string>& automatic) const;
  size_t calls() const { return calls_; }

 private:
  std::set<std::vector<std::string>> alternatives_;  // per distinct call: the promises that allow it
  std::set<std::string> impossible_;
  std::map<std::string, std::string> paths_;         // path -> perms
  size_t calls_ = 0;
};

// The policy as `sworn pledge` flags, a bundle's annotations JSON and a Nomad
// task config {} snippet, for the operator to paste.
// args as one shell command line that can be pasted: words that need it
// single-quoted.
std::string ShellJoin(const std::vector<std::string>& args);
std::string FormatLearned(const LearnedPolicy& p, const std::string& program);
nlohmann::json LearnedJson(const LearnedPolicy& p);

}  // namespace sworn::security
