"""Time how long the CLI takes to start (`sepkit --help`, `sepkit models`, ...) against a bare `import torch`.

Each command runs in a fresh process, in interleaved rounds so that both sides share the same load;
the table gives medians and each command's time as a share of `python -c "import torch"` (goal: < 0.25).
Run: python benchmarks/startup.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASELINE = "python -c 'import torch'"


def sepkit_command() -> list[str]:
    """The installed console script beside this interpreter, else the module behind it."""
    script = Path(sys.executable).with_name("sepkit")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "sepkit.cli.main"]


def wall_seconds(argv: list[str]) -> float:
    """Wall time of one run of ``argv`` to its exit (output discarded); a failure stops the benchmark."""
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="Timed runs of each command (after one warm-up).")
    args = parser.parse_args()
    sepkit = sepkit_command()
    commands = {
        BASELINE: [sys.executable, "-c", "import torch"],
        "python -c pass": [sys.executable, "-c", "pass"],
        "sepkit --help": [*sepkit, "--help"],
        "sepkit models": [*sepkit, "models"],
        "sepkit enhance --help": [*sepkit, "enhance", "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for round_ in range(args.rounds + 1):
        names = list(commands)
        names = names[round_ % len(names) :] + names[: round_ % len(names)]  # rotate the order every round
        for name in names:
            seconds = wall_seconds(commands[name])
            if round_:  # round 0 warms the file cache
                times[name].append(seconds)
    base = statistics.median(times[BASELINE])
    print(f"{args.rounds} rounds, medians; python {sys.version.split()[0]}")
    print(f"{'command':<28}{'seconds':>9}{'share of import torch':>24}")
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"{name:<28}{median:>9.3f}{median / base:>24.2f}")


if __name__ == "__main__":
    main()
