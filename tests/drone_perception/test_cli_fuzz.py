"""#14: the command line never answers bad input with a traceback. Random bytes (or text) given as each kind of
input file, and odd numbers for numeric options: every run ends with a documented exit code (0-4, or argparse's
2) and, on error, one line on stderr; never "internal error" (exit 70) or a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drone_perception.cli import EXIT_INTERNAL, main

BYTES = st.one_of(st.binary(max_size=600), st.text(max_size=300).map(lambda t: t.encode("utf-8")))


def _call(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse refuses a value: exit 2 with usage
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def _check(code: int, err: str) -> None:
    assert code != EXIT_INTERNAL and "Traceback" not in err and "internal error" not in err, err
    assert code in (0, 1, 2, 3, 4), (code, err)
    if code == 2:
        assert err.strip(), "an error must say why"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=BYTES, kind=st.sampled_from(["config", "record", "mot", "tlog"]))
def test_any_bytes_as_an_input_file_give_a_clear_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       content: bytes, kind: str) -> None:
    f = tmp_path / {"config": "c.yaml", "record": "r.mcap", "mot": "det.txt", "tlog": "f.tlog"}[kind]
    f.write_bytes(content)
    argv = {
        "config": ["sim", "--config", str(f), "--duration-s", "0.5", "--no-record", "--out", str(tmp_path / "o")],
        "record": ["audit", str(f), "-o", str(tmp_path / "r.html")],
        "mot": ["track", "--mot", str(f), "--out", str(tmp_path / "res.txt")],
        "tlog": ["audit", str(f), "-o", str(tmp_path / "r.html")],
    }[kind]
    _check(*_call(argv, capsys))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(str), st.text(max_size=8)),
       option=st.sampled_from(["--duration-s", "--seed", "--wait-s"]))
def test_odd_numbers_for_numeric_options_give_a_clear_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                            value: str, option: str) -> None:
    argv = ["sim", "--scenario", "walk", "--duration-s", "0.5", "--no-record", "--out", str(tmp_path / "o"),
            option, value]
    _check(*_call(argv, capsys))
