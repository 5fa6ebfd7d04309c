"""The typer application object and the error policy every command shares.

User errors (``SepkitError``) print one line on stderr and exit 2; ``--debug`` shows the
traceback instead. Commands register themselves on ``app`` (or ``data_app``) on import.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

app = typer.Typer(
    name="sepkit",
    help="Speech enhancement and separation: enhance, separate, score, train.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
data_app = typer.Typer(help="Build manifests and corpora.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(data_app, name="data")


class _State:
    debug = False
    argv: list[str] = []  # the command's arguments, for records such as model cards


state = _State()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Speech enhancement and separation toolkit."""
    state.debug = debug


def report(message: str) -> None:
    """Print one error line on stderr (the CLI's only way to report a bad input)."""
    text = " ".join(str(message).split())  # one line, always
    print(f"sepkit: error: {text}", file=sys.stderr, flush=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Report and exit with ``code``."""
    report(message)
    raise typer.Exit(code)
