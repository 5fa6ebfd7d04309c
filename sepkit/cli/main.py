"""Console entry point: builds the app from the command modules and applies the error policy."""

from __future__ import annotations

import importlib
import sys
import traceback

from sepkit.cli.app import COMMAND_MODULES, app, report, state
from sepkit.errors import SepkitError


def _register_commands() -> None:
    """Import every command module; each registers its commands on the app (see sepkit/cli/app.py)."""
    for module in COMMAND_MODULES:
        importlib.import_module(f"sepkit.cli.{module}")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code.

    Typer runs in standalone mode, so usage errors (unknown command or option, missing argument)
    print the command's usage hint and exit 2, and --help exits 0.
    """
    _register_commands()
    args = sys.argv[1:] if argv is None else argv
    state.debug = "--debug" in args
    state.argv = list(args)
    try:
        app(args=args, prog_name="sepkit", standalone_mode=True)
        return 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except SepkitError as exc:
        if state.debug:
            traceback.print_exc()
        report(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        report("interrupted")
        return 130
    except Exception as exc:  # a bug, not a user error: one line unless --debug
        if state.debug:
            traceback.print_exc()
        report(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return 1


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
