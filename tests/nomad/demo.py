#!/usr/bin/python3
"""A short demo of nomad-driver-sworn, run by scripts/setup.sh: the harness
plays a Nomad 1.6 client, starts the plugin and runs one job written for the
pledge driver (only `driver` changed), then prints what the task wrote and
how it ended.  Usage: demo.py PLUGIN SWORN"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nomadlib as nl  # noqa: E402

# Shell builtins only: under unveil, only /bin/sh itself may be executed.
SCRIPT = ('read -r host < /etc/hostname; echo "hello from the task: pid $$, task dir $NOMAD_TASK_DIR, host $host"; '
          'echo note > "$NOMAD_TASK_DIR/note" && echo "wrote $NOMAD_TASK_DIR/note"; '
          '(read -r x < /etc/shadow) 2>/dev/null || echo "/etc/shadow: denied by unveil"')


def main():
    plugin_bin, sworn = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    base = nl.make_workdir()
    plugin = None
    try:
        pb = nl.PB(Path(__file__).resolve().parents[2] / "schemas/proto", base / "pb")
        plugin = nl.Plugin(plugin_bin)
        plugin.handshake()
        c = nl.Client(plugin, pb)
        info = c.plugin_info()
        print(f"plugin: {info.name} {info.plugin_version} (driver API {', '.join(info.plugin_api_versions)})")
        pfields = nl.spec_fields(c.config_schema().spec)
        c.set_config(nl.encode_config(pfields, {"sworn_path": sworn, "state_dir": str(base / "state"),
                                                "cgroup_parent": f"/{nl.CGROUP_PREFIX}demo-{os.getpid()}"}))
        tfields = nl.spec_fields(c.task_config_schema().spec)
        config = {"command": "/bin/sh", "args": ["-c", SCRIPT], "promises": "stdio rpath wpath cpath proc exec",
                  "unveil": ["rwc:/local", "r:/etc/hostname"]}
        alloc = nl.Alloc(base / "data", "demo")
        tc = alloc.task_config(pb, nl.encode_config(tfields, config))
        print(f"task config: {config}")
        c.start_task(tc)
        r = c.wait_task(tc.id, timeout=30).result
        alloc.stdout.wait_for("denied", 3)
        print("task stdout:\n  " + "\n  ".join(alloc.stdout.text().splitlines()))
        print(f"exit code {r.exit_code}, signal {r.signal}, oom_killed {r.oom_killed}")
        c.destroy_task(tc.id, True)
        return 0 if r.exit_code == 0 else 1
    finally:
        if plugin:
            plugin.shutdown()
        nl.remove_test_cgroups()
        nl.remove_workdir(base)


if __name__ == "__main__":
    sys.exit(main())
