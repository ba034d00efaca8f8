#include "security/elf_deps.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <map>
#include <optional>
#include <set>

#include "core/fd.h"
#include "core/sys.h"
#include "security/landlock.h"

namespace sworn::security {
namespace {

constexpr size_t kMaxPhnum = 1024;
constexpr size_t kMaxDynamic = 1 << 20;
constexpr size_t kMaxStrtab = 16 << 20;
constexpr size_t kMaxCache = 64 << 20;
// The kernel's BINPRM_BUF_SIZE and its limit on nested "#!" interpreters.
constexpr size_t kShebangBuf = 256;
constexpr int kMaxScriptDepth = 4;
constexpr const char* kLdCache = "/etc/ld.so.cache";
constexpr std::array<const char*, 6> kDefaultDirs = {
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"};
// What glibc on Debian x86-64 substitutes for $LIB and $PLATFORM.
constexpr const char* kDstLib = "lib/x86_64-linux-gnu";
constexpr const char* kDstPlatform = "x86_64";

struct ElfInfo {
  uint16_t machine = 0;
  std::string interp;
  std::vector<std::string> needed, rpath, runpath;
  bool has_runpath = false;
};

Result<void> PreadExact(int fd, void* buf, size_t n, uint64_t off, const std::string& path) {
  auto* p = static_cast<char*>(buf);
  while (n > 0) {
    ssize_t r = pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Fail(SysError("pread", path));
    if (r == 0) return Fail(MakeError(Errc::kInvalidArgument, path + ": truncated ELF file"));
    p += r, n -= static_cast<size_t>(r), off += static_cast<uint64_t>(r);
  }
  return {};
}

Result<std::string> ReadAll(int fd, const std::string& path, size_t max) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t r = read(fd, buf, sizeof(buf));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Fail(SysError("read", path));
    if (r == 0) return out;
    out.append(buf, static_cast<size_t>(r));
    if (out.size() > max) return Fail(MakeError(Errc::kInvalidArgument, path + ": file too large"));
  }
}

std::string Dirname(const std::string& p) {
  size_t slash = p.rfind('/');
  return slash == 0 || slash == std::string::npos ? "/" : p.substr(0, slash);
}

std::string Basename(const std::string& p) { return p.substr(p.rfind('/') + 1); }

std::optional<uint64_t> VaddrToOffset(const std::vector<Elf64_Phdr>& ph, uint64_t vaddr) {
  for (const auto& p : ph)
    if (p.p_type == PT_LOAD && vaddr >= p.p_vaddr && vaddr - p.p_vaddr < p.p_filesz)
      return vaddr - p.p_vaddr + p.p_offset;
  return std::nullopt;
}

// DT_NEEDED, DT_RPATH and DT_RUNPATH: string-table offsets; DT_STRTAB is a
// virtual address, mapped to the file through the PT_LOAD segments.
Result<void> ReadDynamic(int fd, const std::string& path, const std::vector<Elf64_Phdr>& ph, const Elf64_Phdr& dyn,
                         ElfInfo& info) {
  auto bad = [&](const char* what) { return Fail(MakeError(Errc::kInvalidArgument, path + ": " + what)); };
  if (dyn.p_filesz > kMaxDynamic) return bad("PT_DYNAMIC too large");
  std::vector<Elf64_Dyn> d(dyn.p_filesz / sizeof(Elf64_Dyn));
  SWORN_TRY(PreadExact(fd, d.data(), d.size() * sizeof(Elf64_Dyn), dyn.p_offset, path));
  uint64_t strtab = 0, strsz = 0;
  std::vector<std::pair<int64_t, uint64_t>> refs;
  for (const auto& e : d) {
    if (e.d_tag == DT_NULL) break;
    if (e.d_tag == DT_STRTAB) strtab = e.d_un.d_ptr;
    if (e.d_tag == DT_STRSZ) strsz = e.d_un.d_val;
    if (e.d_tag == DT_NEEDED || e.d_tag == DT_RPATH || e.d_tag == DT_RUNPATH) refs.emplace_back(e.d_tag, e.d_un.d_val);
  }
  if (refs.empty()) return {};
  auto off = VaddrToOffset(ph, strtab);
  if (!off || strsz == 0 || strsz > kMaxStrtab) return bad("bad DT_STRTAB");
  std::string strs(strsz, '\0');
  SWORN_TRY(PreadExact(fd, strs.data(), strsz, *off, path));
  for (auto [tag, at] : refs) {
    if (at >= strsz) return bad("string offset outside DT_STRTAB");
    std::string s(strs.c_str() + at);
    if (tag == DT_NEEDED) info.needed.push_back(s);
    if (tag == DT_RPATH) info.rpath = Split(s, ':');
    if (tag == DT_RUNPATH) info.runpath = Split(s, ':'), info.has_runpath = true;
  }
  return {};
}

Result<ElfInfo> ReadElf(int fd, const std::string& path) {
  Elf64_Ehdr eh{};
  if (!PreadExact(fd, &eh, sizeof(eh), 0, path) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
    return Fail(MakeError(Errc::kInvalidArgument, path + ": not a 64-bit little-endian ELF file"));
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > kMaxPhnum)
    return Fail(MakeError(Errc::kInvalidArgument, path + ": bad ELF program headers"));
  ElfInfo info;
  info.machine = eh.e_machine;
  std::vector<Elf64_Phdr> ph(eh.e_phnum);
  SWORN_TRY(PreadExact(fd, ph.data(), ph.size() * sizeof(Elf64_Phdr), eh.e_phoff, path));
  for (const auto& p : ph) {
    if (p.p_type != PT_INTERP) continue;
    if (p.p_filesz == 0 || p.p_filesz > 4096) return Fail(MakeError(Errc::kInvalidArgument, path + ": bad PT_INTERP"));
    std::string s(p.p_filesz, '\0');
    SWORN_TRY(PreadExact(fd, s.data(), s.size(), p.p_offset, path));
    info.interp = s.c_str();
  }
  for (const auto& p : ph)
    if (p.p_type == PT_DYNAMIC) SWORN_TRY(ReadDynamic(fd, path, ph, p, info));
  return info;
}

// glibc's cache flags for the libraries of a machine; 0: unknown machine.
int32_t CacheArchFlags(uint16_t machine) {
  constexpr int32_t kElfLibc6 = 0x0003, kX8664Lib64 = 0x0300, kAarch64Lib64 = 0x0a00;
  if (machine == EM_X86_64) return kElfLibc6 | kX8664Lib64;
  if (machine == EM_AARCH64) return kElfLibc6 | kAarch64Lib64;
  return 0;
}

struct CacheEntry {
  int32_t flags;
  uint64_t hwcap;  // nonzero: a glibc-hwcaps subdirectory variant
  std::string path;
};
using LdCache = std::multimap<std::string, CacheEntry>;

// glibc >= 2.32 writes only the "glibc-ld.so.cache1.1" format; older ones
// put it after an "ld.so-1.7.0" table. String offsets count from the start
// of the new-format header.
LdCache ParseLdCache(std::string_view data) {
  constexpr std::string_view kOld = "ld.so-1.7.0", kNew = "glibc-ld.so.cache1.1";
  constexpr size_t kNewHeader = 48, kNewEntry = 24;
  LdCache cache;
  size_t base = 0;
  if (data.starts_with(kOld) && data.size() >= 16) {
    uint32_t nold;
    std::memcpy(&nold, data.data() + 12, 4);
    base = (16 + size_t{nold} * 12 + 7) & ~size_t{7};
  }
  if (base > data.size() || !data.substr(base).starts_with(kNew) || data.size() - base < kNewHeader) return cache;
  std::string_view c = data.substr(base);
  uint32_t nlibs;
  std::memcpy(&nlibs, c.data() + 20, 4);
  if (nlibs > (c.size() - kNewHeader) / kNewEntry) return cache;
  auto str = [&](uint32_t at) -> std::optional<std::string> {
    if (at >= c.size()) return std::nullopt;
    size_t end = c.find('\0', at);
    if (end == std::string_view::npos) return std::nullopt;
    return std::string(c.substr(at, end - at));
  };
  for (uint32_t i = 0; i < nlibs; ++i) {
    const char* e = c.data() + kNewHeader + size_t{i} * kNewEntry;
    int32_t flags;
    uint32_t key, value;
    uint64_t hwcap;
    std::memcpy(&flags, e, 4), std::memcpy(&key, e + 4, 4), std::memcpy(&value, e + 8, 4);
    std::memcpy(&hwcap, e + 16, 8);
    auto k = str(key), v = str(value);
    if (k && v && v->starts_with('/')) cache.emplace(*k, CacheEntry{flags, hwcap, *v});
  }
  return cache;
}

// Expands $ORIGIN, $LIB and $PLATFORM (also as ${...}); entries that are
// empty (the cwd to ld.so) or use another token are dropped, as ld.so does
// for tokens it cannot expand.
std::vector<std::string> ExpandDirs(const std::vector<std::string>& dirs, const std::string& origin) {
  const std::array<std::pair<std::string_view, std::string_view>, 6> tokens = {{
      {"${ORIGIN}", origin}, {"$ORIGIN", origin}, {"${LIB}", kDstLib}, {"$LIB", kDstLib},
      {"${PLATFORM}", kDstPlatform}, {"$PLATFORM", kDstPlatform}}};
  std::vector<std::string> out;
  for (const auto& d : dirs) {
    std::string s;
    bool ok = !d.empty();
    for (size_t i = 0; ok && i < d.size();) {
      std::string_view rest = std::string_view(d).substr(i);
      auto t = std::ranges::find_if(tokens, [&](const auto& kv) { return rest.starts_with(kv.first); });
      if (d[i] != '$') {
        s += d[i++];
      } else if (t == tokens.end()) {
        ok = false;
      } else {
        s += t->second;
        i += t->first.size();
      }
    }
    if (ok && s.starts_with('/')) out.push_back(s);
  }
  return out;
}

// A loaded object whose DT_NEEDED are still to be searched.
struct Object {
  std::string path;
  ElfInfo info;
  std::vector<std::string> rpath_chain;  // its RPATH, then its loaders'
};

struct Found {
  std::string path;  // as searched: $ORIGIN of the object
  std::string canonical;
  ElfInfo info;
};

class Resolver {
 public:
  explicit Resolver(int root_fd) : root_fd_(root_fd) {}
  Result<void> AddProgram(const std::string& path, int depth);
  std::vector<ElfDep> out;

