"""The task-generic training contract and the one warm start.

A paradigm declares the item keys it reads (``batch_keys``, ``valid_keys``) and the spine checks
them before training; the paradigms that used to fake a separator's batch (SSL encoders and SNR
estimators with ``n_src = 1``, unpaired items with all-zero ``sources``) train without the fake;
``personalize.init_from`` and ``snr_estimator.enhancer_from`` warm-start through
``sepkit.train.warm_start`` from the spine, which records them in ``init.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from sepkit.cli.main import main
from sepkit.errors import ConfigError
from sepkit.models import build_model
from sepkit.models.fast_enhancer import FastEnhancer
from sepkit.pretrained import ModelConfig, export_model, load_network, read_config
from sepkit.train.config import load_config
from sepkit.train.module import register_paradigm
from sepkit.train.run import train
from sepkit.train.supervised import SupervisedModule

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
# One optimiser step, no validation, no progress output: the cheapest run through the whole spine.
ONE_STEP = [
    "trainer.max_steps=1",
    "trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1",
    "checkpoint.every_n_train_steps=1",
    "data.valid=null",
    "data.train.n_items=4",
]
UNPAIRED = (
    "{type: unpaired, disjoint_by: none, clean: {type: synthetic, n_items: 4, segment_seconds: 0.5}, "
    "noisy: {type: synthetic, n_items: 4, segment_seconds: 0.5}}"
)

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: two threads contend on a busy 2-core machine


@register_paradigm("test_needs_speaker")
class _NeedsSpeaker(SupervisedModule):
    """A paradigm that also reads a speaker label, which no built-in dataset provides."""

    batch_keys = ("mixture", "sources", "speaker_id")


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sepkit: error:")]
    assert len(lines) == 1, lines
    return lines[0]


# ---- the contract: declared keys, checked before training ----------------------------------------
def test_a_declared_key_the_data_lacks_is_a_config_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "train",
        str(RECIPES / "enhance" / "tiny.yaml"),
        f"output_dir={tmp_path / 'run'}",
        "paradigm=test_needs_speaker",
        *ONE_STEP,
    ]
    assert main(argv) == 2
    line = _error_line(capsys)
    assert "data.train" in line and "test_needs_speaker" in line and "lack speaker_id" in line
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before any step


def test_a_validation_set_without_references_is_refused_for_paradigms_that_score_them(tmp_path: Path) -> None:
    config = load_config(
        RECIPES / "enhance" / "tiny.yaml", [f"output_dir={tmp_path / 'run'}", *ONE_STEP, f"data.valid={UNPAIRED}"]
    )
    with pytest.raises(ConfigError, match="data.valid: paradigm supervised reads mixture, sources .* lack sources"):
        train(config)


def test_cae_mae_names_the_unpaired_keys_a_paired_set_lacks(tmp_path: Path) -> None:
    config = load_config(
        RECIPES / "cae_mae" / "tiny.yaml",
        [
            f"output_dir={tmp_path / 'run'}",
            *ONE_STEP[:-1],
            "data.train={type: synthetic, n_items: 4, n_src: 1, segment_seconds: 0.5}",
        ],
    )
    with pytest.raises(ConfigError, match="lack clean, noise_only"):
        train(config)


def test_the_old_item_shape_checks_still_apply(tmp_path: Path) -> None:
    config = load_config(
        RECIPES / "enhance" / "tiny.yaml", [f"output_dir={tmp_path / 'run'}", *ONE_STEP, "data.train.n_src=2"]
    )
    with pytest.raises(ConfigError, match="data.train has 2 sources per item but the model has 1 outputs"):
        train(config)


# ---- the former fakes train one step without them ------------------------------------------------
def test_an_ssl_encoder_has_no_n_src_and_trains_a_step(tmp_path: Path) -> None:
    assert not hasattr(
        build_model(
            "ssl_encoder",
            sample_rate=8000,
            stem="logmel",
            n_mels=40,
            dim=32,
            layers=1,
            heads=2,
            pos_conv_kernel=16,
            pos_conv_groups=4,
        ),
        "n_src",
    )
    out = train(load_config(RECIPES / "ssl_pretrain" / "tiny_tera.yaml", [f"output_dir={tmp_path / 'run'}", *ONE_STEP]))
    config = read_config(out)
    assert (config.task, config.arch, config.n_src) == ("ssl", "ssl_encoder", 1)  # config.json's format is kept


@pytest.mark.parametrize("arch", ["snr_estimator", "enhancer_snr"])
def test_snr_estimators_have_no_n_src_and_train_a_step(tmp_path: Path, arch: str) -> None:
    extra = []
    if arch == "enhancer_snr":
        base = _fast_enhancer(tmp_path / "enh", 8000, n_fft=128, hop=32)
        extra = [
            "model.arch=enhancer_snr",
            "model.args={n_fft: 256, hop: 64, bands: 8, hidden: 8, layers: 1, "
            "enhancer: {n_fft: 128, hop: 32, hidden: 8, layers: 1}}",
            f"snr_estimator.enhancer_from={base}",
        ]
    config = load_config(RECIPES / "snr_estimator" / "tiny.yaml", [f"output_dir={tmp_path / 'run'}", *ONE_STEP, *extra])
    assert not hasattr(build_model(arch, **config["model"]["args"], sample_rate=8000), "n_src")
    out = train(config)
    assert (read_config(out).task, read_config(out).n_src) == ("snr", 1)


def test_cae_mae_trains_a_step_on_items_without_sources(tmp_path: Path) -> None:
    config = load_config(
        RECIPES / "cae_mae" / "tiny.yaml", [f"output_dir={tmp_path / 'run'}", *ONE_STEP[:-1], "data.train.length=4"]
    )
    from sepkit.train.datamodule import TrainingData

    assert "sources" not in TrainingData(config).train_set[0]
    assert read_config(train(config)).task == "enhance"


# ---- one warm start: personalize and the SNR estimator go through warm_start ---------------------
def _fast_enhancer(out: Path, rate: int, **args: Any) -> Path:
    torch.manual_seed(3)
    args = {"hidden": 8, "layers": 1, **args}
    net = FastEnhancer(sample_rate=rate, **args)
    with torch.no_grad():
        net.decode.weight.normal_(0, 0.3)  # unlike a fresh network's
    return export_model(
        net, out, ModelConfig("fast_enhancer", {**args, "sample_rate": rate}, rate, "enhance", 1, name=out.name)
    )


def test_personalize_init_from_warm_starts_through_the_spine_and_records_it(tmp_path: Path) -> None:
    base = _fast_enhancer(tmp_path / "base", 16000, n_fft=256, hop=64)  # 16 kHz: mapped to the run's 8 kHz
    config = load_config(
        RECIPES / "enhance" / "tiny.yaml",
        [
            f"output_dir={tmp_path / 'run'}",
            *ONE_STEP,
            "paradigm=personalize",
            f"personalize.init_from={base}",
            "model.args={n_fft: 128, hop: 32, hidden: 8, layers: 1}",
            "optim.lr=0.0",
            "validation.metrics=[]",
        ],
    )
    out = train(config)
    record = json.loads((tmp_path / "run" / "init.json").read_text())
    trained, _ = load_network(out)
    assert record["source"] == str(base) and record["from_rate"] == 16000 and record["into"] == ""
    assert sorted(record["copied"]) == sorted(trained.state_dict())  # every tensor, mapped by frequency
    mapped = FastEnhancer(sample_rate=8000, n_fft=128, hop=32, hidden=8, layers=1)
    mapped.load_from_rate(load_network(base)[0])
    for name, tensor in mapped.state_dict().items():  # lr 0: the exported weights are the warm start itself
        torch.testing.assert_close(trained.state_dict()[name], tensor)
    with pytest.raises(ConfigError, match="keep init.from only"):
        train({**config, "init": {"from": str(base)}})


def test_enhancer_from_warm_starts_through_the_spine_and_records_it(tmp_path: Path) -> None:
    base = _fast_enhancer(tmp_path / "enh", 8000, n_fft=128, hop=32)
    out = train(
        load_config(
            RECIPES / "snr_estimator" / "tiny.yaml",
            [
                f"output_dir={tmp_path / 'run'}",
                *ONE_STEP,
                "model.arch=enhancer_snr",
                "model.args={n_fft: 256, hop: 64, bands: 8, hidden: 8, layers: 1, "
                "enhancer: {n_fft: 128, hop: 32, hidden: 8, layers: 1}}",
                f"snr_estimator.enhancer_from={base}",
            ],
        )
    )
    record = json.loads((tmp_path / "run" / "init.json").read_text())
    source, _ = load_network(base)
    assert record["into"] == "enhancer" and record["skipped_by_name"] == [] and record["skipped_by_shape"] == {}
    assert sorted(record["copied"]) == sorted(f"enhancer.{n}" for n in source.state_dict())
    estimator, _ = load_network(out)
    for name, tensor in source.state_dict().items():  # the frozen enhancer is the source's after training too
        torch.testing.assert_close(estimator.enhancer.state_dict()[name], tensor)


def test_init_into_a_part_is_the_general_form_of_enhancer_from(tmp_path: Path) -> None:
    base = _fast_enhancer(tmp_path / "enh", 8000, n_fft=128, hop=32)
    common = [
        f"output_dir={tmp_path / 'run'}",
        *ONE_STEP,
        "model.arch=enhancer_snr",
        "model.args={n_fft: 256, hop: 64, bands: 8, hidden: 8, layers: 1, "
        "enhancer: {n_fft: 128, hop: 32, hidden: 8, layers: 1}}",
    ]
    train(load_config(RECIPES / "snr_estimator" / "tiny.yaml", [*common, f"init={{from: {base}, into: enhancer}}"]))
    record = json.loads((tmp_path / "run" / "init.json").read_text())
    assert record["into"] == "enhancer" and len(record["copied"]) == len(load_network(base)[0].state_dict())
    with pytest.raises(ConfigError, match="no part 'decoder'"):
        train(
            load_config(
                RECIPES / "snr_estimator" / "tiny.yaml",
                [*common[1:], f"output_dir={tmp_path / 'other'}", f"init={{from: {base}, into: decoder}}"],
            )
        )


def test_init_widen_loads_a_narrower_model_into_a_wider_one_with_the_output_unchanged(tmp_path: Path) -> None:
    base = _fast_enhancer(tmp_path / "base", 8000, n_fft=128, hop=32)  # hidden 8
    common = [*ONE_STEP, "model.args={n_fft: 128, hop: 32, hidden: 12, layers: 1}", "optim.lr=0.0"]
    config = load_config(
        RECIPES / "enhance" / "tiny.yaml",
        [f"output_dir={tmp_path / 'run'}", *common, f"init={{from: {base}, widen: true}}"],
    )
    out = train(config)
    record = json.loads((tmp_path / "run" / "init.json").read_text())
    assert "gru.weight_hh_l0" in record["widened"] and record["skipped_by_shape"] == {}
    (source, _), (trained, _) = load_network(base), load_network(out)
    assert trained.encode.weight.shape[0] == 12
    x = 0.05 * torch.randn(1, 4000)
    with torch.no_grad():  # lr 0: the export is the widened warm start, and it computes what the base computes
        torch.testing.assert_close(trained(x), source(x), atol=1e-6, rtol=1e-5)
    with pytest.raises(ConfigError, match="cannot widen it"):
        narrow = [*common[:-2], "model.args={n_fft: 128, hop: 32, hidden: 4, layers: 1}", "optim.lr=0.0"]
        train(
            load_config(
                RECIPES / "enhance" / "tiny.yaml",
                [f"output_dir={tmp_path / 'other'}", *narrow, f"init={{from: {base}, widen: true}}"],
            )
        )


def test_init_skip_lets_a_part_of_another_structure_start_afresh(tmp_path: Path) -> None:
    base = _fast_enhancer(tmp_path / "base", 8000, n_fft=128, hop=32)  # a 1-layer GRU
    common = [*ONE_STEP, "model.args={n_fft: 128, hop: 32, hidden: 8, layers: 2}", "optim.lr=0.0"]
    with pytest.raises(ConfigError, match="differ in more than shapes"):  # the second layer has no source
        train(
            load_config(
                RECIPES / "enhance" / "tiny.yaml", [f"output_dir={tmp_path / 'a'}", *common, f"init.from={base}"]
            )
        )
    overrides = [f"output_dir={tmp_path / 'b'}", *common, f"init={{from: {base}, skip: ['gru.*']}}"]
    train(load_config(RECIPES / "enhance" / "tiny.yaml", overrides))
    record = json.loads((tmp_path / "b" / "init.json").read_text())
    assert "gru.weight_ih_l1" in record["skipped_by_name"] and "gru.weight_ih_l0" in record["skipped_by_name"]
    assert "decode.weight" in record["copied"] and not any(n.startswith("gru.") for n in record["copied"])
    run_net, _ = load_network(tmp_path / "b" / "export")
    source, _ = load_network(base)
    torch.testing.assert_close(run_net.decode.weight, source.decode.weight)  # lr 0: as copied
