"""Board map: packaged boards, user overrides, lab ports, malformed files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cymongoose.device import boards as b
from cymongoose.device.errors import BoardError

PYTHON_SRC = Path(__file__).resolve().parents[3] / "python"


def load(*files: Path, env: dict[str, str] | None = None) -> b.BoardMap:
    return b.load_boards(files, env=env or {"HOME": "/nonexistent"})


def test_packaged_boards_describe_the_reference_and_build_only_boards() -> None:
    m = load()
    qemu = m.get("mps2-an385")
    assert qemu.cpu == "cortex-m3" and qemu.boot == "qemu"
    assert qemu.qemu["machine"] == "mps2-an385"
    assert qemu.network["driver"] == "lan9118"
    assert qemu.console["uart"] == "uart0"
    assert set(qemu.image_formats) >= {"elf", "bin"}
    code = qemu.region_of(0x100)
    assert code is not None and code.kind == "flash" and code.start == 0 and code.size == 4 << 20
    assert qemu.region_of(0x20000000 + 16).kind == "ram"
    assert qemu.region_of(0x10000000) is None
    f7 = m.get("nucleo-f746zg")
    assert f7.build_only and f7.cpu == "cortex-m7" and "openocd" in f7.flash
    assert f7.region_of(0x08000000).kind == "flash"
    w = m.get("w5500-evb-pico")
    assert w.network["driver"] == "w5500" and w.build_only
    assert m.get("host").boot == "host"


def test_unknown_board_lists_the_known_ones() -> None:
    with pytest.raises(BoardError, match=r"unknown board 'nope'.*mps2-an385"):
        load().get("nope")


def test_user_file_overrides_single_keys_and_adds_boards_and_ports(tmp_path: Path) -> None:
    f = tmp_path / "lab.toml"
    f.write_text(
        """
[boards.nucleo-f746zg.console]
port = "rfc2217://rack1.lab:4001"

[boards.my-board]
cpu = "cortex-m4"
boot = "serial"
flash = ["pyocd"]
memory = [{ name = "flash", kind = "flash", start = 0x08000000, size = 0x80000 }]
pyocd = { target = "stm32f411re" }

