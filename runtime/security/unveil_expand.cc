#include "security/unveil_expand.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <memory>

#include "core/fd.h"
#include "core/sys.h"

namespace sworn::security {

namespace {

bool Beneath(const std::string& child, const std::string& parent) {
  if (parent == "/") return child != "/";
  return child.size() > parent.size() && child.starts_with(parent) && child[parent.size()] == '/';
}

std::string Join(const std::string& dir, const char* name) { return dir == "/" ? "/" + std::string(name) : dir + "/" + name; }

std::string Spec(const UnveilRule& r) { return "\"" + r.Perms() + ":" + r.path + "\""; }

// `inner` lies beneath `outer` and lacks a right `outer` grants: OpenBSD
// gives inner's paths inner's rule alone.
bool Narrows(const UnveilRule& inner, const UnveilRule& outer) {
  return !inner.automatic && Beneath(inner.path, outer.path) &&
         ((outer.r && !inner.r) || (outer.w && !inner.w) || (outer.x && !inner.x) || (outer.c && !inner.c));
}

UnveilRule Intersect(UnveilRule a, const UnveilRule& b) {
  a.r = a.r && b.r, a.w = a.w && b.w, a.x = a.x && b.x, a.c = a.c && b.c;
  return a;
}

Result<UniqueFd> OpenDir(int root_fd, const std::string& path) {
  if (root_fd != kHostRoot) return OpenInRoot(root_fd, path, O_RDONLY | O_DIRECTORY);
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Fail(SysError("open", path));
  return UniqueFd(fd);
}

struct Walk {
  const UnveilRule& outer;
  const std::vector<const UnveilRule*>& narrower;
  int root_fd;
  std::vector<UnveilRule>& out;

  Error Cannot(const UnveilRule& inner, const std::string& why) const {
    return MakeError(Errc::kInvalidArgument, "sworn.unveil: " + Spec(inner) + " cannot narrow " + Spec(outer) +
                                                 " on Landlock: " + why);
  }

  // `dir` is `outer.path` or a directory on the way to a narrower rule.
  Result<void> Dir(const std::string& dir) {
    // What dir itself may keep: a right on a directory reaches everything
    // beneath it, so only the rights every narrower rule beneath grants too.
    UnveilRule keep = outer;
    for (const auto* n : narrower)
      if (Beneath(n->path, dir)) keep = Intersect(keep, *n);
    keep.path = dir;
    if (!keep.hidden()) out.push_back(keep);
    auto fd = SWORN_TRY(OpenDir(root_fd, dir));
    DIR* d = fdopendir(fd.release());
    if (!d) return Fail(SysError("fdopendir", dir));
    std::unique_ptr<DIR, int (*)(DIR*)> guard(d, closedir);
    while (dirent* e = readdir(d)) {
      if (std::string_view(e->d_name) == "." || std::string_view(e->d_name) == "..") continue;
      SWORN_TRY(Entry(dirfd(d), dir, e->d_name));
    }
    return {};
  }

  Result<void> Entry(int dir_fd, const std::string& dir, const char* name) {
    std::string path = Join(dir, name);
    const UnveilRule* on_way = nullptr;
    for (const auto* n : narrower) {
      if (n->path == path) return {};  // its own rule decides
      if (Beneath(n->path, path)) on_way = n;
    }
    struct stat st{};
    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) return Fail(SysError("fstatat", path));
    if (on_way) {
      if (!S_ISDIR(st.st_mode)) return Fail(Cannot(*on_way, path + " is not a directory (a symlink?)"));
      return Dir(path);
    }
    // A symlink gets no rule: what it points to is governed by its own path.
    if (S_ISLNK(st.st_mode)) return {};
    if (out.size() >= kMaxExpandedRules)
      return Fail(Cannot(*narrower.front(), "more than " + std::to_string(kMaxExpandedRules) + " paths to unveil"));
    UnveilRule r = outer;
    r.path = path;
    r.c = r.c && S_ISDIR(st.st_mode);  // creating and removing are rights of a directory
    out.push_back(std::move(r));
    return {};
  }
};

std::string Kept(const std::vector<UnveilRule>& out, const UnveilRule& outer) {
  for (const auto& r : out)
    if (r.path == outer.path) return "\"" + r.Perms() + "\"";
  return "nothing";
}

}  // namespace

Result<std::vector<UnveilRule>> ExpandNarrowed(const std::vector<UnveilRule>& rules, int root_fd,
                                               std::vector<std::string>& notes) {
  std::vector<UnveilRule> out;
  for (const auto& outer : rules) {
    std::vector<const UnveilRule*> narrower;
    if (!outer.automatic && !outer.hidden())
      for (const auto& inner : rules)
        if (Narrows(inner, outer)) narrower.push_back(&inner);
    if (narrower.empty()) {
      out.push_back(outer);
      continue;
    }
    size_t first = out.size();
    SWORN_TRY(WithContext(Walk{outer, narrower, root_fd, out}.Dir(outer.path), "sworn.unveil " + Spec(outer)));
    std::vector<UnveilRule> mine(out.begin() + static_cast<long>(first), out.end());
    notes.push_back("unveil " + Spec(outer) + " is narrowed by " + Spec(*narrower.front()) +
                    (narrower.size() > 1 ? " and " + std::to_string(narrower.size() - 1) + " more" : "") + ": " +
                    outer.path + " itself keeps " + Kept(mine, outer) +
                    " (Landlock rights on a directory reach everything beneath it); its other entries keep \"" +
                    outer.Perms() + "\"");
  }
  return out;
}

}  // namespace sworn::security
