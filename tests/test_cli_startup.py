"""A fast start: `sepkit --help`, `sepkit models` and every command's --help run without importing torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

# Runs the CLI in a fresh interpreter and reports its exit codes and whether torch got imported.
_PROBE = """
import contextlib, io, json, sys
from sepkit.cli.main import main
runs = json.loads(sys.argv[1])
out = io.StringIO()
with contextlib.redirect_stdout(out):
    codes = [main(args) for args in runs]
if runs == [["--help"]]:  # then list every command and subcommand and ask each for --help
    import typer.main
    from sepkit.cli.app import app

    def paths(group, prefix):
        for name, cmd in getattr(group, "commands", {}).items():
            yield prefix + [name]
            yield from paths(cmd, prefix + [name])

    runs = [p + ["--help"] for p in paths(typer.main.get_command(app), [])]
    with contextlib.redirect_stdout(out):
        codes += [main(args) for args in runs]
print(json.dumps({"codes": codes, "runs": runs, "out": out.getvalue(), "torch": "torch" in sys.modules}))
"""


def probe(*runs: list[str]) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(list(runs))], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("args", [["models"], ["enhance", "--help"], ["data", "demo", "--help"]])
def test_command_starts_without_torch(args: list[str]) -> None:
    result = probe(args)
    assert result["codes"] == [0]
    assert not result["torch"], f"sepkit {' '.join(args)} imported torch"
    if args == ["models"]:
        assert "enhance-default" in result["out"]  # it did read the shipped models' cards


def test_help_of_every_command_starts_without_torch() -> None:
    result = probe(["--help"])
    names = {" ".join(run[:-1]) for run in result["runs"]}
    assert {"enhance", "separate", "score", "models", "train", "data", "data demo"} <= names
    assert set(result["codes"]) == {0}
    assert not result["torch"], "some command module imports torch at the top (see sepkit/cli/app.py)"
