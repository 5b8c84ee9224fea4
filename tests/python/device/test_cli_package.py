"""The command's subcommands are registered in one list: a module with add_parser() and
run() listed there is a subcommand, with the usual exit codes and error handling."""

from __future__ import annotations

import sys
import types

import pytest
from cymongoose.device import cli


def test_every_listed_module_is_a_subcommand_with_a_handler() -> None:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert list(sub.choices) == [m.lstrip(".") for m in cli.SUBCOMMANDS]  # type: ignore[attr-defined]
    for name, sp in sub.choices.items():  # type: ignore[attr-defined]
        assert callable(sp.get_default("handler")), name


def test_a_module_added_to_the_list_is_a_command(monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[str] = []
    mod = types.ModuleType("cym_test_extra_cmd")

    def add_parser(sub: object) -> None:
        s = sub.add_parser("extra", help="a test command")  # type: ignore[attr-defined]
        s.add_argument("word")
        s.add_argument("--board")

    def run(args: object, bmap: object) -> int:
        calls.append(args.word)  # type: ignore[attr-defined]
        return 0 if args.word == "ok" else cli.EXIT_FAIL  # type: ignore[attr-defined]

    mod.add_parser = add_parser  # type: ignore[attr-defined]
    mod.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "cym_test_extra_cmd", mod)
    monkeypatch.setattr(cli, "SUBCOMMANDS", (*cli.SUBCOMMANDS, "cym_test_extra_cmd"))
    assert cli.main(["extra", "ok"]) == 0 and calls == ["ok"]
    assert cli.main(["extra", "no"]) == 1
    # an unknown --board is still the main parser's usage error, with a hint
    assert cli.main(["extra", "ok", "--board", "mps2-an38"]) == cli.EXIT_USAGE
    assert "mps2-an385" in capsys.readouterr().err
