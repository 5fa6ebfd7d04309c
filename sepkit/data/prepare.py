"""Manifests for standard corpora, read from each corpus's own directory layout.

``prepare(kind, root, out)`` writes ``OUT/<kind>.jsonl`` files (speech, noise, rir, music) and, for
corpora that ship pre-mixed data (LibriMix, WHAM!, VoiceBank-DEMAND), ``OUT/mixtures.jsonl``.
Splits follow the corpus where it has them; otherwise a deterministic group-disjoint split
(by speaker, or by recording when there is no speaker) with the given fractions.
"""

from __future__ import annotations

import re
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from sepkit.data.splits import split_groups
from sepkit.errors import AudioError, ManifestError

if TYPE_CHECKING:  # audio readers load with the first corpus, so `sepkit --help` (which lists PREPARERS) stays light
    from sepkit.data.manifest import Entry

MIXTURE_SPLITS = {
    "train": "train",
    "dev": "dev",
    "test": "test",
    "tr": "train",
    "cv": "dev",
    "tt": "test",
    "val": "dev",
    "valid": "dev",
    "validation": "dev",
}


@dataclass(frozen=True)
class PrepareOptions:
    """Choices for corpora without their own split, and what ``folder`` holds."""

    dev_fraction: float = 0.1
    test_fraction: float = 0.1
    seed: int = 0
    file_kind: str = "speech"  # what the files of a ``folder`` corpus are
    skip_bad: bool = False  # leave unreadable files out instead of failing


def prepare(kind: str, root: str | Path, out: str | Path, options: PrepareOptions | None = None) -> dict[str, Path]:
    """Write the manifests of corpus ``kind`` found under ``root`` into folder ``out``; returns name -> path."""
    from sepkit.data.manifest import write_manifest

    opts = options or PrepareOptions()
    if kind not in PREPARERS:
        raise ManifestError(f"{root}: unknown corpus kind {kind!r} (choose from {', '.join(PREPARERS)})")
    root = Path(root)
    if not root.is_dir():
        raise ManifestError(f"{root}: no such folder (the corpus root)")
    manifests = {name: rows for name, rows in PREPARERS[kind](root.resolve(), opts).items() if rows}
    if not manifests:
        raise ManifestError(f"{root}: no audio files found in a {kind} layout ({LAYOUTS[kind]})")
    return {name: write_manifest(rows, Path(out) / f"{name}.jsonl") for name, rows in sorted(manifests.items())}


def _audio_files(root: Path) -> list[Path]:
    from sepkit.audio.io import AUDIO_EXTENSIONS

    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def _entries(specs: list[tuple[Path, dict]], opts: PrepareOptions) -> list[Entry]:
    """Header-read entries for ``(file, fields)`` pairs; unreadable files fail (or are skipped)."""
    from sepkit.data.manifest import file_entry

    def one(spec: tuple[Path, dict]) -> Entry | str:
        try:
            return file_entry(spec[0], **spec[1])
        except AudioError as exc:
            return str(exc)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, specs))
    bad = [r for r in results if isinstance(r, str)]
    if bad and not opts.skip_bad:
        more = f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise AudioError(
            f"{len(bad)} unreadable file(s): {'; '.join(bad[:3])}{more} (use --skip-bad to leave them out)"
        )
    return [r for r in results if not isinstance(r, str)]


def _group_split(items: list[tuple[Path, str | None]], opts: PrepareOptions) -> dict[Path, str]:
    """Split files so that each speaker (or, without one, each recording) stays in one split."""
    keys = {p: spk if spk is not None else f"rec:{_recording(p)}" for p, spk in items}
    splits = split_groups(keys.values(), opts.dev_fraction, opts.test_fraction, opts.seed)
    return {p: splits[k] for p, k in keys.items()}


def _recording(path: Path) -> str:
    """Pieces cut from one recording (``name_3.wav``, ``name-0012.wav``) share a key."""
    stem = re.sub(r"[_-]\d+$", "", path.stem)
    return f"{path.parent.name}/{stem}"


# --- corpora with speaker ids in their paths -------------------------------------------------


def _librispeech(root: Path, opts: PrepareOptions) -> dict[str, list[Entry]]:
    specs = []
    for p in root.rglob("*.flac"):
        m = re.fullmatch(r"(\d+)-(\d+)-(\d+)", p.stem)
        subset = next((s for s in reversed(p.parts) if re.match(r"(train|dev|test)-", s)), None)
        if m is None or subset is None:
            continue
        specs.append(
            (
                p,
                {
                    "split": subset.split("-")[0],
                    "kind": "speech",
                    "speaker": m.group(1),
                    "source": "librispeech",
                    "subset": subset,
                    "lang": "en",
                },
            )
        )
    return {"speech": _entries(sorted(specs, key=lambda s: s[0]), opts)}


