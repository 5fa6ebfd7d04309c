"""Denoising pretraining for separation: the switching-rate measure, partial warm starts, the tiny recipe end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from sepkit.errors import ConfigError
from sepkit.models import build_model
from sepkit.pretrained import ModelConfig, export_model
from sepkit.train.config import load_config
from sepkit.train.run import train
from sepkit.train.switching import PermutationRecord, SwitchCount, count_switches, read_csv
from sepkit.train.warm_start import init_from_config, init_weights

RECIPE = Path(__file__).resolve().parent.parent / "recipes" / "denoise_pretrain"
TINY = {
    "n_filters": 32,
    "kernel_size": 16,
    "bn_chan": 16,
    "hid_chan": 32,
    "skip_chan": 16,
    "n_blocks": 2,
    "n_repeats": 1,
    "sample_rate": 8000,
}
MASK = ["net.masker.mask_net.1.bias", "net.masker.mask_net.1.weight"]  # the projection to n_src masks
QUICK = ["trainer.enable_progress_bar=false", "validation.metrics=[]"]


# ---- the switching rate ------------------------------------------------------------------------
def test_switch_rate_is_zero_when_stable_one_when_all_swap_and_partial_otherwise() -> None:
    before = {0: (0, 1), 1: (1, 0), 2: (0, 1), 3: (0, 1)}
    assert count_switches(before, dict(before)) == SwitchCount(4, 0) and count_switches(before, before).rate == 0.0
    swapped = {i: tuple(reversed(p)) for i, p in before.items()}
    assert count_switches(before, swapped).rate == 1.0
    partial = {**before, 1: (0, 1)}
    assert count_switches(before, partial) == SwitchCount(4, 1) and count_switches(before, partial).rate == 0.25
    # only examples seen in both epochs count; three speakers compare whole permutations
    assert count_switches({0: (0, 1, 2), 5: (2, 1, 0)}, {0: (0, 2, 1), 7: (1, 0, 2)}) == SwitchCount(1, 1)
    assert count_switches({}, before).rate is None


def test_permutation_record_closes_epochs_and_survives_a_checkpoint() -> None:
    record = PermutationRecord()
    record.add([3, 1], [[0, 1], [1, 0]])
    assert record.end_epoch(dict(record.current)).rate is None  # nothing to compare with yet
    record.add([3], [[1, 0]])  # half of the next epoch ...
    saved = json.loads(json.dumps(record.state(dict(record.current))))  # plain data, as in a checkpoint
    resumed = PermutationRecord()
    resumed.load(saved)
    resumed.add([1], [[1, 0]])  # ... and the rest after a resume
    assert resumed.end_epoch(dict(resumed.current)) == SwitchCount(2, 1)


# ---- warm start from a denoiser ------------------------------------------------------------------
def _export(net: torch.nn.Module, out: Path, n_src: int, args: dict) -> Path:
    config = ModelConfig(
        arch="conv_tasnet", args={**args, "n_src": n_src}, sample_rate=8000, task="enhance", n_src=n_src, name=out.name
    )
    return export_model(net, out, config, "---\ntraining_data: none (test)\n---\n# test\n")


def test_warm_start_copies_every_weight_but_the_mask_projection(tmp_path: Path) -> None:
    torch.manual_seed(1)
    denoiser = build_model("conv_tasnet", n_src=1, **TINY)
    source = _export(denoiser, tmp_path / "denoiser", 1, TINY)
    torch.manual_seed(2)
    separator = build_model("conv_tasnet", n_src=2, **TINY)
    own = {k: v.clone() for k, v in separator.state_dict().items()}

    report = init_weights(separator, source, "conv_tasnet")

    assert sorted(report.skipped_by_shape) == MASK and report.skipped_by_name == []
    assert report.skipped_by_shape["net.masker.mask_net.1.weight"] == [[64, 16, 1], [32, 16, 1]]
    pretrained, now = denoiser.state_dict(), separator.state_dict()
    assert sorted(report.copied) == sorted(set(now) - set(MASK))
    for name in report.copied:
        torch.testing.assert_close(now[name], pretrained[name], rtol=0, atol=0)
    for name in MASK:  # left as the separator initialised them
        torch.testing.assert_close(now[name], own[name], rtol=0, atol=0)

    skipping = init_weights(build_model("conv_tasnet", n_src=2, **TINY), source, "conv_tasnet", skip=["*decoder*"])
    assert skipping.skipped_by_name == ["net.decoder.filterbank._filters"]


def test_warm_start_refuses_what_is_more_than_a_shape_change(tmp_path: Path) -> None:
    source = _export(build_model("conv_tasnet", n_src=1, **TINY), tmp_path / "denoiser", 1, TINY)
    deeper = build_model("conv_tasnet", n_src=2, **{**TINY, "n_blocks": 3})
    with pytest.raises(ConfigError, match="differ in more than shapes"):
        init_weights(deeper, source, "conv_tasnet")
    with pytest.raises(ConfigError, match="it is a conv_tasnet model"):
        init_weights(deeper, source, "dprnn")
    config = {"model": {"arch": "conv_tasnet"}, "init": {"from": str(source), "bogus": 1}}
    with pytest.raises(ConfigError, match="init.bogus"):
        init_from_config(deeper, config)


# ---- the tiny recipe end to end ----------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny pretrain (8 steps) -> fine-tune (3 epochs of 4 steps), each from the recipe's configs."""
    root = tmp_path_factory.mktemp("denoise_pretrain")
    pretrained = train(
        load_config(
            RECIPE / "tiny_pretrain.yaml",
            [
                f"output_dir={root / 'pretrain'}",
                "trainer.max_steps=8",
                "data.train.n_items=16",
                "data.valid.n_items=4",
                *QUICK,
            ],
        )
    )
    train(
        load_config(
            RECIPE / "tiny_finetune.yaml",
            [
                f"output_dir={root / 'finetune'}",
                f"init.from={pretrained}",
                "trainer.max_steps=12",
                "data.train.n_items=16",
                "data.valid.n_items=4",
                *QUICK,
            ],
        )
    )
    return {"pretrain": root / "pretrain", "export": pretrained, "finetune": root / "finetune"}


