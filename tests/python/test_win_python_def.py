"""scripts/win_python_def.py: the export list of CPython's Windows DLL, read from its headers, that
`make test-windows` turns into the import library it links the cross-built extension against."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "win_python_def.py"


def _load() -> object:
    spec = importlib.util.spec_from_file_location("win_python_def", SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_functions_and_data_from_headers(tmp_path: Path) -> None:
    inc = tmp_path / "Include"
    (inc / "cpython").mkdir(parents=True)
    (inc / "internal").mkdir()
    (inc / "object.h").write_text(
        "#define PyAPI_FUNC(RTYPE) __declspec(dllimport) RTYPE\n"
        "PyAPI_FUNC(PyObject *) PyObject_Repr(PyObject *);\n"
        "PyAPI_FUNC(int) (PyObject_Print)(PyObject *, FILE *, int);\n"
        "Py_DEPRECATED(3.9) PyAPI_FUNC(void) PyOld(\n    void);\n"
        "PyAPI_FUNC(Py_ssize_t) \\\n  PySplit(PyObject *o);\n"
        "PyAPI_DATA(PyTypeObject) PyType_Type;\n"
        "/* PyAPI_FUNC(int) PyInComment(void); */\n")
    (inc / "cpython" / "more.h").write_text("PyAPI_DATA(PyObject *) PyExc_TypeError;\n")
    (inc / "internal" / "core.h").write_text("PyAPI_FUNC(int) _PyCoreOnly(void);\n")
    mod = _load()
    funcs, data = mod.exports(inc)  # type: ignore[attr-defined]
    assert funcs == {"PyObject_Repr", "PyObject_Print", "PyOld", "PySplit"}
    assert data == {"PyType_Type", "PyExc_TypeError"}


def test_too_few_functions_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x.h").write_text("PyAPI_FUNC(int) PyOne(void);\n")
    mod = _load()
    out = tmp_path / "py.def"
    assert mod.main(["x", str(tmp_path), "python311.dll", str(out)]) == 1  # type: ignore[attr-defined]
    assert "not CPython's headers" in capsys.readouterr().err and not out.exists()


def test_def_file_layout(tmp_path: Path) -> None:
    lines = "".join(f"PyAPI_FUNC(int) PyF{i}(void);\n" for i in range(600))
    (tmp_path / "x.h").write_text(lines + "PyAPI_DATA(int) PyD;\n")
    mod = _load()
    out = tmp_path / "py.def"
    assert mod.main(["x", str(tmp_path), "python311.dll", str(out)]) == 0  # type: ignore[attr-defined]
    text = out.read_text().splitlines()
    assert text[:2] == ["LIBRARY python311.dll", "EXPORTS"]
    assert "  PyF0" in text and "  PyD DATA" in text and len(text) == 2 + 600 + 1
