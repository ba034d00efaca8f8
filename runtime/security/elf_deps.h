// What a program needs to start, for auto-unveil: the file itself, its ELF
// interpreter (PT_INTERP) and its DT_NEEDED libraries, found the way glibc's
// ld.so finds them, all resolved inside a container root.
//
//   UniqueFd root = ...;  // O_PATH of the rootfs, or kHostRoot
//   for (auto& d : SWORN_TRY(ElfDepsDetailed(root.get(), "/usr/bin/python3")))
//     policy.rules.push_back({d.path, true, false, d.exec, false});
//
// Search order per needed name (glibc dl-load.c): DT_RPATH of the needing
// object and of every object up its loader chain (objects that have
// DT_RUNPATH contribute no RPATH), then the needing object's DT_RUNPATH,
// then /etc/ld.so.cache, then the default directories. $ORIGIN, $LIB and
// $PLATFORM are expanded (Debian x86-64 values). Not modelled: LD_LIBRARY_PATH
// and LD_PRELOAD (the container's environment is the caller's business),
// DF_1_NODEFLIB, dlopen()ed libraries.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"

namespace sworn::security {

struct ElfDep {
  std::string path;  // absolute inside the root, symlinks resolved
  // Needs EXECUTE as well as READ_FILE: the program, its PT_INTERP and, for
  // scripts, each interpreter. Libraries and the cache need only READ_FILE.
  bool exec = false;
};

// `binary` is an absolute path inside root_fd (an fd of the container
// rootfs; kHostRoot from landlock.h resolves on the host). Returns the
// program first. Static binaries (and static-pie) give just themselves;
// "#!" scripts add their interpreter and its dependencies. Dynamic programs
// add /etc/ld.so.cache when the root has one. Cache entries for
// glibc-hwcaps subdirectories are all included, since which one ld.so picks
// depends on the CPU. Only 64-bit little-endian ELF is accepted; a needed
// library that cannot be found is an error naming it and its user.
Result<std::vector<ElfDep>> ElfDepsDetailed(int root_fd, const std::string& binary);

// The paths of ElfDepsDetailed.
Result<std::vector<std::string>> ElfDeps(int root_fd, const std::string& binary);

}  // namespace sworn::security
