"""go-cty msgpack encoding, as a Nomad 1.6 client produces it for
SetConfigRequest.msgpack_config and TaskConfig.msgpack_driver_config
(go-cty v1.12.1 cty/msgpack over vmihailenco/msgpack v4 with compact ints;
fact sheet §4.1).  The caller passes a value already shaped like the
spec's cty value: every object key present (None for unset), dicts for
objects and maps (cty iterates both in sorted key order), lists for
list/set/tuple.

    python3 cty.py      # checks the encoder against a hand-built vector
"""
import math
import struct

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def _int(n):
    if n >= 0:  # compact + non-negative: the unsigned forms
        if n < 0x80:
            return bytes([n])
        for code, fmt, lim in ((0xCC, ">B", 0xFF), (0xCD, ">H", 0xFFFF), (0xCE, ">I", 0xFFFFFFFF)):
            if n <= lim:
                return bytes([code]) + struct.pack(fmt, n)
        return b"\xcf" + struct.pack(">Q", n)
    if n >= -32:
        return struct.pack(">b", n)
    for code, fmt, lim in ((0xD0, ">b", 1 << 7), (0xD1, ">h", 1 << 15), (0xD2, ">i", 1 << 31)):
        if n >= -lim:
            return bytes([code]) + struct.pack(fmt, n)
    return b"\xd3" + struct.pack(">q", n)


def _len(n, fix, fixmax, codes):
    if n <= fixmax:
        return bytes([fix | n])
    for code, fmt, lim in codes:
        if n <= lim:
            return bytes([code]) + struct.pack(fmt, n)
    raise ValueError("too long")


def encode(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if INT64_MIN <= v <= INT64_MAX:
            return _int(v)
        return encode(float(v)) if float(v) == v else encode(str(v))  # not an int64: float64 if exact, else text
    if isinstance(v, float):
        if math.isfinite(v) and v.is_integer() and INT64_MIN <= v <= INT64_MAX:
            return _int(int(v))
        return b"\xcb" + struct.pack(">d", v)
    if isinstance(v, str):
        b = v.encode()
        return _len(len(b), 0xA0, 31, ((0xD9, ">B", 0xFF), (0xDA, ">H", 0xFFFF), (0xDB, ">I", 0xFFFFFFFF))) + b
    if isinstance(v, (list, tuple)):
        return _len(len(v), 0x90, 15, ((0xDC, ">H", 0xFFFF), (0xDD, ">I", 0xFFFFFFFF))) + b"".join(map(encode, v))
    if isinstance(v, dict):
        head = _len(len(v), 0x80, 15, ((0xDE, ">H", 0xFFFF), (0xDF, ">I", 0xFFFFFFFF)))
        return head + b"".join(encode(k) + encode(v[k]) for k in sorted(v))
    raise TypeError(f"no cty encoding for {type(v).__name__}")


# Built by hand from §4.1: object {args list(string), command string, count number,
# env map(string), flag bool, neg number, ratio number, unset string}.
VECTOR_VALUE = {"unset": None, "ratio": 0.5, "neg": -200, "flag": True, "env": {"B": "2", "A": "1"},
                "count": 300, "command": "/bin/sh", "args": ["-c", "x"]}
VECTOR_HEX = ("88" "a461726773" "92" "a22d63" "a178"
              "a7636f6d6d616e64" "a72f62696e2f7368"
              "a5636f756e74" "cd012c"
              "a3656e76" "82" "a141" "a131" "a142" "a132"
              "a4666c6167" "c3"
              "a36e6567" "d1ff38"
              "a5726174696f" "cb3fe0000000000000"
              "a5756e736574" "c0")
SCALARS = [(0, "00"), (127, "7f"), (128, "cc80"), (255, "ccff"), (256, "cd0100"), (70000, "ce00011170"),
           (1 << 40, "cf0000010000000000"), (-1, "ff"), (-32, "e0"), (-33, "d0df"), (-129, "d1ff7f"),
           (-40000, "d2ffff63c0"), (-(1 << 40), "d3ffffff0000000000"), (2.0, "02"), (1 << 64, "cb43f0000000000000"),
           (float("inf"), "cb7ff0000000000000"), ("x" * 40, "d928" + "78" * 40), (False, "c2"), ([], "90")]


def selftest():
    """Returns a list of mismatches (empty when the encoder matches the vectors)."""
    bad = []
    if encode(VECTOR_VALUE).hex() != VECTOR_HEX:
        bad.append(f"object vector: got {encode(VECTOR_VALUE).hex()} want {VECTOR_HEX}")
    for v, want in SCALARS:
        if encode(v).hex() != want:
            bad.append(f"{v!r:.20}: got {encode(v).hex()} want {want}")
    return bad


if __name__ == "__main__":
    problems = selftest()
    print("\n".join(problems) or "cty encoder matches the vectors")
    raise SystemExit(1 if problems else 0)
