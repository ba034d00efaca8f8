"""A host harness that talks to a Nomad task-driver plugin the way a Nomad 1.6
client does (shared/reference/nomad-driver-protocol.md): go-plugin launch and
handshake, gRPC calls through grpc's generic API, go-cty msgpack config
through the plugin's own hclspec, alloc/task dirs, log FIFOs read like
logmon, and cleanup of processes and cgroups left behind.

Needs Debian's /usr/bin/python3 (grpcio, protobuf 3.21) and protoc.
"""
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cty  # noqa: E402
import nomadhost  # noqa: E402

# The host-side helpers (alloc dirs, log readers, cleanup) are part of this module's interface.
globals().update({name: getattr(nomadhost, name) for name in nomadhost.__all__})

COOKIE = "e4327c2e01eabfd75a8a67adb114fb34a757d57eee7728d857a8cec6e91a7255"
BASE = "/hashicorp.nomad.plugins.base.proto.BasePlugin/"
DRIVER = "/hashicorp.nomad.plugins.drivers.proto.Driver/"
HCLOG_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(Z|[+-]\d\d:\d\d)$")


class PB:
    """The _pb2 modules, generated with protoc into out_dir at test time."""

    def __init__(self, proto_dir, out_dir):
        files = sorted(str(p.relative_to(proto_dir)) for p in Path(proto_dir).rglob("*.proto"))
        subprocess.run(["protoc", "-I", str(proto_dir), f"--python_out={out_dir}", *files],
                       check=True, capture_output=True, text=True)
        sys.path.insert(0, str(out_dir))
        from google.protobuf import duration_pb2, timestamp_pb2
        from plugins.base.proto import base_pb2
        from plugins.drivers.proto import driver_pb2
        from plugins.shared.hclspec import hcl_spec_pb2
        self.base, self.drv, self.hcl = base_pb2, driver_pb2, hcl_spec_pb2
        self.Duration, self.Timestamp = duration_pb2.Duration, timestamp_pb2.Timestamp

    def duration(self, seconds):
        d = self.Duration()
        d.FromNanoseconds(int(seconds * 1e9))
        return d


# ---------------------------------------------------------------- hclspec -> cty value

def spec_fields(spec):
    """{key: (kind, hcl_type, required, default_literal)} of an hclspec Object."""
    if spec.WhichOneof("block") != "object":
        raise ValueError(f"root spec is {spec.WhichOneof('block')}, not object")
    out = {}
    for key, s in spec.object.attributes.items():
        kind, default = s.WhichOneof("block"), None
        if kind == "default":
            default = s.default.default.literal.value
            s, kind = s.default.primary, s.default.primary.WhichOneof("block")
        if kind == "Attr":
            out[key] = ("attr", s.Attr.type, s.Attr.required, default)
        else:
            out[key] = (kind, "", False, default)
    return out


def hcl_literal(text):
    """An hclspec Literal is an HCL expression; the ones drivers use are JSON-shaped."""
    return json.loads(text)


def spec_value(fields, values, validate=True):
    """The cty object hcldec would produce: every key, defaults applied, None for
    unset.  validate=False lets a test send what hcldec would have refused."""
    unknown = set(values) - set(fields)
    if validate and unknown:
        raise KeyError(f"keys not in the schema: {sorted(unknown)}")
    obj = {}
    for key, (kind, _type, required, default) in fields.items():
        if key in values:
            obj[key] = values[key]
        elif default is not None:
            obj[key] = hcl_literal(default)
        elif validate and required:
            raise KeyError(f"required key {key!r} missing")
        else:
            obj[key] = [] if kind in ("block_list", "block_set") else None
    for key in unknown:
        obj[key] = values[key]
    return obj


def encode_config(fields, values, validate=True):
    return cty.encode(spec_value(fields, values, validate))


# ---------------------------------------------------------------- the plugin process

class Skip(Exception):
    pass


class HandshakeError(Exception):
    pass