[ports]
desk = "socket://127.0.0.1:7777"
[ports.rack-f7]
url = "rfc2217://rack1.lab:4001"
board = "nucleo-f746zg"
baudrate = 921600
"""
    )
    m = load(f)
    f7 = m.get("nucleo-f746zg")
    assert f7.console_port == "rfc2217://rack1.lab:4001"
    assert f7.console["uart"] == "usart3"  # untouched keys survive the merge
    assert "lab.toml" in f7.source and "nucleo-f746zg/board.toml" in f7.source
    mine = m.get("my-board")
    assert mine.pyocd["target"] == "stm32f411re" and mine.flash == ("pyocd",)
    assert m.resolve_port("desk").url == "socket://127.0.0.1:7777"
    rack = m.resolve_port("rack-f7")
    assert rack.board == "nucleo-f746zg" and rack.baudrate == 921600
    assert m.resolve_port("/dev/ttyACM3").url == "/dev/ttyACM3"


def test_env_and_xdg_files_are_merged_in_order(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg" / "cymongoose"
    cfg.mkdir(parents=True)
    (cfg / "boards.toml").write_text('[boards.host]\ndescription = "from xdg"\n')
    extra = tmp_path / "extra.toml"
    extra.write_text('[boards.host]\ndescription = "from env"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    assert b.load_boards(env=env).get("host").description == "from xdg"
    env["CYMONGOOSE_BOARDS"] = str(extra)
    assert b.load_boards(env=env).get("host").description == "from env"
    env["CYMONGOOSE_BOARDS"] = str(tmp_path / "missing.toml")
    with pytest.raises(BoardError, match="missing.toml"):
        b.load_boards(env=env)



def test_env_names_board_folders(tmp_path: Path) -> None:
    """$CYMONGOOSE_BOARDS may name a folder of board folders: each board.toml adds a
    board named after its folder, or overrides a packaged one key by key."""
    lab = tmp_path / "lab"
    (lab / "my-f411").mkdir(parents=True)
    (lab / "my-f411" / "board.toml").write_text(
        'cpu = "cortex-m4"\nboot = "serial"\nflash = ["pyocd"]\n'
        'memory = [{ name = "flash", kind = "flash", start = 0x08000000, size = 0x80000 }]\n')
    (lab / "nucleo-f746zg").mkdir()
    (lab / "nucleo-f746zg" / "board.toml").write_text('console = { port = "/dev/ttyACM7" }\n')
    (lab / "notes").mkdir()  # a folder without board.toml is not a board
    m = b.load_boards(env={"HOME": "/nonexistent", "CYMONGOOSE_BOARDS": str(lab)})
    assert m.get("my-f411").cpu == "cortex-m4" and m.get("my-f411").region_of(0x08000000)
    f7 = m.get("nucleo-f746zg")
    assert f7.console_port == "/dev/ttyACM7" and f7.console["uart"] == "usart3"
    assert "notes" not in m.boards
    (tmp_path / "empty").mkdir()
    with pytest.raises(BoardError, match="without board.toml"):
        b.load_boards(env={"HOME": "/nonexistent", "CYMONGOOSE_BOARDS": str(tmp_path / "empty")})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[boards.x\n", "not valid TOML"),
        ('[boards.x]\ncpu = "m3"\nboot = "usb"\n', "boot must be one of"),
        ('[boards.x]\ncpu = "m3"\nboot = "serial"\nflash = ["jtagulator"]\n', "unknown flash backend"),
        ('[boards.x]\ncpu = "m3"\nboot = "serial"\nmemory = [{kind = "rom", start = 0, size = 1}]\n',
         "kind must be flash or ram"),
        ('[boards.x]\ncpu = "m3"\nboot = "serial"\nmemory = [{kind = "ram", start = "0", size = 1}]\n',
         "must be an integer"),
        ('[boards.x]\nboot = "serial"\n', "missing string key 'cpu'"),
        ('[boards.x]\ncpu = "m3"\nboot = "qemu"\n', "needs qemu.machine"),
        ('[ports.p]\nboard = "x"\n', "needs a url"),
        ('[ports.p]\nurl = "/dev/x"\nboard = "ghost"\n', "unknown board 'ghost'"),
        ("[lab]\nx = 1\n", "unknown top-level keys"),
    ],
)
def test_malformed_board_files_give_clear_errors(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(BoardError, match=message) as info:
        load(f)
    assert "bad.toml" in str(info.value) or "board 'x'" in str(info.value)


def test_device_package_imports_without_the_compiled_extension() -> None:
    code = (
        "import sys; sys.modules['cymongoose._mongoose'] = None\n"  # makes the import fail
        "import cymongoose.device as d\n"
        "from cymongoose.device import cli, pytest_plugin, flash, targets, gdbremote\n"
        "print(d.load_boards().get('mps2-an385').cpu)\n"
        "assert 'cymongoose._mongoose' not in sys.modules or sys.modules['cymongoose._mongoose'] is None\n"
    )
    env = dict(os.environ, PYTHONPATH=str(PYTHON_SRC))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "cortex-m3"


def test_test_table_picks_the_device_suite_app(tmp_path: Path) -> None:
    f = tmp_path / "lab.toml"
    f.write_text('[boards.mps2-an505.test]\napp = "device_app_http"\n'
                 '[boards.bad]\ncpu = "x"\nboot = "serial"\ntest = 3\n')
    with pytest.raises(BoardError, match=r"board 'bad' .*: test must be a table"):
        load(f)
    f.write_text('[boards.mps2-an505.test]\napp = "device_app_http"\n')
    m = load(f)
    assert m.get("mps2-an505").test == {"app": "device_app_http"}
    assert m.get("mps2-an505").cpu == "cortex-m33"  # the rest of the board is kept
    assert load().get("mps2-an505").test == {}
