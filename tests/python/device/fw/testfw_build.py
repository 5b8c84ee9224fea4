"""Build the SDK test firmware with arm-none-eabi-gcc (used by conftest and bench)."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
CFLAGS = ["-mcpu=cortex-m3", "-mthumb", "-Os", "-g", "-Wall", "-Wextra", "-Werror",
          "-ffreestanding", "-nostdlib", "-Wl,--gc-sections"]


def build_testfw(out_dir: Path, *, pad_kib: int = 0, period_ms: int = 200,
                 name: str | None = None) -> Path:
    """Compile testfw.c into ``out_dir``; return the ELF path.

    With ``pad_kib`` the image carries that many KiB of pseudo-random words and
    prints ``pad sum=N`` at boot; :func:`pad_sum` gives the expected N.
    """
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        raise FileNotFoundError("arm-none-eabi-gcc")
    out_dir.mkdir(parents=True, exist_ok=True)
    elf = out_dir / (name or f"testfw_p{pad_kib}_t{period_ms}.elf")
    defs = [f"-DPAD_KIB={pad_kib}", f"-DPERIOD_MS={period_ms}u"]
    if pad_kib:
        rng = random.Random(pad_kib)  # deterministic contents per size
        words = ",".join(f"0x{rng.getrandbits(32):08x}u" for _ in range(pad_kib * 256))
        (out_dir / "pad.h").write_text(
            f"const struct pad pad_table = {{{{{words}}}}};\n"
        )
    subprocess.run(
        [gcc, *CFLAGS, *defs, f"-I{out_dir}", "-T", str(HERE / "testfw.ld"),
         "-o", str(elf), str(HERE / "testfw.c"), "-lgcc"],
        check=True, capture_output=True, text=True, timeout=60,
    )
    return elf


def pad_sum(pad_kib: int) -> int:
    rng = random.Random(pad_kib)
    return sum(rng.getrandbits(32) for _ in range(pad_kib * 256)) & 0xFFFFFFFF
