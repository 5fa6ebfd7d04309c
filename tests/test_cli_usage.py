"""Usage errors (unknown command or option, missing argument) get the usage hint and exit 2, never 'internal error'."""

from __future__ import annotations

import pytest

from sepkit.cli.main import main


@pytest.mark.parametrize(
    ("args", "usage", "problem"),
    [
        (["enhnce", "x.wav"], "Usage: sepkit", "No such command 'enhnce'"),
        (["enhance", "--bogus", "x.wav"], "Usage: sepkit enhance", "No such option: --bogus"),
        (["enhance"], "Usage: sepkit enhance", "Missing argument"),
        (["score", "--jobs", "many"], "Usage: sepkit score", "Invalid value for '--jobs'"),
        (["data", "prepare", "folder"], "Usage: sepkit data prepare", "Missing argument"),
        (["data", "nosuch"], "Usage: sepkit data", "No such command 'nosuch'"),
    ],
)
def test_usage_error_exits_2_with_hint(
    capsys: pytest.CaptureFixture[str], args: list[str], usage: str, problem: str
) -> None:
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 2, err
    assert usage in err and problem in err, err
    assert "--help" in err  # the hint where to read more
    assert "internal error" not in err and "Traceback" not in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["enhance", "--help"]) == 0
    assert "Usage: sepkit enhance" in capsys.readouterr().out
