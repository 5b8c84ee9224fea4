"""Ed25519: the C verifier (mg_ed25519_verify) agrees with the `cryptography` package.

Random keys and messages are signed with `cryptography` (OpenSSL), then every signature,
plain and corrupted (a bit of R, S, the key or the message flipped; S + L; another key;
the message cut short), is checked by both verifiers, which must give the same answer.
The C side is build/host/ed25519_cli (`make host`), one process for the whole batch.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(os.environ.get("MG_HOST_DIR", ROOT / "build" / "host")) / "ed25519_cli"
L = 2**252 + 27742317777372353535851937790883648493
KEYS = 40
MESSAGES_PER_KEY = 5

Case = tuple[bytes, bytes, bytes]  # public key, signature, message


def reference(case: Case) -> bool:
    pub, sig, msg = case
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
    except InvalidSignature:
        return False
    return True


def ours(cases: list[Case]) -> list[bool]:
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing: build it first with `make host`")
    lines = "".join(f"{p.hex()} {s.hex()} {m.hex()}\n" for p, s, m in cases)
    out = subprocess.run(
        [str(CLI)], input=lines, capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    assert len(out) == len(cases), out[:5]
    assert set(out) <= {"0", "1"}, out[:5]
    return [v == "1" for v in out]


def flip(b: bytes, bit: int) -> bytes:
    a = bytearray(b)
    a[bit // 8] ^= 1 << (bit % 8)
    return bytes(a)


def make_cases(rng: random.Random) -> tuple[list[Case], int]:
    cases: list[Case] = []
    valid = 0
    keys = [Ed25519PrivateKey.generate() for _ in range(KEYS)]
    pubs = [k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) for k in keys]
    for i, key in enumerate(keys):
        for _ in range(MESSAGES_PER_KEY):
            msg = rng.randbytes(rng.choice([0, 1, 31, 64, 111, 112, 128, 200, 1000]))
            sig = key.sign(msg)
            pub = pubs[i]
            cases.append((pub, sig, msg))
            valid += 1
            cases.append((pub, flip(sig, rng.randrange(256)), msg))  # in R
            cases.append((pub, flip(sig, 256 + rng.randrange(256)), msg))  # in S
            cases.append((flip(pub, rng.randrange(256)), sig, msg))
            if msg:
                cases.append((pub, sig, flip(msg, rng.randrange(8 * len(msg)))))
                cases.append((pub, sig, msg[:-1]))
            cases.append((pubs[(i + 1) % KEYS], sig, msg))
            s_plus_l = int.from_bytes(sig[32:], "little") + L
            cases.append((pub, sig[:32] + s_plus_l.to_bytes(32, "little"), msg))
    return cases, valid


def test_agrees_with_cryptography() -> None:
    rng = random.Random(8032)
    cases, valid = make_cases(rng)
    want = [reference(c) for c in cases]
    got = ours(cases)
    assert sum(want) == valid  # every honest signature, no corrupted one
    mismatches = [(c[0].hex(), c[1].hex(), c[2].hex()) for c, w, g in zip(cases, want, got) if w != g]
    assert mismatches == [], f"{len(mismatches)} of {len(cases)} differ, first: {mismatches[0]}"


def test_degenerate_keys_agree() -> None:
    """The neutral element as key (legal for RFC 8032, accepted by a cofactorless verifier)
    and as R. Its non-canonical spellings as a key (y = p + 1; x = 0 with the sign bit) are
    refused by us, as RFC 8032 section 5.1.3 says, while OpenSSL accepts them: the one place
    the two differ, and never for a key that a signer produced (those are canonical)."""
    one = bytes([1]) + bytes(31)
    y_p1 = (2**255 - 18).to_bytes(32, "little")  # y = p + 1
    neg0 = one[:31] + b"\x80"  # x = 0 with the sign bit
    base = bytes([0x58]) + bytes([0x66]) * 31  # encoding of B
    sig_s1 = base + (1).to_bytes(32, "little")  # R = B, S = 1
    sig_s0 = one + bytes(32)  # R = neutral, S = 0
    cases: list[Case] = [
        (one, sig_s1, b"any"),
        (y_p1, sig_s1, b"any"),
        (neg0, sig_s1, b"any"),
        (one, sig_s0, b""),
        (one, y_p1 + bytes(32), b""),
    ]
    got = ours(cases)
    assert got == [True, False, False, True, False]
    assert [reference(cases[i]) for i in (0, 3, 4)] == [got[i] for i in (0, 3, 4)]


def test_malformed_lines_answer_error() -> None:
    if not CLI.exists():
        pytest.fail(f"{CLI} is missing: build it first with `make host`")
    out = subprocess.run(
        [str(CLI)], input="zz\n00 11\n", capture_output=True, text=True, timeout=30, check=True
    ).stdout.splitlines()
    assert len(out) == 2 and all(line.startswith("error:") for line in out)


# ---- On the device: examples/ed25519_bench under QEMU --------------------------------------

FW_DIR = Path(os.environ.get("MG_FW_DIR", ROOT / "build" / "fw"))
EMULATED = ("mps2-an385", "mps2-an505", "lm3s6965evb", "riscv32-virt")


@pytest.mark.qemu
@pytest.mark.parametrize("board", EMULATED)
def test_device_verifies_rfc_vectors(board: str) -> None:
    """The bench app checks RFC 8032 vectors on the board (valid accepted, tampered refused)
    before it times anything; its exit status is the verdict."""
    from cymongoose.device.boards import load_boards

    elf = (FW_DIR if board == "mps2-an385" else ROOT / "build" / f"fw-{board}") / "ed25519_bench.elf"
    if not elf.exists():
        pytest.fail(f"{elf} is missing: build the firmware first with `make fw`")
    q = load_boards(include_user=False).get(board).qemu
    binary = str(q.get("binary", "qemu-system-arm"))
    cmd = [binary, "-M", str(q["machine"]), *map(str, q.get("args", [])),
           "-serial", "stdio", "-nic", "none", "-kernel", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    out = proc.stdout.replace("\r", "")
    assert "ed25519 selftest: ok" in out, out + proc.stderr
    assert "ed25519 verify: runs=" in out and "FAILED" not in out, out
    assert proc.returncode == 0, out + proc.stderr