class Plugin:
    """One launch of the plugin binary, as go-plugin's client does it."""

    def __init__(self, path, args=(), cookie=COOKIE):
        env = dict(os.environ, PLUGIN_PROTOCOL_VERSIONS="2", PLUGIN_MIN_PORT="10000", PLUGIN_MAX_PORT="25000")
        if cookie is not None:
            env["NOMAD_PLUGIN_MAGIC_COOKIE"] = cookie
        self.proc = subprocess.Popen([path, *args], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self.first_line, self.stdout_rest, self.stderr_lines = None, b"", []
        self._got_line = threading.Event()
        self.channel, self.addr = None, None
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self._stderr_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_thread.start()

    def _read_stdout(self):
        self.first_line = self.proc.stdout.readline()
        self._got_line.set()
        for chunk in iter(lambda: self.proc.stdout.read(4096), b""):
            self.stdout_rest += chunk  # go-plugin reads and discards the rest

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.stderr_lines.append(line.decode(errors="replace").rstrip("\n"))

    def handshake(self, timeout=20.0):
        """Parses the first stdout line and connects; returns the fields."""
        if not self._got_line.wait(timeout):
            raise HandshakeError(f"no handshake line within {timeout}s")
        line = self.first_line.decode(errors="replace")
        if not line.endswith("\n"):
            raise HandshakeError(f"stdout closed before a full handshake line: {line!r}; stderr {self.stderr_tail()}")
        f = line.rstrip("\n").split("|")
        if len(f) < 5 or f[0] != "1" or f[1] != "2" or f[2] != "unix" or f[4] != "grpc":
            raise HandshakeError(f"handshake line {line!r} is not 1|2|unix|PATH|grpc[|...]")
        if not f[3].startswith("/") or not Path(f[3]).is_socket():
            raise HandshakeError(f"handshake address {f[3]!r} is not an absolute path to a socket")
        self.addr = f[3]
        self.channel = grpc.insecure_channel("unix:" + self.addr, options=[
            ("grpc.max_send_message_length", 2**31 - 1), ("grpc.max_receive_message_length", 2**31 - 1)])
        grpc.channel_ready_future(self.channel).result(timeout=10)
        return f

    def stderr_tail(self, n=5):
        return self.stderr_lines[-n:]

    def bad_log_lines(self):
        """stderr lines that are not hclog JSON with @level/@message/@timestamp."""
        bad = []
        for line in list(self.stderr_lines):
            try:
                e = json.loads(line)
                ok = (e.get("@level") in ("trace", "debug", "info", "warn", "error") and "@message" in e
                      and ("@timestamp" not in e or HCLOG_TIME.match(str(e["@timestamp"]))))
            except ValueError:
                ok = False
            if not ok:
                bad.append(line)
        return bad

    def alive(self):
        return self.proc.poll() is None

    def shutdown(self):
        """go-plugin Kill(): GRPCController.Shutdown, wait 2 s, then SIGKILL.
        Returns True if the plugin exited by itself."""
        try:
            self.channel.unary_unary("/plugin.GRPCController/Shutdown")(b"", timeout=2)
        except grpc.RpcError:
            pass
        try:
            self.proc.wait(2)
            clean = True
        except subprocess.TimeoutExpired:
            clean = False
        self.kill()
        return clean

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.channel:
            self.channel.close()
        self._stderr_thread.join(2)
        # A SIGKILLed plugin cannot remove its socket (a Go plugin's neither).
        if self.addr and os.path.exists(self.addr):
            os.unlink(self.addr)


# ---------------------------------------------------------------- gRPC client

class Streamed:
    """Consumes a server stream in a thread, like the client's long-lived streams."""

    def __init__(self, call):
        self.call, self.items, self.error, self.done = call, [], None, False
        self.cond = threading.Condition()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        try:
            for item in self.call:
                with self.cond:
                    self.items.append((time.monotonic(), item))
                    self.cond.notify_all()
        except grpc.RpcError as e:
            self.error = e
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def wait_count(self, n, timeout):
        with self.cond:
            self.cond.wait_for(lambda: len(self.items) >= n or self.done, timeout)
            return len(self.items) >= n

    def cancel(self):
        self.call.cancel()


class Client:
    def __init__(self, plugin, pb):
        self.ch, self.pb = plugin.channel, pb

    def _unary(self, path, req, resp, timeout=30, future=False):
        fn = self.ch.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                                 response_deserializer=resp.FromString)
        return fn.future(req, timeout=timeout) if future else fn(req, timeout=timeout)

    def _stream(self, path, req, resp, timeout=None):
        fn = self.ch.unary_stream(path, request_serializer=lambda m: m.SerializeToString(),
                                  response_deserializer=resp.FromString)
        return fn(req, timeout=timeout)

    def health(self):
        """grpc.health.v1 Check("plugin"); returns the status number (1 = SERVING)."""
        raw = self.ch.unary_unary("/grpc.health.v1.Health/Check")(b"\x0a\x06plugin", timeout=5)
        return raw[1] if raw[:1] == b"\x08" else 0

    def plugin_info(self):
        b = self.pb.base
        return self._unary(BASE + "PluginInfo", b.PluginInfoRequest(), b.PluginInfoResponse)

    def config_schema(self):
        b = self.pb.base
        return self._unary(BASE + "ConfigSchema", b.ConfigSchemaRequest(), b.ConfigSchemaResponse)

    def set_config(self, msgpack, api_version="v0.1.0", nomad=True):
        b = self.pb.base
        req = b.SetConfigRequest(msgpack_config=msgpack, plugin_api_version=api_version)
        if nomad:
            req.nomad_config.driver.ClientMaxPort, req.nomad_config.driver.ClientMinPort = 14512, 14000
        return self._unary(BASE + "SetConfig", req, b.SetConfigResponse)

    def task_config_schema(self):
        d = self.pb.drv
        return self._unary(DRIVER + "TaskConfigSchema", d.TaskConfigSchemaRequest(), d.TaskConfigSchemaResponse)

    def capabilities(self):
        d = self.pb.drv
        return self._unary(DRIVER + "Capabilities", d.CapabilitiesRequest(), d.CapabilitiesResponse)

    def fingerprint(self):
        d = self.pb.drv
        return Streamed(self._stream(DRIVER + "Fingerprint", d.FingerprintRequest(), d.FingerprintResponse))

    def task_events(self):
        d = self.pb.drv
        return Streamed(self._stream(DRIVER + "TaskEvents", d.TaskEventsRequest(), d.DriverTaskEvent))

    def start_task(self, task_config):
        d = self.pb.drv
        return self._unary(DRIVER + "StartTask", d.StartTaskRequest(task=task_config), d.StartTaskResponse)

    def recover_task(self, handle):
        d = self.pb.drv
        return self._unary(DRIVER + "RecoverTask", d.RecoverTaskRequest(handle=handle), d.RecoverTaskResponse)

    def wait_task(self, task_id, timeout=30, future=False):
        d = self.pb.drv
        return self._unary(DRIVER + "WaitTask", d.WaitTaskRequest(task_id=task_id), d.WaitTaskResponse,
                           timeout=timeout, future=future)

    def stop_task(self, task_id, timeout_s=5, sig="", rpc_timeout=60):
        d = self.pb.drv
        req = d.StopTaskRequest(task_id=task_id, timeout=self.pb.duration(timeout_s), signal=sig)
        return self._unary(DRIVER + "StopTask", req, d.StopTaskResponse, timeout=rpc_timeout)

    def destroy_task(self, task_id, force=True):
        d = self.pb.drv
        return self._unary(DRIVER + "DestroyTask", d.DestroyTaskRequest(task_id=task_id, force=force),
                           d.DestroyTaskResponse)

    def inspect_task(self, task_id):
        d = self.pb.drv
        return self._unary(DRIVER + "InspectTask", d.InspectTaskRequest(task_id=task_id), d.InspectTaskResponse)

    def signal_task(self, task_id, sig):
        d = self.pb.drv
        return self._unary(DRIVER + "SignalTask", d.SignalTaskRequest(task_id=task_id, signal=sig),
                           d.SignalTaskResponse)

    def task_stats(self, task_id, interval=1.0):
        d = self.pb.drv
        req = d.TaskStatsRequest(task_id=task_id, collection_interval=self.pb.duration(interval))
        return Streamed(self._stream(DRIVER + "TaskStats", req, d.TaskStatsResponse))

    def exec_task(self, task_id, argv, timeout_s=0, rpc_timeout=30):
        d = self.pb.drv
        req = d.ExecTaskRequest(task_id=task_id, command=argv, timeout=self.pb.duration(timeout_s))
        return self._unary(DRIVER + "ExecTask", req, d.ExecTaskResponse, timeout=rpc_timeout)

    def exec_streaming(self, task_id, argv, tty=False, timeout=30, setup=True):
        return ExecSession(self, task_id, argv, tty, timeout, setup)

    def create_network(self, alloc_id, hostname=""):
        d = self.pb.drv
        return self._unary(DRIVER + "CreateNetwork", d.CreateNetworkRequest(alloc_id=alloc_id, hostname=hostname),
                           d.CreateNetworkResponse)

    def destroy_network(self, alloc_id, spec=None):
        d = self.pb.drv
        req = d.DestroyNetworkRequest(alloc_id=alloc_id)
        if spec is not None:
            req.isolation_spec.CopyFrom(spec)
        return self._unary(DRIVER + "DestroyNetwork", req, d.DestroyNetworkResponse)


