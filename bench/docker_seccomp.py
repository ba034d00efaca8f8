#!/usr/bin/env python3
"""Converts a Docker-format seccomp profile (containers-common's
/usr/share/containers/seccomp.json, podman's default) into an OCI
linux.seccomp object, as podman does: keep the rules whose `includes` match
the architecture, capabilities and kernel, drop those whose `excludes` do.

    docker_seccomp.py [PROFILE] [--caps CAP_X,CAP_Y] > linux-seccomp.json
"""
import argparse
import json
import os
import sys

# podman's default capability set (containers.conf default_capabilities).
PODMAN_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
               "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"]
GOARCH = {"x86_64": "amd64", "aarch64": "arm64"}


def kernel_at_least(want):
    have = [int(x) for x in os.uname().release.split("-")[0].split(".")[:2]]
    return have >= [int(x) for x in want.split(".")[:2]]


def applies(rule, arch, caps):
    inc, exc = rule.get("includes") or {}, rule.get("excludes") or {}
    if inc.get("arches") and arch not in inc["arches"]:
        return False
    if inc.get("caps") and not all(c in caps for c in inc["caps"]):
        return False
    if inc.get("minKernel") and not kernel_at_least(inc["minKernel"]):
        return False
    if exc.get("arches") and arch in exc["arches"]:
        return False
    if exc.get("caps") and any(c in caps for c in exc["caps"]):
        return False
    return True


def convert(profile, caps):
    arch = GOARCH.get(os.uname().machine, os.uname().machine)
    native = "SCMP_ARCH_X86_64" if arch == "amd64" else "SCMP_ARCH_AARCH64"
    arches = []
    for m in profile.get("archMap") or []:
        if m["architecture"] == native:
            arches = [m["architecture"], *m.get("subArchitectures", [])]
    out = {"defaultAction": profile["defaultAction"], "architectures": arches, "syscalls": []}
    if "defaultErrnoRet" in profile:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    for rule in profile.get("syscalls", []):
        if not applies(rule, arch, caps):
            continue
        r = {"names": rule["names"], "action": rule["action"]}
        for key in ("errnoRet", "args"):
            if rule.get(key):
                r[key] = rule[key]
        out["syscalls"].append(r)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("profile", nargs="?", default="/usr/share/containers/seccomp.json")
    p.add_argument("--caps", default=",".join(PODMAN_CAPS), help="capabilities the container keeps")
    a = p.parse_args()
    with open(a.profile) as f:
        json.dump(convert(json.load(f), a.caps.split(",")), sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
