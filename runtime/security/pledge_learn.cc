#include "security/pledge_learn.h"

#include <sys/syscall.h>

#include <algorithm>
#include <bit>

#include "security/pledge_explain.h"
#include "security/promises.h"

namespace sworn::security {
namespace {

constexpr size_t kMaxPaths = 10000, kMaxImpossible = 100;

// Lexically normal: no ".", "..", or repeated slashes.
std::string Normal(const std::string& p) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string part = p.substr(i, j - i);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") parts.push_back(part);
    i = j + 1;
  }
  std::string out;
  for (const auto& s : parts) out += "/" + s;
  return out.empty() ? "/" : out;
}

std::string Parent(const std::string& p) {
  size_t s = p.rfind('/');
  return s == 0 || s == std::string::npos ? "/" : p.substr(0, s);
}

// Which argument is the dirfd and which the path, per call, and what the
// use is (o: decided by the open flags in the next argument).
struct PathArg {
  int nr;
  int dirfd;  // -1: relative to the cwd
  int path;
  char use;   // r w x c (c: on the parent) o (open flags follow)
};

constexpr PathArg kPathArgs[] = {
    {__NR_open, -1, 0, 'o'},      {__NR_openat, 0, 1, 'o'},     {__NR_creat, -1, 0, 'c'},
    {__NR_execve, -1, 0, 'x'},    {__NR_execveat, 0, 1, 'x'},   {__NR_truncate, -1, 0, 'w'},
    {__NR_mkdir, -1, 0, 'c'},     {__NR_mkdirat, 0, 1, 'c'},    {__NR_unlink, -1, 0, 'c'},
    {__NR_unlinkat, 0, 1, 'c'},   {__NR_rmdir, -1, 0, 'c'},     {__NR_rename, -1, 0, 'c'},
    {__NR_rename, -1, 1, 'c'},    {__NR_renameat, 0, 1, 'c'},   {__NR_renameat, 2, 3, 'c'},
    {__NR_renameat2, 0, 1, 'c'},  {__NR_renameat2, 2, 3, 'c'},  {__NR_link, -1, 1, 'c'},
    {__NR_linkat, 2, 3, 'c'},     {__NR_symlink, -1, 1, 'c'},   {__NR_symlinkat, 1, 2, 'c'},
    {__NR_mknod, -1, 0, 'c'},     {__NR_mknodat, 0, 1, 'c'},
};

}  // namespace

std::vector<PathUse> PathUses(int nr, const uint64_t args[6],
                              const std::function<std::optional<std::string>(uint64_t)>& read,
                              const PathResolver& resolve,
                              const std::function<bool(const std::string&)>& exists) {
  std::vector<PathUse> out;
  for (const auto& a : kPathArgs) {
    if (a.nr != nr || !args[a.path]) continue;
    auto path = read(args[a.path]);
    if (!path || path->empty()) continue;
    int64_t dirfd = a.dirfd < 0 ? -100 : static_cast<int32_t>(args[a.dirfd]);
    std::string abs = Normal((*path)[0] == '/' ? *path : resolve(dirfd, *path));
    char use = a.use;
    if (use == 'o') {
      uint64_t f = args[a.path + 1];
      bool creates = (f & 020000000) || ((f & 0100) && !(exists && exists(abs)));  // O_TMPFILE, O_CREAT
      if (creates) use = 'c';
      else if (f & 3) use = 'w';
      else use = 'r';
      if ((f & 3) == 0 && (f & 01000)) use = 'w';  // O_TRUNC
      if (use == 'r' && (f & 0200000)) {             // O_DIRECTORY: a listing, a rule on the directory itself
        out.push_back({abs, "rd"});
        continue;
      }
    }
    if (use == 'c') out.push_back({Parent(abs), "c"}), out.push_back({abs, "w"});
    // Landlock checks read access too when execve opens the file.
    else out.push_back({abs, use == 'x' ? "rx" : std::string(1, use)});
  }
  return out;
}

void PolicyLearner::Record(int nr, const uint64_t args[6], pid_t self_pid, const std::vector<PathUse>& uses) {
  ++calls_;
  Explanation e = ExplainSyscall(nr, args, self_pid);
  if (!e.promises.empty()) alternatives_.insert(e.promises);
  else if (impossible_.size() < kMaxImpossible) impossible_.insert(SyscallName(nr) + ": " + e.reason);
  for (const auto& u : uses) {
    if (paths_.size() >= kMaxPaths && !paths_.contains(u.path)) continue;
    std::string& p = paths_[u.path];
    for (char c : u.perms)
      if (p.find(c) == std::string::npos) p += c;
  }
}

