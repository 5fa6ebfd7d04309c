"""Label switching during PIT training: how often an example's best assignment changes between epochs.

Huang et al. (2021) measure it per training utterance: record the best permutation of every
example in each epoch; the switching rate is the fraction of the examples seen in two consecutive
epochs whose permutation changed. Examples are keyed by their dataset index (``batch["index"]``),
which survives shuffling. The measure is about the *same* mixture in both epochs, so it is
meaningful on fixed training sets (LibriMix, WHAM!) or with ``data.new_mixtures_each_epoch=false``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

Permutation = tuple[int, ...]
Record = dict[int, Permutation]
CSV_NAME = "switch_rate.csv"  # in the run folder: one row per epoch that has a rate
CSV_COLUMNS = ("epoch", "step", "examples", "switched", "switch_rate")


@dataclass(frozen=True)
class SwitchCount:
    """Examples seen in both epochs and how many of them changed permutation."""

    examples: int
    switched: int

    @property
    def rate(self) -> float | None:
        """The switching rate, or ``None`` when no example was seen in both epochs."""
        return self.switched / self.examples if self.examples else None


def count_switches(previous: Mapping[int, Sequence[int]], current: Mapping[int, Sequence[int]]) -> SwitchCount:
    """Compare two epochs' records (example id -> best permutation) on the examples both hold."""
    common = previous.keys() & current.keys()
    switched = sum(tuple(previous[i]) != tuple(current[i]) for i in common)
    return SwitchCount(len(common), switched)


class PermutationRecord:
    """Best permutation per example for the last finished epoch and the running one; survives resume."""

    def __init__(self) -> None:
        self.previous: Record = {}  # the last finished epoch (all ranks)
        self.current: Record = {}  # this epoch on this rank, since the (re)start
        self.carried: Record = {}  # this epoch before a resume (all ranks)

    def add(self, indices: Sequence[int], perms: Sequence[Sequence[int]]) -> None:
        """Record a batch: dataset indices ``(B,)`` and their best assignments ``(B, N)``."""
        for index, perm in zip(indices, perms):
            self.current[int(index)] = tuple(int(p) for p in perm)

    def epoch_so_far(self, gathered: Record) -> Record:
        """This epoch's record on all ranks, given the union of the ranks' ``current`` records."""
        return {**self.carried, **gathered}

    def end_epoch(self, gathered: Record) -> SwitchCount:
        """Close the epoch (``gathered``: the ranks' ``current`` records merged); returns its count vs the last."""
        record = self.epoch_so_far(gathered)
        count = count_switches(self.previous, record)
        self.previous, self.current, self.carried = record, {}, {}
        return count

    def state(self, gathered: Record) -> dict[str, Any]:
        """Plain lists of ints (checkpoints load with ``weights_only=True``)."""
        return {
            "previous": {i: list(p) for i, p in self.previous.items()},
            "current": {i: list(p) for i, p in self.epoch_so_far(gathered).items()},
        }

    def load(self, state: Mapping[str, Any]) -> None:
        """Restore what ``state`` returned; the running epoch continues from it."""
        self.previous = {int(i): tuple(p) for i, p in state.get("previous", {}).items()}
        self.carried = {int(i): tuple(p) for i, p in state.get("current", {}).items()}
        self.current = {}


def append_csv(run_dir: str | Path, epoch: int, step: int, count: SwitchCount) -> Path:
    """Add one epoch's row to ``<run_dir>/switch_rate.csv`` (header written with the first row)."""
    path = Path(run_dir) / CSV_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.is_file() or path.stat().st_size == 0
    with path.open("a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(CSV_COLUMNS)
        writer.writerow([epoch, step, count.examples, count.switched, f"{count.rate:.6f}"])
    return path


def read_csv(run_dir: str | Path) -> dict[int, float]:
    """Epoch -> switching rate from a run folder's ``switch_rate.csv`` (a resumed epoch's last row wins)."""
    path = Path(run_dir) / CSV_NAME
    if not path.is_file():
        return {}
    with path.open(newline="") as f:
        return {int(row["epoch"]): float(row["switch_rate"]) for row in csv.DictReader(f)}
