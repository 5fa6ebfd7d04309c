"""Console entry point: builds the app from the command modules and applies the error policy."""

from __future__ import annotations

import sys
import traceback

from sepkit.cli.app import app, report, state
from sepkit.errors import SepkitError


def _register_commands() -> None:
    # Importing a command module registers its commands on the app.
    import importlib

    for module in ("enhance", "score", "evaluate", "models", "data", "train", "personalize"):
        try:
            importlib.import_module(f"sepkit.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"sepkit.cli.{module}":
                raise


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    _register_commands()
    args = sys.argv[1:] if argv is None else argv
    state.debug = "--debug" in args
    state.argv = list(args)
    try:
        rc = app(args=args, prog_name="sepkit", standalone_mode=False)
        return rc if isinstance(rc, int) else 0
    except SystemExit as exc:
        return int(exc.code or 0) if not isinstance(exc.code, str) else 1
    except SepkitError as exc:
        if state.debug:
            traceback.print_exc()
        report(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        report("interrupted")
        return 130
    except Exception as exc:  # a bug, not a user error: one line unless --debug
        import click

        if isinstance(exc, click.exceptions.Exit):
            return exc.exit_code
        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        if isinstance(exc, click.exceptions.Abort):
            report("aborted")
            return 1
        if state.debug:
            traceback.print_exc()
        report(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return 1


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
