"""CLI end to end (in-process): enhance, separate, models, and every bad-input class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sepkit_fixtures import run_cli


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err
    assert lines and all(line.startswith("sepkit: error:") for line in lines), err
    for needle in needles:
        assert needle in err, err


def test_enhance_one_file_default_name(capsys, enh_model_dir: Path, make_wav) -> None:
    src = make_wav("noisy.wav", seconds=0.5)
    code, out, err = run_cli(capsys, "enhance", src, "--model", enh_model_dir, "--device", "cpu")
    assert code == 0, err
    dst = src.with_name("noisy_enhanced.wav")
    assert out.strip() == str(dst) and sf.info(dst).frames == sf.info(src).frames


def test_enhance_folder_to_out_dir_keeps_names(capsys, enh_model_dir: Path, make_wav, tmp_path: Path) -> None:
    make_wav("in/a.wav", seconds=0.3)
    make_wav("in/sub/b.flac", seconds=0.3, sr=44100, channels=2, subtype="PCM_24")
    code, _, err = run_cli(capsys, "enhance", tmp_path / "in", "--out-dir", tmp_path / "out", "--model", enh_model_dir)
    assert code == 0, err
    assert sf.info(tmp_path / "out" / "a.wav").frames == 4800
    info = sf.info(tmp_path / "out" / "sub" / "b.flac")
    assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_24")
    # existing outputs are refused without --force, replaced with it
    code, _, err = run_cli(
        capsys, "enhance", tmp_path / "in" / "a.wav", "--out-dir", tmp_path / "out", "--model", enh_model_dir
    )
    assert code == 2
    assert_one_line_error(err, "already exists")
    code, _, _ = run_cli(
        capsys, "enhance", tmp_path / "in" / "a.wav", "--out-dir", tmp_path / "out", "--model", enh_model_dir, "--force"
    )
    assert code == 0


def test_separate_writes_stem_sk(capsys, sep_model_dir: Path, make_wav, tmp_path: Path) -> None:
    make_wav("mix1.wav", seconds=0.4)
    make_wav("mix2.wav", seconds=0.4)
    code, _, err = run_cli(
        capsys,
        "separate",
        tmp_path / "mix*.wav",
        "--out-dir",
        tmp_path / "sep",
        "--model",
        sep_model_dir,
        "--n-src",
        "2",
    )
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "sep").iterdir()) == [
        "mix1_s1.wav",
        "mix1_s2.wav",
        "mix2_s1.wav",
        "mix2_s2.wav",
    ]
    code, _, err = run_cli(
        capsys,
        "separate",
        tmp_path / "mix1.wav",
        "--out-dir",
        tmp_path / "sep3",
        "--model",
        sep_model_dir,
        "--n-src",
        "3",
    )
    assert code == 2
    assert_one_line_error(err, "--n-src 3")


def test_separate_outputs_picks_another_choice_of_a_models_outputs(capsys, make_wav, tmp_path: Path) -> None:
    """--outputs: every output, given indices, or a rule, for models with spare outputs; bad values get one line."""
    from sepkit_fixtures import export_test_model

    model = export_test_model(tmp_path / "four", task="separate", n_src=4)  # a MixIT-like net: 4 outputs
    src = make_wav("mix.wav", seconds=0.4)
    every = tmp_path / "every"
    code, _, err = run_cli(capsys, "separate", src, "--out-dir", every, "--model", model, "--outputs", "all")
    assert code == 0, err
    assert sorted(p.name for p in every.iterdir()) == [f"mix_s{k}.wav" for k in range(1, 5)]
    code, _, err = run_cli(
        capsys, "separate", src, "--out-dir", tmp_path / "pair", "--model", model, "--outputs", "3,1"
    )
    assert code == 0, err
    for k, j in ((1, 4), (2, 2)):  # output 3 is the first source, output 1 the second
        np.testing.assert_array_equal(
            sf.read(tmp_path / "pair" / f"mix_s{k}.wav")[0], sf.read(every / f"mix_s{j}.wav")[0]
        )
    code, _, err = run_cli(
        capsys,
        "separate",
        src,
        "--out-dir",
        tmp_path / "bal",
        "--model",
        model,
        "--outputs",
        "balanced",
        "--n-src",
        "4",
    )
    assert code == 0, err  # a rule keeps the model's n_src: here all 4 groups of one output each
    for bad, needle in (("quietest", "--outputs must be"), ("0,9", "not indices")):
        code, _, err = run_cli(capsys, "separate", src, "--out-dir", tmp_path / "x", "--model", model, "--outputs", bad)
        assert code == 2
        assert_one_line_error(err, needle)


def _bad_inputs(tmp_path: Path, make_wav) -> dict[str, tuple[Path, str]]:
    (tmp_path / "bad").mkdir()
    empty = tmp_path / "bad" / "empty.wav"
    empty.write_bytes(b"")
    zero = tmp_path / "bad" / "zero.wav"
    sf.write(zero, np.zeros((0, 1), np.float32), 16000)
    text = tmp_path / "bad" / "text.wav"
    text.write_text("not audio\n" * 50)
    trunc = make_wav("bad/trunc.flac", seconds=2.0)
    trunc.write_bytes(trunc.read_bytes()[:3000])
    nan = tmp_path / "bad" / "nan.wav"
    x = np.zeros((800, 1), np.float32)
    x[10] = np.inf
    sf.write(nan, x, 16000, subtype="FLOAT")
    return {
        "missing": (tmp_path / "bad" / "missing.wav", "no such file"),
        "empty": (empty, "empty file"),
        "zero": (zero, "zero length"),
        "text": (text, "not a readable audio file"),
        "truncated": (trunc, "trunc.flac"),
        "nan": (nan, "NaN or Inf"),
    }


@pytest.mark.parametrize("kind", ["missing", "empty", "zero", "text", "truncated", "nan"])
def test_bad_input_one_line_exit_2_no_output(capsys, enh_model_dir: Path, make_wav, tmp_path: Path, kind: str) -> None:
    path, message = _bad_inputs(tmp_path, make_wav)[kind]
    before = sorted(p.name for p in (tmp_path / "bad").iterdir())
    code, _, err = run_cli(capsys, "enhance", path, "--out-dir", tmp_path / "out", "--model", enh_model_dir)
    assert code == 2
    assert_one_line_error(err, str(path.name), message)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    assert sorted(p.name for p in (tmp_path / "bad").iterdir()) == before


def test_batch_processes_good_files_and_reports_bad(capsys, enh_model_dir: Path, make_wav, tmp_path: Path) -> None:
    _bad_inputs(tmp_path, make_wav)
    make_wav("bad/good.wav", seconds=0.3)
    code, out, err = run_cli(
        capsys,
        "enhance",
        tmp_path / "bad",
        tmp_path / "bad" / "missing.wav",
        "--out-dir",
        tmp_path / "out",
        "--model",
        enh_model_dir,
    )
    assert code == 2
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good.wav"]
    assert "Traceback" not in err and "6 of 7 inputs failed; 1 written" in err


def test_folder_where_file_expected_and_output_equal_input(
    capsys, enh_model_dir: Path, make_wav, tmp_path: Path
) -> None:
    src = make_wav("x.wav")
    code, _, err = run_cli(capsys, "enhance", src, "-o", src, "--model", enh_model_dir, "--force")
    assert code == 2
    assert_one_line_error(err, "refusing to overwrite an input")
    code, _, err = run_cli(capsys, "enhance", src, "-o", tmp_path, "--model", enh_model_dir)
    assert code == 2
    assert_one_line_error(err, "is a folder")
    code, _, err = run_cli(capsys, "enhance", tmp_path, "--out-dir", tmp_path, "--model", enh_model_dir, "--force")
    assert code == 2
    assert_one_line_error(err, "refusing to overwrite an input")


def test_unknown_model_and_bad_device(capsys, make_wav) -> None:
    src = make_wav("x.wav")
    code, _, err = run_cli(capsys, "enhance", src, "--model", "no-such-model")
    assert code == 2
    assert_one_line_error(err, "unknown model 'no-such-model'")
    code, _, err = run_cli(capsys, "enhance", src, "--model", str(src.parent), "--device", "cpu")
    assert code == 2
    assert_one_line_error(err, "not a sepkit model directory")


def test_debug_shows_traceback(capsys, make_wav) -> None:
    code, _, err = run_cli(capsys, "--debug", "enhance", make_wav("x.wav"), "--model", "no-such-model")
    assert code == 2 and "Traceback" in err


def test_models_lists_cards(capsys, enh_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEPKIT_PRETRAINED", str(enh_model_dir.parent))
    code, out, _ = run_cli(capsys, "models")
    assert code == 0 and "test-enh" in out and "test fixture" in out and "16 kHz" in out