class ExecSession:
    """ExecTaskStreaming as `nomad alloc exec` drives it: setup first, then
    stdin / tty_size / empty heartbeats; collects what the server sends."""

    def __init__(self, client, task_id, argv, tty, timeout, send_setup=True):
        d = client.pb.drv
        self.d, self.q, self.out, self.err, self.msgs = d, [], b"", b"", []
        self.cond = threading.Condition()
        self.closed_in, self.error, self.done = False, None, False
        fn = client.ch.stream_stream(DRIVER + "ExecTaskStreaming", request_serializer=lambda m: m.SerializeToString(),
                                     response_deserializer=d.ExecTaskStreamingResponse.FromString)
        setup = d.ExecTaskStreamingRequest()
        setup.setup.task_id, setup.setup.tty = task_id, tty
        setup.setup.command.extend(argv)
        if send_setup:
            self.q.append(setup)
        self.call = fn(self._requests(), timeout=timeout)
        threading.Thread(target=self._read, daemon=True).start()

    def _requests(self):
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.q or self.closed_in or self.done)
                if not self.q:
                    return
                msg = self.q.pop(0)
            yield msg

    def send(self, msg):
        with self.cond:
            self.q.append(msg)
            self.cond.notify_all()

    def stdin(self, data=b"", close=False):
        m = self.d.ExecTaskStreamingRequest()
        m.stdin.data, m.stdin.close = data, close
        self.send(m)

    def resize(self, height, width):
        m = self.d.ExecTaskStreamingRequest()
        m.tty_size.height, m.tty_size.width = height, width
        self.send(m)

    def heartbeat(self):
        self.send(self.d.ExecTaskStreamingRequest())

    def end_requests(self):
        with self.cond:
            self.closed_in = True
            self.cond.notify_all()

    def _read(self):
        try:
            for m in self.call:
                with self.cond:
                    self.msgs.append(m)
                    self.out += m.stdout.data
                    self.err += m.stderr.data
                    self.cond.notify_all()
        except grpc.RpcError as e:
            self.error = e
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def wait_output(self, needle, timeout=10):
        with self.cond:
            return self.cond.wait_for(lambda: needle in self.out or self.done, timeout) and needle in self.out

    def wait_done(self, timeout=15):
        with self.cond:
            self.cond.wait_for(lambda: self.done, timeout)
        self.end_requests()
        return self.done

    def exit_message(self):
        ex = [m for m in self.msgs if m.exited]
        return ex[-1] if ex else None