namespace {

// The smallest set of promises such that each recorded call is allowed by
// one of them: exact over the promises that occur (at most 2^22 subsets,
// in practice a handful of candidates); among equally small sets, the one
// whose promises come first in cosmo's order (inet before dns).
std::vector<std::string> Cover(const std::set<std::vector<std::string>>& alternatives) {
  std::vector<std::string> names;  // candidates, in cosmo's order; stdio is the learning base
  for (const auto& t : PromiseTables())
    if (t.name != "stdio" && std::ranges::any_of(alternatives, [&](const auto& a) {
          return std::ranges::find(a, t.name) != a.end();
        }))
      names.emplace_back(t.name);
  std::vector<uint32_t> need;  // per call not allowed by stdio: a mask over names
  for (const auto& alt : alternatives) {
    if (std::ranges::find(alt, "stdio") != alt.end()) continue;
    uint32_t m = 0;
    for (size_t i = 0; i < names.size(); ++i)
      if (std::ranges::find(alt, names[i]) != alt.end()) m |= 1u << i;
    need.push_back(m);
  }
  uint32_t best = (1u << names.size()) - 1;
  auto earlier = [](uint32_t a, uint32_t b) {  // lower promise indices first
    for (uint32_t bit = 1; bit; bit <<= 1)
      if ((a & bit) != (b & bit)) return (a & bit) != 0;
    return false;
  };
  for (uint32_t s = 0; s < (1u << names.size()); ++s) {
    if (std::popcount(s) > std::popcount(best)) continue;
    if (!std::ranges::all_of(need, [&](uint32_t m) { return (m & s) != 0; })) continue;
    if (std::popcount(s) < std::popcount(best) || earlier(s, best)) best = s;
  }
  std::vector<std::string> out = {"stdio"};
  for (size_t i = 0; i < names.size(); ++i)
    if (best & (1u << i)) out.push_back(names[i]);
  return out;
}

std::string Canon(const std::string& perms) {
  std::string out;
  for (char c : std::string("rwxc"))
    if (perms.find(c) != std::string::npos) out += c;
  return out;
}

bool Under(const std::string& path, const std::string& dir) {
  return dir == "/" || path == dir || (path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/');
}

}  // namespace

LearnedPolicy PolicyLearner::Propose(const std::set<std::string>& automatic) const {
  LearnedPolicy p;
  p.promises = Cover(alternatives_);
  p.impossible.assign(impossible_.begin(), impossible_.end());
  // Files become rules on their directory; directories (created in, or
  // opened with O_DIRECTORY) stay as they are, with all their uses: the
  // parent of a listed directory would grant its siblings too.
  std::map<std::string, std::string> dirs;
  for (const auto& [path, perms] : paths_) {
    if (automatic.contains(path) && perms.find_first_not_of("rx") == std::string::npos) continue;
    bool is_dir = perms.find_first_of("cd") != std::string::npos;
    std::string& d = dirs[is_dir ? path : Parent(path)];
    for (char c : perms)
      if (c != 'd' && d.find(c) == std::string::npos) d += c;
  }
  // A rule under another with at least its permissions adds nothing.
  for (const auto& [dir, perms] : dirs) {
    bool covered = std::ranges::any_of(dirs, [&](const auto& o) {
      return o.first != dir && Under(dir, o.first) &&
             std::ranges::all_of(perms, [&](char c) { return o.second.find(c) != std::string::npos; });
    });
    if (!covered) p.unveil.push_back(Canon(perms) + ":" + dir);
  }
  return p;
}

nlohmann::json LearnedJson(const LearnedPolicy& p) {
  std::string promises;
  for (const auto& s : p.promises) promises += (promises.empty() ? "" : " ") + s;
  nlohmann::json ann = {{"sworn.pledge.promises", promises}};
  if (!p.unveil.empty()) ann["sworn.unveil"] = nlohmann::json(p.unveil).dump();
  return {{"annotations", ann}, {"impossible", p.impossible}};
}

std::string ShellJoin(const std::vector<std::string>& args) {
  std::string out;
  for (const auto& a : args) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() && a.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                                   "-_./:=@%+,") == std::string::npos;
    if (plain) {
      out += a;
      continue;
    }
    out += '\'';
    for (char c : a) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

std::string FormatLearned(const LearnedPolicy& p, const std::string& program) {
  nlohmann::json j = LearnedJson(p);
  std::string promises = j["annotations"]["sworn.pledge.promises"];
  std::string flags = "sworn pledge -p '" + promises + "'";
  std::string hcl = "config {\n  promises = \"" + promises + "\"\n";
  if (!p.unveil.empty()) {
    hcl += "  unveil   = [";
    for (size_t i = 0; i < p.unveil.size(); ++i) {
      flags += " -v " + ShellJoin({p.unveil[i]});
      hcl += (i ? ", " : "") + nlohmann::json(p.unveil[i]).dump();
    }
    hcl += "]\n";
  }
  hcl += "}\n";
  std::string out = "sworn learn: the smallest policy that lets this run succeed:\n";
  out += "  " + flags + " -- " + program + "\n";
  out += "  annotations: " + j["annotations"].dump() + "\n";
  out += "  nomad task " + hcl;
  for (const auto& s : p.impossible) out += "sworn learn: no promise allows " + s + "\n";
  return out;
}

}  // namespace sworn::security