 private:
  Result<UniqueFd> Open(const std::string& path, int flags) const;
  std::string Canonical(int fd, const std::string& fallback);
  void Add(const std::string& canonical, bool exec);
  Result<void> AddElf(const std::string& path, const std::string& canonical, int fd);
  Result<void> LoadNeeded(Object main);
  Result<std::vector<Found>> Find(const std::string& name, const Object& loader);
  std::optional<Found> Try(const std::string& path, uint16_t machine);
  void LoadCache();

  int root_fd_;
  std::optional<std::string> root_prefix_;
  std::set<std::string> seen_, loaded_names_;
  std::optional<LdCache> cache_;
};

Result<UniqueFd> Resolver::Open(const std::string& path, int flags) const {
  if (root_fd_ != kHostRoot) return OpenInRoot(root_fd_, path, flags);
  int fd = open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Fail(SysError("open", path));
  return UniqueFd(fd);
}

// The path of what fd names, inside the root; `fallback` when /proc cannot
// tell (not mounted, or the file is outside the root's mount).
std::string Resolver::Canonical(int fd, const std::string& fallback) {
  auto link = [](int f) -> std::string {
    char buf[4096];
    ssize_t n = readlink(FdPath(f).c_str(), buf, sizeof(buf) - 1);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  };
  if (!root_prefix_) root_prefix_ = root_fd_ == kHostRoot ? "/" : link(root_fd_);
  std::string p = link(fd);
  if (!p.starts_with('/')) return fallback;
  if (*root_prefix_ == "/") return p;
  if (root_prefix_->empty() || !p.starts_with(*root_prefix_ + "/")) return fallback;
  return p.substr(root_prefix_->size());
}

void Resolver::Add(const std::string& canonical, bool exec) {
  if (seen_.insert(canonical).second) out.push_back({canonical, exec});
}

void Resolver::LoadCache() {
  if (cache_) return;
  cache_.emplace();
  auto fd = Open(kLdCache, O_RDONLY);
  if (!fd) return;
  auto data = ReadAll(fd->get(), kLdCache, kMaxCache);
  if (!data) return;  // unreadable: ld.so falls back to the default dirs too
  *cache_ = ParseLdCache(*data);
  Add(Canonical(fd->get(), kLdCache), false);
}

// Like ld.so, a candidate that is missing or for another class or machine
// is skipped and the search goes on.
std::optional<Found> Resolver::Try(const std::string& path, uint16_t machine) {
  auto fd = Open(path, O_RDONLY);
  struct stat st{};
  if (!fd || fstat(fd->get(), &st) < 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  auto info = ReadElf(fd->get(), path);
  if (!info || info->machine != machine) return std::nullopt;
  return Found{path, Canonical(fd->get(), path), std::move(*info)};
}

Result<std::vector<Found>> Resolver::Find(const std::string& name, const Object& loader) {
  uint16_t m = loader.info.machine;
  auto one = [](std::optional<Found> f) { return f ? std::vector<Found>{std::move(*f)} : std::vector<Found>{}; };
  if (name.find('/') != std::string::npos) return one(Try(name, m));
  std::vector<std::string> dirs;
  if (!loader.info.has_runpath) dirs = loader.rpath_chain;
  else dirs = ExpandDirs(loader.info.runpath, Dirname(loader.path));
  for (const auto& d : dirs)
    if (auto f = Try(d + "/" + name, m)) return one(std::move(f));
  // From the cache: the first plain entry, plus every glibc-hwcaps variant
  // (ld.so picks one by CPU features, which the container may not share).
  LoadCache();
  std::vector<Found> hits;
  bool plain = false;
  auto [lo, hi] = cache_->equal_range(name);
  for (auto it = lo; it != hi; ++it) {
    const CacheEntry& e = it->second;
    if (e.flags != CacheArchFlags(m) || (e.hwcap == 0 && plain)) continue;
    if (auto f = Try(e.path, m)) hits.push_back(std::move(*f)), plain |= e.hwcap == 0;
  }
  if (!hits.empty()) return hits;
  for (const char* d : kDefaultDirs)
    if (auto f = Try(std::string(d) + "/" + name, m)) return one(std::move(f));
  return hits;
}

// Breadth first, as ld.so loads: the first object to need a name is its
// loader, which decides the RPATH chain it is searched with.
Result<void> Resolver::LoadNeeded(Object main) {
  std::deque<Object> queue;
  if (!main.info.has_runpath) main.rpath_chain = ExpandDirs(main.info.rpath, Dirname(main.path));
  queue.push_back(std::move(main));
  while (!queue.empty()) {
    Object obj = std::move(queue.front());
    queue.pop_front();
    for (const auto& name : obj.info.needed) {
      if (!loaded_names_.insert(name).second) continue;
      auto found = SWORN_TRY(Find(name, obj));
      if (found.empty())
        return Fail(MakeError(Errc::kNotFound, name + " needed by " + obj.path + ": not found in the root"));
      for (auto& f : found) {
        if (seen_.contains(f.canonical)) continue;
        Add(f.canonical, false);
        Object next{f.path, std::move(f.info), {}};
        if (!next.info.has_runpath) next.rpath_chain = ExpandDirs(next.info.rpath, Dirname(f.path));
        next.rpath_chain.insert(next.rpath_chain.end(), obj.rpath_chain.begin(), obj.rpath_chain.end());
        queue.push_back(std::move(next));
      }
    }
  }
  return {};
}

Result<void> Resolver::AddElf(const std::string& path, const std::string& canonical, int fd) {
  ElfInfo info = SWORN_TRY(ReadElf(fd, path));
  Add(canonical, true);
  if (info.interp.empty() && info.needed.empty()) return {};  // static or static-pie
  if (!info.interp.empty()) {
    auto ifd = SWORN_TRY(WithContext(Open(info.interp, O_PATH), "ELF interpreter of " + path));
    Add(Canonical(ifd.get(), info.interp), true);
    loaded_names_.insert(Basename(info.interp));
  }
  LoadCache();
  // $ORIGIN of the program is where /proc/self/exe points: symlinks resolved.
  return LoadNeeded(Object{canonical, std::move(info), {}});
}

Result<void> Resolver::AddProgram(const std::string& path, int depth) {
  if (!path.starts_with('/')) return Fail(MakeError(Errc::kInvalidArgument, path + ": program path must be absolute"));
  UniqueFd fd = SWORN_TRY(Open(path, O_RDONLY));
  std::string canonical = Canonical(fd.get(), path);
  char buf[kShebangBuf] = {};
  ssize_t n = pread(fd.get(), buf, sizeof(buf) - 1, 0);
  if (n < 2 || buf[0] != '#' || buf[1] != '!') return AddElf(path, canonical, fd.get());
  Add(canonical, true);  // the kernel checks EXECUTE, the interpreter reads it
  if (depth >= kMaxScriptDepth) return Fail(MakeError(Errc::kInvalidArgument, path + ": too many #! levels"));
  std::string_view line(buf + 2, static_cast<size_t>(n) - 2);
  line = line.substr(0, line.find_first_of("\n"));
  size_t start = line.find_first_not_of(" \t");
  if (start == std::string_view::npos) return Fail(MakeError(Errc::kInvalidArgument, path + ": empty #! line"));
  line = line.substr(start);
  std::string interp(line.substr(0, line.find_first_of(" \t")));
  return WithContext(AddProgram(interp, depth + 1), "#! interpreter of " + path);
}

}  // namespace

Result<std::vector<ElfDep>> ElfDepsDetailed(int root_fd, const std::string& binary) {
  Resolver r(root_fd);
  SWORN_TRY(r.AddProgram(binary, 0));
  return std::move(r.out);
}

Result<std::vector<std::string>> ElfDeps(int root_fd, const std::string& binary) {
  auto deps = SWORN_TRY(ElfDepsDetailed(root_fd, binary));
  std::vector<std::string> paths;
  for (auto& d : deps) paths.push_back(std::move(d.path));
  return paths;
}

}  // namespace sworn::security