@pytest.mark.slow
def test_tiny_pretrain_then_finetune_starts_from_the_denoiser(tiny_runs: dict[str, Path]) -> None:
    report = json.loads((tiny_runs["finetune"] / "init.json").read_text())
    assert report["source"] == str(tiny_runs["export"])
    assert sorted(report["skipped_by_shape"]) == MASK and len(report["copied"]) > 30
    card = (tiny_runs["finetune"] / "export" / "config.json").read_text()
    assert json.loads(card)["n_src"] == 2
    # the fine-tuning run's own config names its initialisation
    assert str(tiny_runs["export"]) in (tiny_runs["finetune"] / "config.yaml").read_text()


@pytest.mark.slow
def test_the_switching_rate_is_recorded_for_every_epoch_after_the_first(tiny_runs: dict[str, Path]) -> None:
    rates = read_csv(tiny_runs["finetune"])
    assert sorted(rates) == [1, 2] and all(0.0 <= r <= 1.0 for r in rates.values())
    with (tiny_runs["finetune"] / "switch_rate.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["examples"]) for r in rows] == [16, 16]  # every example was seen in both epochs
    logged = {}
    for path in (tiny_runs["finetune"] / "logs").glob("version_*/metrics.csv"):
        logged.update(
            {
                int(r["epoch"]): float(r["train/switch_rate"])
                for r in csv.DictReader(path.open())
                if r.get("train/switch_rate")
            }
        )
    assert logged == pytest.approx(rates, abs=1e-6)
    assert not (tiny_runs["pretrain"] / "switch_rate.csv").exists()  # one output: nothing to permute


@pytest.mark.slow
def test_a_training_checkpoint_is_a_valid_init_source(tiny_runs: dict[str, Path]) -> None:
    ckpt = tiny_runs["pretrain"] / "checkpoints" / "last.ckpt"
    separator = build_model("conv_tasnet", n_src=2, **TINY)
    report = init_weights(separator, ckpt, "conv_tasnet")
    assert sorted(report.skipped_by_shape) == MASK
    weights = torch.load(ckpt, weights_only=True)["state_dict"]
    name = "net.encoder.filterbank._filters"
    torch.testing.assert_close(separator.state_dict()[name], weights["net." + name], rtol=0, atol=0)


@pytest.mark.slow
def test_the_comparison_table_and_plot_cover_every_run_in_order(tiny_runs: dict[str, Path], tmp_path: Path) -> None:
    import subprocess
    import sys

    script = RECIPE / "plot_switching.py"
    png, table = tmp_path / "cmp.png", tmp_path / "cmp.md"
    runs = ["--run", f"fine-tuned={tiny_runs['finetune']}", "--run", f"denoiser={tiny_runs['pretrain']}"]
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            *runs,
            "--pretrain",
            str(tiny_runs["pretrain"]),
            "--png",
            str(png),
            "--table",
            str(table),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert png.stat().st_size > 1000
    rows = [line for line in table.read_text().splitlines() if line.startswith("| ") and "`" in line]
    assert [r.split(" (`")[0] for r in rows] == ["| fine-tuned", "| denoiser"]
    assert "denoising-pretrained" in rows[0] and "| random |" in rows[1]
    assert "(denoiser's best)" in table.read_text()  # the first run from random weights is the baseline
    assert "learned filterbank" in rows[0] and "Pretraining (`pretrain`" in table.read_text()
    bad = subprocess.run(
        [sys.executable, str(script), *runs, "--baseline", "nope", "--png", str(png)], capture_output=True, text=True
    )
    assert bad.returncode != 0 and "is not one of the --run labels" in bad.stderr