def _vctk(root: Path, opts: PrepareOptions) -> dict[str, list[Entry]]:
    files = _audio_files(root)
    if any(re.match(r"clean_(train|test)set", p.parent.name) for p in files):
        return _voicebank(files, opts)
    items = []
    for p in files:
        spk = next((s for s in reversed(p.parts[:-1]) if re.fullmatch(r"[ps]\d+", s)), None)
        if spk is not None and "_mic2" not in p.stem:  # VCTK 0.92 ships two microphones: keep mic1
            items.append((p, spk))
    splits = _group_split(items, opts)
    specs = [
        (p, {"split": splits[p], "kind": "speech", "speaker": spk, "source": "vctk", "lang": "en"}) for p, spk in items
    ]
    return {"speech": _entries(specs, opts)}


def _voicebank(files: list[Path], opts: PrepareOptions) -> dict[str, list[Entry]]:
    """VoiceBank-DEMAND: clean_{train,test}set_*_wav and matching noisy_* folders; dev = held-out train speakers."""
    clean = [p for p in files if re.match(r"clean_(train|test)set", p.parent.name)]
    train_spk = {p.stem.split("_")[0] for p in clean if "trainset" in p.parent.name}
    dev = {s for s, split in split_groups(train_spk, opts.dev_fraction, 0.0, opts.seed).items() if split == "dev"}

    def split_of(p: Path) -> str:
        spk = p.stem.split("_")[0]
        return "test" if "testset" in p.parent.name else ("dev" if spk in dev else "train")

    speech = _entries(
        [
            (
                p,
                {
                    "split": split_of(p),
                    "kind": "speech",
                    "speaker": p.stem.split("_")[0],
                    "source": "voicebank",
                    "lang": "en",
                },
            )
            for p in clean
        ],
        opts,
    )
    mixtures = []
    for e in speech:
        c = Path(e["path"])
        noisy = c.parent.parent / c.parent.name.replace("clean_", "noisy_", 1) / c.name
        if noisy.is_file():
            mixtures.append(
                {
                    "id": c.stem,
                    "mixture": str(noisy),
                    "sources": [str(c)],
                    "noise": None,
                    "duration": e["duration"],
                    "sample_rate": e["sample_rate"],
                    "split": e["split"],
                    "speakers": [e["speaker"]],
                    "source": "voicebank-demand",
                }
            )
    return {"speech": speech, "mixtures": mixtures}


# --- pre-mixed corpora: LibriMix and WHAM! ---------------------------------------------------


def _mixture_sets(
    root: Path, opts: PrepareOptions, speaker_of: Callable[[str, int], str | None], source: str
) -> dict[str, list[Entry]]:
    """Folders holding ``mix_*/``, ``s1/`` (``s2/`` ...) and maybe ``noise/``, split by the folder name."""
    out: dict[str, list[Entry]] = defaultdict(list)
    for set_dir in sorted({p.parent for p in root.rglob("s1") if p.is_dir()}):
        split = MIXTURE_SPLITS.get(set_dir.name.split("-")[0])
        mix_dirs = sorted(d for d in set_dir.glob("mix_*") if d.is_dir())
        if split is None or not mix_dirs:
            continue
        src_dirs = sorted((d for d in set_dir.glob("s[0-9]*") if d.is_dir()), key=lambda d: int(d.name[1:]))
        noise_dir = set_dir / "noise"
        condition = "/".join(set_dir.relative_to(root).parts[:-1])
        extra = {"source": source, "subset": set_dir.name, "condition": condition}
        for k, d in enumerate(src_dirs):
            out["speech"] += _entries(
                [
                    (p, {"split": split, "kind": "speech", "speaker": speaker_of(p.stem, k), **extra})
                    for p in _audio_files(d)
                ],
                opts,
            )
        if noise_dir.is_dir():
            out["noise"] += _entries(
                [(p, {"split": split, "kind": "noise", **extra}) for p in _audio_files(noise_dir)], opts
            )
        for mix_dir in mix_dirs:
            n_src = 1 if mix_dir.name == "mix_single" else len(src_dirs)
            for e in _entries([(p, {"split": split, "kind": "speech"}) for p in _audio_files(mix_dir)], opts):
                name = Path(e["path"]).name
                has_noise = mix_dir.name != "mix_clean" and (noise_dir / name).is_file()
                out["mixtures"].append(
                    {
                        "id": Path(name).stem,
                        "mixture": e["path"],
                        "sources": [str(d / name) for d in src_dirs[:n_src]],
                        "noise": str(noise_dir / name) if has_noise else None,
                        "duration": e["duration"],
                        "sample_rate": e["sample_rate"],
                        "split": split,
                        "speakers": [speaker_of(Path(name).stem, k) for k in range(n_src)],
                        "mix_type": mix_dir.name,
                        **extra,
                    }
                )
    return dict(out)


def _librimix_speaker(mix_id: str, k: int) -> str | None:
    parts = mix_id.split("_")  # 103-1240-0003_1034-121119-0014
    return parts[k].split("-")[0] if k < len(parts) and "-" in parts[k] else None


