#!/usr/bin/env python3
"""Throughput of the utility functions against their stdlib references.

    .venv/bin/python bench/util_bench.py [--size 1048576] [--repeat 5]

Prints MB/s for large inputs and calls/s for small ones, ours vs hashlib / base64 /
binascii / hmac (which use OpenSSL or zlib with hand-tuned assembly, so they are the
upper bound rather than a target). Timing numbers live here, never in tests.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import timeit

import cymongoose as cm


def rate(fn, arg, repeat: int, number: int) -> float:
    """Best-of-repeat calls per second."""
    best = min(timeit.repeat(lambda: fn(arg), repeat=repeat, number=number))
    return number / best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1 << 20, help="large input size in bytes")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    big = bytes(range(256)) * (args.size // 256)
    small = b"GET /api/v1/items?id=42 HTTP/1.1"
    b64big = base64.b64encode(big).decode()
    pairs = [
        ("md5", cm.md5, lambda d: hashlib.md5(d).digest()),
        ("sha1", cm.sha1, lambda d: hashlib.sha1(d).digest()),
        ("sha256", cm.sha256, lambda d: hashlib.sha256(d).digest()),
        ("hmac_sha256", lambda d: cm.hmac_sha256(b"key", d),
         lambda d: hmac.new(b"key", d, hashlib.sha256).digest()),
        ("crc32", cm.crc32, binascii.crc32),
        ("base64_encode", cm.base64_encode, lambda d: base64.b64encode(d).decode()),
    ]
    mb = len(big) / 1e6
    print(f"{'function':<16}{'ours MB/s':>12}{'stdlib MB/s':>13}{'ours calls/s':>15}"
          f"{'stdlib calls/s':>16}")
    for name, ours, ref in pairs:
        assert ours(big) == ref(big) and ours(small) == ref(small), name
        big_ours = rate(ours, big, args.repeat, 3) * mb
        big_ref = rate(ref, big, args.repeat, 3) * mb
        small_ours = rate(ours, small, args.repeat, 20000)
        small_ref = rate(ref, small, args.repeat, 20000)
        print(f"{name:<16}{big_ours:>12.0f}{big_ref:>13.0f}{small_ours:>15.0f}"
              f"{small_ref:>16.0f}")
    assert cm.base64_decode(b64big) == big
    dec_ours = rate(cm.base64_decode, b64big, args.repeat, 3) * mb
    dec_ref = rate(base64.b64decode, b64big, args.repeat, 3) * mb
    print(f"{'base64_decode':<16}{dec_ours:>12.0f}{dec_ref:>13.0f}")
    doc = '{"a": {"b": [1, 2, {"c": "deep"}]}, "pad": "' + "x" * 200 + '"}'
    print(f"json_get small doc: {rate(lambda d: cm.json_get(d, '$.a.b[2].c'), doc, args.repeat, 20000):.0f} calls/s")
    print(f"match route: {rate(lambda s: cm.match(s, '/api/*/items/#'), '/api/v1/items/4/x', args.repeat, 20000):.0f} calls/s")


if __name__ == "__main__":
    main()
