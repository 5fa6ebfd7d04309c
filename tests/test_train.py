"""The training spine: configs, the resumable loader, the tiny recipes end to end, export, user errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch

import sepkit
from sepkit.cli.main import main
from sepkit.errors import ConfigError
from sepkit.pretrained import read_card
from sepkit.train.config import load_config
from sepkit.train.loader import EpochBatchSampler, IndexedDataset, ResumableLoader

RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sepkit: error:")]
    assert len(lines) == 1, lines
    return lines[0]


# ---- configs ----------------------------------------------------------------------------------
def test_config_base_overrides_and_references(tmp_path: Path) -> None:
    _write(
        tmp_path / "common.yaml",
        "task: enhance\nsample_rate: 16000\nmodel: {arch: a, args: {x: 1, y: 2}}\n"
        "optim: {lr: 1e-3}\ndata: {batch_size: 4}\n",
    )
    cfg = load_config(
        _write(
            tmp_path / "run.yaml",
            "base: common.yaml\ncorpus: corpora/demo\nmodel: {args: {y: 3}}\n"
            "data: {train: {type: fixed, dir: '${corpus}/train'}}\noutput_dir: out\n",
        ),
        ["model.args.hidden=64", "trainer.max_steps=20", "data.batch_size=8", "optim.betas=[0.8, 0.9]"],
    )
    assert cfg["model"] == {"arch": "a", "args": {"x": 1, "y": 3, "hidden": 64}}
    assert cfg["optim"]["lr"] == pytest.approx(1e-3)  # YAML 1.1 would read 1e-3 as a string
    assert cfg["optim"]["betas"] == [0.8, 0.9]
    assert cfg["trainer"] == {"max_steps": 20} and cfg["data"]["batch_size"] == 8
    assert cfg["data"]["train"]["dir"] == "corpora/demo/train"


@pytest.mark.parametrize(
    ("text", "overrides", "message"),
    [
        (
            "task: enhance\nsample_rate: 8000\nmodel: {arch: a}\ndata: {train: {type: synthetic}}\noutput_dir: o\n"
            "bogus: 1\n",
            [],
            "unknown key 'bogus'",
        ),
        (
            "task: enhance\nsample_rate: 8000\nmodel: {arch: a}\ndata: {train: {type: synthetic}}\n",
            [],
            "missing required key 'output_dir'",
        ),
        (
            "task: enhance\nsample_rate: 8000\nmodel: {arch: a}\ndata: {train: {type: synthetic}}\noutput_dir: o\n",
            ["trainer.max_steps"],
            "not of the form key.path=value",
        ),
        (
            "task: denoise\nsample_rate: 8000\nmodel: {arch: a}\ndata: {train: {type: synthetic}}\noutput_dir: o\n",
            [],
            "task must be one of",
        ),
        (
            "task: enhance\nsample_rate: 8000\nmodel: {arch: a}\ndata: {train: {path: '${corpus}/x'}}\noutput_dir: o\n",
            [],
            "refers to 'corpus'",
        ),
        ("base: missing.yaml\n", [], "config file not found"),
    ],
)
def test_config_errors_name_the_key(tmp_path: Path, text: str, overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path / "c.yaml", text), overrides)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["unknown_section.x=1"], "unknown key 'unknown_section'"),
        (["trainer.max_stepz=3"], "trainer.max_stepz"),
        (["trainer.logger=false"], "trainer.logger is set by sepkit"),
        (["data.train.type=nope"], "unknown dataset type 'nope'"),
        (["data.train.colour=red"], "unknown key 'colour' for type synthetic"),
        (["loss.si_sdrr=1"], "loss.si_sdrr"),
        (["model.arch=no_such_model"], "unknown model architecture"),
    ],
)
def test_cli_config_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], overrides: list[str], message: str
) -> None:
    rc = main(["train", str(RECIPES / "enhance" / "tiny.yaml"), f"output_dir={tmp_path / 'run'}", *overrides])
    assert rc == 2
    assert message in _one_error_line(capsys)


def test_cli_missing_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(tmp_path / "nope.yaml")]) == 2
    assert "config file not found" in _one_error_line(capsys)


# ---- resumable order --------------------------------------------------------------------------
def test_epoch_order_is_deterministic_and_shards_are_disjoint() -> None:
    ranks = [EpochBatchSampler(22, 3, seed=5, rank=r, world_size=2) for r in (0, 1)]
    assert len(ranks[0]) == 3  # 11 items per rank -> 3 full batches of 3
    flat = [sorted(i for b in s.batches(4) for i in b) for s in ranks]
    assert not set(flat[0]) & set(flat[1])
    assert ranks[0].batches(4) == EpochBatchSampler(22, 3, seed=5, rank=0, world_size=2).batches(4)
    assert ranks[0].batches(4) != ranks[0].batches(5)


class _EpochAware(torch.utils.data.Dataset):
    """Item value = 100 * epoch + index, like an on-the-fly mixer that draws new mixtures per epoch."""

    epoch = 0

    def __len__(self) -> int:
        return 10

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __getitem__(self, i: int) -> dict:
        return {"mixture": np.full(4, 100 * self.epoch + i, np.float32), "sources": np.zeros((1, 4), np.float32)}


def test_loader_state_continues_mid_epoch_and_rolls_over() -> None:
    def loader() -> ResumableLoader:
        return ResumableLoader(IndexedDataset(_EpochAware()), EpochBatchSampler(10, 2, seed=1))

    def values(batches: list) -> list[int]:
        return [int(v) for b in batches for v in b["mixture"][:, 0]]

    full = loader()
    epoch0, epoch1 = values(list(full)), values(list(full))
    assert sorted(epoch0) == list(range(10)) and sorted(epoch1) == list(range(100, 110))
    assert [v - 100 for v in epoch1] != epoch0  # reshuffled
    interrupted = loader()
    it = iter(interrupted)
    seen = values([next(it), next(it)])
    state = interrupted.state_dict()
    assert state == {"epoch": 0, "position": 2}
    resumed = loader()
    resumed.load_state_dict(state)
    assert seen + values(list(resumed)) == epoch0
    assert values(list(resumed)) == epoch1  # the next pass is the next epoch


# ---- the tiny recipes end to end --------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["enhance", "pit"])
def test_tiny_recipe_trains_exports_and_loads(tmp_path: Path, recipe: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    argv = [
        "train",
        str(RECIPES / recipe / "tiny.yaml"),
        f"output_dir={out}",
        f"export.dir={out / 'model'}",
        "trainer.max_steps=12",
        "checkpoint.every_n_train_steps=4",
        "trainer.enable_progress_bar=false",
    ]
    assert main(argv) == 0
    assert capsys.readouterr().out.strip().endswith(str(out / "model"))
    model = sepkit.load(out / "model", device="cpu")
    x = np.random.default_rng(0).standard_normal(4000).astype(np.float32) * 0.1
    if recipe == "enhance":
        assert model.task == "enhance" and model.enhance(x, 8000).shape == x.shape
    else:
        assert model.task == "separate" and model.separate(x, 8000).shape == (2, *x.shape)
    meta, body = read_card(out / "model")
    assert {"si_sdri", "si_sdr", "pesq", "estoi"} <= set(meta["scores"])
    assert meta["steps"] == 12 and meta["parameters"] > 0 and meta["device"]
    assert meta["scores_note"].startswith("validation set at the exported step")
    assert meta["scores_step"] == meta["exported_step"]
    assert meta["command"].startswith("sepkit train ") and "trainer.max_steps=12" in meta["command"]
    assert (out / "config.yaml").is_file() and list((out / "logs").glob("version_0/metrics.csv"))
    for ckpt in ("last.ckpt", "best.ckpt", "step-12.ckpt"):  # safe to load: no pickled objects
        state = torch.load(out / "checkpoints" / ckpt, map_location="cpu", weights_only=True)
        assert state["hyper_parameters"]["config"]["task"] == model.task

    # Rerunning the finished command resumes at its end: no more steps, the same export.
    assert main(argv) == 0
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 12
    assert main([*argv, "--no-resume"]) == 2
    assert "already holds a run" in _one_error_line(capsys)

    # A checkpoint exports on its own too.
    assert main(["export", str(out / "checkpoints" / "step-8.ckpt"), str(tmp_path / "step8")]) == 0
    assert read_card(tmp_path / "step8")[0]["exported_step"] == 8
    assert sepkit.load(tmp_path / "step8", device="cpu").n_src == model.n_src
    # step-N.ckpt is written before step N's validation: its card says whose scores it carries.
    step8_card = read_card(tmp_path / "step8")[0]
    assert (
        step8_card["scores"] == {}
        and step8_card["scores_note"] == "no validation scores recorded before the exported step"
    )
    assert main(["export", str(out / "checkpoints" / "step-12.ckpt"), str(tmp_path / "step12")]) == 0
    step12_card = read_card(tmp_path / "step12")[0]
    assert step12_card["scores_step"] == 8 and step12_card["scores"]
    assert step12_card["scores_note"].startswith("validation set at step 8, the last validation before")

    # --average: the mean of two checkpoints' weights, carded as such; checkpoints of another network refused.
    ckpts = out / "checkpoints"
    assert (
        main(["export", str(ckpts / "step-12.ckpt"), str(tmp_path / "avg"), "--average", str(ckpts / "step-8.ckpt")])
        == 0
    )
    avg_card = read_card(tmp_path / "avg")[0]
    assert avg_card["averaged_steps"] == [12, 8] and avg_card["scores"] == {} and avg_card["steps"] == 12
    states = [torch.load(ckpts / f"step-{n}.ckpt", weights_only=True)["state_dict"] for n in (12, 8)]
    averaged = safetensors.torch.load_file(tmp_path / "avg" / "model.safetensors")
    for key, value in averaged.items():
        torch.testing.assert_close(value, (states[0]["net." + key] + states[1]["net." + key]) / 2)
    assert any(not torch.equal(states[0][k], states[1][k]) for k in states[0])  # the two differ: a real mean
    other = torch.load(ckpts / "step-8.ckpt", weights_only=True)
    other["state_dict"].pop(next(iter(other["state_dict"])))
    torch.save(other, tmp_path / "other.ckpt")
    assert (
        main(["export", str(ckpts / "step-12.ckpt"), str(tmp_path / "bad"), "--average", str(tmp_path / "other.ckpt")])
        == 2
    )
    assert "holds other tensors" in _one_error_line(capsys) and not (tmp_path / "bad").exists()
    # A model folder (here step 8's export) averages as its checkpoint does, and is named in the card.
    assert (
        main(["export", str(ckpts / "step-12.ckpt"), str(tmp_path / "avgdir"), "--average", str(tmp_path / "step8")])
        == 0
    )
    from_folder = safetensors.torch.load_file(tmp_path / "avgdir" / "model.safetensors")
    assert from_folder.keys() == averaged.keys()
    for key, value in from_folder.items():
        torch.testing.assert_close(value, averaged[key])
    folder_card = read_card(tmp_path / "avgdir")[0]
    assert folder_card["averaged_steps"] == [12, "step8"] and folder_card["steps"] == 12
    assert "model folder step8" in folder_card["scores_note"]
    wrong = json.loads((tmp_path / "step8" / "config.json").read_text())
    wrong["arch"] = "not_this_network"
    shutil.copytree(tmp_path / "step8", tmp_path / "wrongdir")
    (tmp_path / "wrongdir" / "config.json").write_text(json.dumps(wrong))
    assert (
        main(["export", str(ckpts / "step-12.ckpt"), str(tmp_path / "bad"), "--average", str(tmp_path / "wrongdir")])
        == 2
    )
    assert "another network" in _one_error_line(capsys) and not (tmp_path / "bad").exists()
    # ... and as ONNX, which onnxruntime runs as PyTorch does
    assert main(["export", str(out / "checkpoints" / "step-8.ckpt"), str(tmp_path / "onnx8"), "--format", "onnx"]) == 0
    onnx = sepkit.load(tmp_path / "onnx8", backend="onnx")
    assert read_card(tmp_path / "onnx8")[0]["exported_step"] == 8 and onnx.n_src == model.n_src
    step8 = sepkit.load(tmp_path / "step8", device="cpu", chunk_seconds=8.0)
    run = (lambda m: m.enhance(x, 8000)) if recipe == "enhance" else (lambda m: m.separate(x, 8000))
    assert np.abs(run(onnx) - run(step8)).max() < 1e-4


@pytest.mark.slow
def test_tiny_pit_recipe_separates_three_speakers(tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = [
        "train",
        str(RECIPES / "pit" / "tiny.yaml"),
        f"output_dir={out}",
        "model.args.n_src=3",
        "data.train.n_src=3",
        "data.valid.n_src=3",
        "trainer.max_steps=3",
        "trainer.enable_progress_bar=false",
    ]
    assert main(argv) == 0
    model = sepkit.load(out / "export", device="cpu")
    assert model.separate(np.zeros(4000, np.float32), 8000).shape == (3, 4000)
    assert read_card(out / "export")[0]["n_src"] == 3


def test_export_rejects_a_foreign_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch.save({"state_dict": {}}, tmp_path / "other.ckpt")
    assert main(["export", str(tmp_path / "other.ckpt"), str(tmp_path / "out")]) == 2
    assert "not a sepkit training checkpoint" in _one_error_line(capsys)
