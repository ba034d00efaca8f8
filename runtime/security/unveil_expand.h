// OpenBSD's unveil gives a path the rule of its most specific unveiled
// ancestor: ["rwc:/data", ":/data/secret"] hides /data/secret. Landlock rules
// only add up along a path, so the broader rule would reach /data/secret.
// ExpandNarrowed rewrites such a rule before Landlock sees it: at start (the
// rules bind the inodes there now), every entry of /data but `secret` gets
// rwc, and /data itself keeps only the rights that reach nothing narrower
// (here none: Landlock rights on a directory cover all of it, so listing
// /data and creating entries directly in it are then denied).
//
//   {"rwc:/data", ":/data/secret"}  ->  {"rwc:/data/a", "rwc:/data/b", ":/data/secret"}
//
// A narrower rule reached through a symlink, or an expansion of more than
// kMaxExpandedRules paths, cannot be expressed: an error names both rules.
// Automatic rules (the entrypoint and its libraries, pledge.com's per-promise
// paths) only ever add rights: they narrow nothing.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "security/landlock.h"

namespace sworn::security {

inline constexpr size_t kMaxExpandedRules = 4096;

// root_fd as for PrepareLandlock (kHostRoot, or "/" of the container).
// `notes` gets one line per narrowed rule saying what its directories keep.
Result<std::vector<UnveilRule>> ExpandNarrowed(const std::vector<UnveilRule>& rules, int root_fd,
                                               std::vector<std::string>& notes);

}  // namespace sworn::security
