// User-namespace id maps: writing a child's uid_map/gid_map (directly, or
// through shadow's newuidmap/newgidmap when sworn runs unprivileged), and
// user namespaces made only to carry a mapping (for id-mapped mounts).
#pragma once

#include <sys/types.h>

#include <vector>

#include "core/error.h"
#include "core/fd.h"
#include "spec/spec.h"

namespace sworn::linux_idmap {

// Writes /proc/PID/uid_map and gid_map. As root, directly. Unprivileged
// (euid != 0), as runc does: a map of just our own euid/egid is written
// directly (the gid map after "deny" to /proc/PID/setgroups, which the
// kernel requires); any other map goes through newuidmap/newgidmap, which
// check it against /etc/subuid and /etc/subgid. Errors name the spec field.
Result<void> WriteIdMaps(pid_t pid, const std::vector<spec::IdMap>& uids, const std::vector<spec::IdMap>& gids);

// A user namespace with the given maps, as an fd of its /proc/PID/ns/user
// (a helper child is made, mapped, opened and reaped). For
// mount_setattr(MOUNT_ATTR_IDMAP). field names the mount in errors.
Result<UniqueFd> MakeUserNs(const std::vector<spec::IdMap>& uids, const std::vector<spec::IdMap>& gids,
                            const std::string& field);

// The source of an id-mapped bind mount, made in the runtime (which holds
// CAP_SYS_ADMIN over the source's filesystem), as runc 1.2 and crun do: a
// detached copy of the source (open_tree(OPEN_TREE_CLONE), AT_RECURSIVE
// for rbind) with MOUNT_ATTR_IDMAP set to a user namespace carrying the
// mount's maps ("ridmap": on every mount of the tree). The init attaches
// it with AttachTree. Errors name the mount (field, destination); a
// filesystem that cannot be id-mapped says so.
Result<UniqueFd> IdMappedTree(const spec::Mount& m, const std::string& field);
// IdMappedTree for every id-mapped mount of spec; in a container with a
// user namespace, a plain detached copy of every other bind source (when
// the runtime can make one); an empty fd elsewhere.
Result<std::vector<UniqueFd>> IdMappedTrees(const spec::Spec& spec);
// move_mount of a detached tree onto the O_PATH target.
Result<void> AttachTree(int tree_fd, int target_fd, const std::string& dest);

// Moves the calling (single-threaded) process into pid's user namespace.
Result<void> JoinUserNs(pid_t pid);

}  // namespace sworn::linux_idmap