def _wsj_speaker(mix_id: str, k: int) -> str | None:
    parts = mix_id.split("_")  # 011a0101_0.061_22go010s_-0.061: utterance ids at even positions
    return parts[2 * k][:3] if 2 * k < len(parts) else None


def _librimix(root: Path, opts: PrepareOptions) -> dict[str, list[Entry]]:
    return _mixture_sets(root, opts, _librimix_speaker, "librimix")


def _wham(root: Path, opts: PrepareOptions) -> dict[str, list[Entry]]:
    """WHAM! noise (``tr|cv|tt/*.wav``) and, when present, WHAM! mixtures (``tr/mix_both`` ...)."""
    out = _mixture_sets(root, opts, _wsj_speaker, "wham")
    loose = [p for p in _audio_files(root) if p.parent.name in ("tr", "cv", "tt")]
    out["noise"] = out.get("noise", []) + _entries(
        [(p, {"split": MIXTURE_SPLITS[p.parent.name], "kind": "noise", "source": "wham_noise"}) for p in loose], opts
    )
    return out


# --- corpora without speaker-level splits ------------------------------------------------------


def _dns(root: Path, opts: PrepareOptions) -> dict[str, list[Entry]]:
    """DNS Challenge: ``*clean*`` folders are speech, ``*noise*`` noise, ``*impulse*``/``*rir*`` RIRs."""
    items: list[tuple[Path, str, str | None]] = []
    for p in _audio_files(root):
        rel = [s.lower() for s in p.relative_to(root).parts[:-1]]
        kind = next(
            (
                k
                for s in rel
                for k, keys in (("speech", ("clean",)), ("noise", ("noise",)), ("rir", ("impulse", "rir")))
                if any(w in s for w in keys)
            ),
            None,
        )
        if kind is None or any("test" in s or "blind" in s for s in rel):
            continue  # DNS test sets are evaluation material with their own layout, not training pools
        m = re.search(r"reader_(\d+)", p.stem) or re.match(r"(p\d{3})_", p.stem)
        speaker = (m.group(0).rstrip("_") if m else None) if kind == "speech" else None
        items.append((p, kind, speaker))
    splits = _group_split([(p, spk) for p, _, spk in items], opts)
    out: dict[str, list] = defaultdict(list)
    for p, kind, spk in items:
        out[kind].append((p, {"split": splits[p], "kind": kind, "speaker": spk, "source": "dns"}))
    return {k: _entries(v, opts) for k, v in out.items()}


def _musan(root: Path, opts: PrepareOptions) -> dict[str, list[Entry]]:
    """MUSAN: ``speech|music|noise/<source>/*.wav``; each file is one recording, split by file."""
    kinds = {"speech": "speech", "music": "music", "noise": "noise"}
    items = []
    for p in _audio_files(root):
        top = next((s for s in p.relative_to(root).parts[:-1] if s in kinds), None)
        if top is not None:
            items.append((p, top))
    splits = _group_split([(p, None) for p, _ in items], opts)
    out: dict[str, list] = defaultdict(list)
    for p, kind in items:
        out[kind].append((p, {"split": splits[p], "kind": kind, "speaker": None, "source": f"musan/{p.parent.name}"}))
    return {k: _entries(v, opts) for k, v in out.items()}


def _folder(root: Path, opts: PrepareOptions) -> dict[str, list[Entry]]:
    """Any folder of audio: speaker = first sub-folder under ROOT (none for files directly in it)."""
    items = [
        (p, p.relative_to(root).parts[0] if len(p.relative_to(root).parts) > 1 else None) for p in _audio_files(root)
    ]
    splits = _group_split(items, opts)
    specs = [(p, {"split": splits[p], "kind": opts.file_kind, "speaker": spk, "source": root.name}) for p, spk in items]
    return {opts.file_kind: _entries(specs, opts)}


PREPARERS: dict[str, Callable[[Path, PrepareOptions], dict[str, list[Entry]]]] = {
    "librispeech": _librispeech,
    "librimix": _librimix,
    "wham": _wham,
    "vctk": _vctk,
    "dns": _dns,
    "musan": _musan,
    "folder": _folder,
}
LAYOUTS = {
    "librispeech": "expected <subset like train-clean-100>/<speaker>/<chapter>/<speaker>-<chapter>-<utt>.flac",
    "librimix": "expected .../<train-360|dev|test>/{mix_clean,mix_both,s1,s2,noise}/<id>.wav",
    "wham": "expected {tr,cv,tt}/<id>.wav (noise) or {tr,cv,tt}/{mix_both,s1,s2,noise}/<id>.wav",
    "vctk": "expected .../p225/p225_001.wav or clean_trainset_*_wav/p226_001.wav",
    "dns": "expected folders named *clean*, *noise* or *impulse_responses* holding audio",
    "musan": "expected {speech,music,noise}/<source>/*.wav",
    "folder": "expected audio files, optionally in one sub-folder per speaker",
}
