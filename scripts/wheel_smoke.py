"""Smoke test of an installed cymongoose-sdk wheel, run with the interpreter it is installed in.

Used by tests/python/test_wheel.py (a fresh venv with the wheel from `make wheel`) and by
cibuildwheel's test-command. Run it from outside the source tree, so that `import cymongoose`
finds the installed copy. Prints one line per check; exits 1 at the first failure.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path


def check(what: str, ok: bool, detail: object = "") -> None:
    print(f"{'ok  ' if ok else 'FAIL'} {what}" + (f": {detail}" if detail != "" else ""),
          flush=True)
    if not ok:
        sys.exit(1)


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=60, check=False)


def main() -> None:
    import importlib.metadata

    import cymongoose as mg

    site = Path(mg.__file__).resolve().parent
    check("imports the installed copy", "site-packages" in site.parts, site)
    version = importlib.metadata.version("cymongoose-sdk")
    check("cymongoose.__version__ is the metadata version", mg.__version__ == version,
          mg.__version__)

    # OpenSSL comes with the wheel, not from the system. Linux: auditwheel bundles it and the
    # extension resolves libssl/libcrypto to the copies in cymongoose_sdk.libs, nothing missing.
    # macOS (release CI only, never run here): delocate puts them in cymongoose/.dylibs.
    ext = Path(mg._mongoose.__file__)
    if sys.platform == "darwin":
        names = [ln.split()[0] for ln in run("otool", "-L", str(ext)).stdout.splitlines()[1:]]
        ssl = [n for n in names if Path(n).name.startswith(("libssl", "libcrypto"))]
        check("libssl and libcrypto are the wheel's own copies",
              len(ssl) == 2 and all("/.dylibs/" in n for n in ssl), ssl)
    elif sys.platform == "win32":
        # Release CI only, never run here. TLS is compiled out of the Windows build (no OpenSSL
        # for it yet), so nothing is bundled; that the import above worked shows every DLL the
        # module links (python3XY, Winsock, the C runtime) was found.
        check("the extension is a Windows module", ext.suffix == ".pyd", ext.name)
    else:
        deps = [ln.split() for ln in run("ldd", str(ext)).stdout.splitlines() if "=>" in ln]
        libs = {d[0]: d[2] for d in deps if d[0].startswith(("libssl", "libcrypto"))}
        check("libssl and libcrypto are the wheel's own copies",
              len(libs) == 2 and all("cymongoose_sdk.libs" in p for p in libs.values()), libs)
        check("every library of the extension is found", all("not" not in d[2:3] for d in deps),
              [d for d in deps if "not" in d[2:3]])

    # An HTTP round trip: the manager serves, urllib fetches from another thread.
    def handler(conn: mg.Connection, ev: int, data: object) -> None:
        if ev == mg.MG_EV_HTTP_MSG and isinstance(data, mg.HttpMessage):
            conn.reply(200, f"hello {data.query_var('name')}\n")

    answers: list[object] = []
    with mg.Manager(handler) as mgr:
        port = mgr.listen("http://127.0.0.1:0").local_addr[1]

        def fetch() -> None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/?name=wheel",
                                            timeout=10) as resp:
                    answers.append((resp.status, resp.read().decode()))
            except OSError as exc:
                answers.append(exc)

        t = threading.Thread(target=fetch)
        t.start()
        for _ in range(400):
            if answers:
                break
            mgr.poll(25)
        t.join(5)
    check("HTTP round trip", answers == [(200, "hello wheel\n")], answers)

    # The console script next to this interpreter, and python -m cymongoose.
    script = Path(sys.executable).parent / "cymongoose"
    exe = str(script) if script.exists() else (shutil.which("cymongoose") or "cymongoose")
    for argv in ([exe, "--version"], [sys.executable, "-m", "cymongoose", "--version"]):
        out = run(*argv)
        check(" ".join(Path(a).name for a in argv),
              out.returncode == 0 and out.stdout.split()[:2] == ["cymongoose", version],
              out.stdout.strip() or out.stderr.strip())
    out = run(exe, "boards")
    check("cymongoose boards", out.returncode == 0 and "mps2-an385" in out.stdout,
          out.stderr.strip())
    out = run(exe, "boards", "--json")
    names = [b["name"] for b in json.loads(out.stdout)["boards"]] if out.returncode == 0 else []
    check("cymongoose boards --json", "mps2-an385" in names, names)
    out = run(exe, "doctor", "--json")
    checks = {c["name"]: c["status"] for c in json.loads(out.stdout)["checks"]} \
        if out.returncode in (0, 1) else {}
    check("cymongoose doctor --json: the extension is ok", checks.get("extension") == "ok", checks)
    print("wheel smoke test passed", flush=True)


if __name__ == "__main__":
    main()
