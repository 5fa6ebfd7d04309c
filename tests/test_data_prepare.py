"""``prepare`` for every corpus layout on tiny fake trees, and the ``sepkit data prepare`` command."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from data_fixtures import tone, white, write
from sepkit.cli.main import main
from sepkit.data.manifest import read_manifest, read_mixture_manifest
from sepkit.data.prepare import PrepareOptions, prepare
from sepkit.errors import AudioError, ManifestError


def _clip(path: Path, seconds: float = 0.3, sr: int = 16000, seed: int = 0) -> Path:
    return write(path, tone(seconds, sr, seed=seed), sr)


def _splits(entries: list[dict]) -> dict[str, set]:
    out: dict[str, set] = {}
    for e in entries:
        out.setdefault(e["split"], set()).add(e["speaker"])
    return out


def test_librispeech_uses_subsets_and_speaker_ids(tmp_path: Path) -> None:
    root = tmp_path / "LibriSpeech"
    layout = (("train-clean-100", "19"), ("train-clean-100", "26"), ("dev-clean", "84"), ("test-clean", "61"))
    for subset, spk in layout:
        for utt in range(2):
            _clip(root / subset / spk / "198" / f"{spk}-198-{utt:04d}.flac")
    written = prepare("librispeech", root, tmp_path / "out")
    speech = read_manifest(written["speech"])
    assert len(speech) == 8 and _splits(speech) == {"train": {"19", "26"}, "dev": {"84"}, "test": {"61"}}
    assert speech[0]["subset"] in ("dev-clean", "test-clean", "train-clean-100")


def _mix_tree(set_dir: Path, ids: list[str], with_noise: bool = True) -> None:
    for uid in ids:
        for d in ("mix_clean", "mix_both", "s1", "s2") + (("noise",) if with_noise else ()):
            _clip(set_dir / d / f"{uid}.wav", seed=hash(d) % 100)


def test_librimix_writes_mixtures_sources_and_noise(tmp_path: Path) -> None:
    root = tmp_path / "Libri2Mix" / "wav16k" / "max"
    _mix_tree(root / "train-100", ["19-198-0001_26-495-0002"])
    _mix_tree(root / "test", ["61-70968-0000_121-123-0003", "84-121-0001_61-70968-0001"])
    written = prepare("librimix", tmp_path / "Libri2Mix", tmp_path / "out")
    assert set(written) == {"mixtures", "noise", "speech"}
    mixtures = read_mixture_manifest(written["mixtures"])
    assert len(mixtures) == 6 and Counter(m["mix_type"] for m in mixtures) == {"mix_clean": 3, "mix_both": 3}
    both = next(m for m in mixtures if m["mix_type"] == "mix_both" and m["split"] == "train")
    assert both["noise"].endswith("noise/19-198-0001_26-495-0002.wav") and len(both["sources"]) == 2
    assert both["speakers"] == ["19", "26"] and both["condition"] == "wav16k/max"
    assert all(m["noise"] is None for m in mixtures if m["mix_type"] == "mix_clean")
    assert _splits(read_manifest(written["speech"]))["test"] == {"61", "121", "84"}


def test_wham_noise_and_mixtures(tmp_path: Path) -> None:
    root = tmp_path / "wham_noise"
    for part in ("tr", "cv", "tt"):
        write(root / part / f"{part}_a.wav", white(0.5))
    _mix_tree(tmp_path / "wham_noise" / "wav8k" / "min" / "tt", ["011a0101_0.06_22go010s_-0.06"])
    written = prepare("wham", root, tmp_path / "out")
    noise = read_manifest(written["noise"])
    assert Counter(e["split"] for e in noise) == {"train": 1, "dev": 1, "test": 2}  # + the mixture set's noise/
    mixtures = read_mixture_manifest(written["mixtures"])
    assert {m["split"] for m in mixtures} == {"test"} and mixtures[0]["speakers"] == ["011", "22g"]


def test_vctk_split_is_speaker_disjoint(tmp_path: Path) -> None:
    root = tmp_path / "VCTK-Corpus" / "wav48"
    for k in range(10):
        for utt in range(2):
            _clip(root / f"p{225 + k}" / f"p{225 + k}_{utt:03d}.wav", sr=48000)
    _clip(tmp_path / "VCTK-Corpus" / "wav48_mic" / "p300" / "p300_001_mic2.flac")  # second microphone: skipped
    speech = read_manifest(
        prepare(
            "vctk", tmp_path / "VCTK-Corpus", tmp_path / "out", PrepareOptions(dev_fraction=0.2, test_fraction=0.2)
        )["speech"]
    )
    splits = _splits(speech)
    assert len(speech) == 20 and len(splits["dev"]) == 2 and len(splits["test"]) == 2
    assert not (splits["train"] & splits["dev"]) and not (splits["train"] & splits["test"])


def test_voicebank_demand_pairs_noisy_with_clean(tmp_path: Path) -> None:
    for part, spks in (("trainset_28spk", ["p226", "p227", "p228", "p229"]), ("testset", ["p232"])):
        for spk in spks:
            _clip(tmp_path / f"clean_{part}_wav" / f"{spk}_001.wav")
            write(tmp_path / f"noisy_{part}_wav" / f"{spk}_001.wav", white(0.3))
    written = prepare("vctk", tmp_path, tmp_path / "out", PrepareOptions(dev_fraction=0.25))
    splits = _splits(read_manifest(written["speech"]))
    assert splits["test"] == {"p232"} and len(splits["dev"]) == 1 and len(splits["train"]) == 3
    mixtures = read_mixture_manifest(written["mixtures"])
    assert len(mixtures) == 5 and all("noisy_" in m["mixture"] and "clean_" in m["sources"][0] for m in mixtures)


def test_dns_kinds_speakers_and_test_sets(tmp_path: Path) -> None:
    root = tmp_path / "datasets_fullband"
    for r in range(6):
        _clip(root / "clean_fullband" / "read_speech" / f"book_0001_chp_0001_reader_{r:05d}_{r}.wav")
    for i in range(5):
        write(root / "noise_fullband" / f"door_Freesound_validated_{i}_1.wav", white(0.4))
    _clip(root / "impulse_responses" / "SLR26" / "Room001-00001.wav")
    _clip(root / "test_set" / "synthetic" / "clean" / "clean_fileid_0.wav")  # evaluation material: not a pool
    written = prepare("dns", root, tmp_path / "out", PrepareOptions(dev_fraction=0.2, test_fraction=0.2))
    speech = read_manifest(written["speech"])
    assert len(speech) == 6 and speech[0]["speaker"].startswith("reader_")
    assert len(read_manifest(written["noise"])) == 5 and len(read_manifest(written["rir"])) == 1


def test_musan_kinds(tmp_path: Path) -> None:
    root = tmp_path / "musan"
    for kind, src in (("speech", "librivox"), ("music", "fma"), ("noise", "free-sound")):
        for i in range(3):
            _clip(root / kind / src / f"{kind}-{src}-{i:04d}.wav", seed=i)
    written = prepare("musan", root, tmp_path / "out")
    assert set(written) == {"speech", "music", "noise"}
    assert read_manifest(written["music"])[0]["kind"] == "music"
    assert read_manifest(written["noise"])[0]["source"] == "musan/free-sound"


def _folder_tree(root: Path, speakers: int = 6) -> Path:
    for k in range(speakers):
        for j in range(2):
            _clip(root / f"speaker{k}" / "session" / f"u{j}.wav", seed=k)
    _clip(root / "loose.wav")
    return root


def test_folder_speaker_is_first_subfolder(tmp_path: Path) -> None:
    root = _folder_tree(tmp_path / "corpus")
    speech = read_manifest(prepare("folder", root, tmp_path / "out", PrepareOptions(0.2, 0.2, seed=1))["speech"])
    assert {e["speaker"] for e in speech} == {f"speaker{k}" for k in range(6)} | {None}
    by_speaker: dict = {}
    for e in speech:
        by_speaker.setdefault(e["speaker"], set()).add(e["split"])
    assert all(len(s) == 1 for s in by_speaker.values())  # speaker-disjoint
    again = read_manifest(prepare("folder", root, tmp_path / "out2", PrepareOptions(0.2, 0.2, seed=1))["speech"])
    assert [e["split"] for e in again] == [e["split"] for e in speech]  # deterministic


def test_unreadable_files_fail_or_are_skipped(tmp_path: Path) -> None:
    root = _folder_tree(tmp_path / "corpus", 3)
    (root / "speaker0" / "broken.wav").write_bytes(b"RIFF nonsense")
    with pytest.raises(AudioError, match="broken.wav"):
        prepare("folder", root, tmp_path / "out")
    written = prepare("folder", root, tmp_path / "out", PrepareOptions(skip_bad=True))
    assert len(read_manifest(written["speech"])) == 7


def test_bad_root_and_empty_layout(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such folder"):
        prepare("folder", tmp_path / "nowhere", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ManifestError, match="no audio files found in a librispeech layout"):
        prepare("librispeech", tmp_path / "empty", tmp_path / "out")


def test_cli_prepare_folder(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = _folder_tree(tmp_path / "corpus")
    out = tmp_path / "manifests"
    args = ["data", "prepare", "folder", str(root), str(out), "--file-kind", "noise", "--test-fraction", "0.3"]
    assert main(args) == 0
    assert read_manifest(out / "noise.jsonl")[0]["kind"] == "noise"
    assert "noise.jsonl" in capsys.readouterr().out


def test_cli_bad_root_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "prepare", "folder", str(tmp_path / "missing"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sepkit: error:") and "missing: no such folder" in err and "\n" not in err
    assert main(["data", "prepare", "nonsense", str(tmp_path), str(tmp_path / "out")]) == 2
