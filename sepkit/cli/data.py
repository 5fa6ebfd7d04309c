"""``sepkit data prepare`` (manifests for a corpus on disk) and ``sepkit data demo`` (the built-in corpus)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from sepkit.cli.app import data_app
from sepkit.data.prepare import PREPARERS
from sepkit.errors import ConfigError


@data_app.command("prepare")
def prepare_cmd(
    kind: str = typer.Argument(..., help=f"Corpus layout: {', '.join(PREPARERS)}."),
    root: Path = typer.Argument(..., help="The corpus's root folder."),
    out: Path = typer.Argument(..., help="Folder for the manifests (speech.jsonl, noise.jsonl, ...)."),
    dev_fraction: float = typer.Option(
        0.1, help="Share of speakers (or recordings) for dev, where the corpus has no split."
    ),
    test_fraction: float = typer.Option(0.1, help="Share of speakers (or recordings) for test, likewise."),
    seed: int = typer.Option(0, help="Seed of the deterministic speaker-disjoint split."),
    file_kind: str = typer.Option("speech", help="For 'folder': what the files are (speech, noise, rir, music)."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Leave unreadable files out instead of failing."),
) -> None:
    """Write manifests for a corpus in its standard directory layout."""
    from sepkit.data.prepare import PrepareOptions, prepare

    if file_kind not in ("speech", "noise", "rir", "music"):
        raise ConfigError(f"--file-kind: must be speech, noise, rir or music, got {file_kind!r}")
    if not (0 <= dev_fraction < 1 and 0 <= test_fraction < 1 and dev_fraction + test_fraction < 1):
        raise ConfigError(
            f"--dev-fraction {dev_fraction} and --test-fraction {test_fraction}: need 0 <= each and a sum below 1"
        )
    opts = PrepareOptions(dev_fraction, test_fraction, seed, file_kind, skip_bad)
    for path in prepare(kind, root, out, opts).values():
        print(f"{path}  ({_describe(path)})")


def _describe(path: Path) -> str:
    import json
    from collections import Counter

    counts, hours = Counter(), Counter()
    for line in path.open():
        e = json.loads(line)
        counts[e.get("split")] += 1
        hours[e.get("split")] += e["duration"] / 3600
    return ", ".join(f"{s}: {counts[s]} files {hours[s]:.2f} h" for s in ("train", "dev", "test") if counts[s])


@data_app.command("demo")
def demo_cmd(
    out: Optional[Path] = typer.Argument(
        None,
        help="Folder for the corpus (audio, manifests, licences, README, "
        "fixed sets) [default: $SEPKIT_DATA/demo; sepkit data root].",
    ),
    cache: Optional[Path] = typer.Option(
        None, help="Cache for .deb files, extractions and espeak-ng audio [default: ~/.cache/sepkit]."
    ),
    hours_limit: Optional[float] = typer.Option(None, help="At most this many hours from each source (quick builds)."),
    exclude: list[str] = typer.Option([], help="Package to leave out (repeatable), e.g. 0ad-data."),
    synthetic: int = typer.Option(300, help="espeak-ng utterances for train (0 = none)."),
    fixed_sets: bool = typer.Option(True, "--fixed-sets/--no-fixed-sets", help="Write fixed dev/test sets."),
    jobs: int = typer.Option(2, help="Decoding processes."),
    seed: int = typer.Option(0, help="Seed for simulated rooms, synthetic speech and fixed sets."),
    install_tools: bool = typer.Option(
        True,
        "--install-tools/--no-install-tools",
        help="apt-get install missing ffmpeg/espeak-ng when running as root.",
    ),
) -> None:
    """Build the demo corpus from Debian packages (downloads about 3 GB once; reruns skip finished work)."""
    from sepkit.data.demo import DEFAULT_CACHE, DemoOptions, build_demo
    from sepkit.data.paths import data_root

    out = out or data_root() / "demo"
    opts = DemoOptions(
        out=out,
        cache=(cache or DEFAULT_CACHE).expanduser(),
        hours_limit=hours_limit,
        exclude=tuple(exclude),
        synthetic=synthetic,
        fixed_sets=fixed_sets,
        jobs=max(1, jobs),
        seed=seed,
        install_tools=install_tools,
    )
    build_demo(opts, log=lambda line: print(line, flush=True))
    print(f"corpus ready: {out.resolve()} (see README.md)")


@data_app.command("talkers")
def talkers_cmd(
    out: Optional[Path] = typer.Argument(
        None, help="Folder for the audio and talkers.jsonl [default: $SEPKIT_DATA/demo/talkers]."
    ),
    talkers: int = typer.Option(100, help="Synthetic talkers (one espeak-ng voice, speed and pitch each)."),
    per_talker: int = typer.Option(6, help="Utterances per talker."),
    seed: int = typer.Option(0, help="Seed for voices, speeds, pitches and sentences."),
    cache: Optional[Path] = typer.Option(None, help="Cache for the raw espeak-ng audio [default: ~/.cache/sepkit]."),
    languages: str = typer.Option(
        "en",
        help="Comma-separated espeak-ng languages, drawn evenly per talker (e.g. de,es,it); "
        "non-English talkers read the system's translated messages (/usr/share/locale).",
    ),
) -> None:
    """Synthesise extra training talkers with espeak-ng (train only; never evaluation material).

    Add the manifest to a config's real speech, e.g. ``speech_manifest: [speech.jsonl, talkers/talkers.jsonl]``.
    """
    from sepkit.data.demo import DEFAULT_CACHE
    from sepkit.data.demo.build import build_talkers
    from sepkit.data.paths import data_root

    if talkers < 1 or per_talker < 1:
        raise ConfigError("--talkers and --per-talker must be at least 1")
    out = out or data_root() / "demo" / "talkers"
    langs = [lang.strip() for lang in languages.split(",") if lang.strip()]
    path = build_talkers(out, talkers, per_talker, seed, cache=(cache or DEFAULT_CACHE).expanduser(), languages=langs)
    print(f"{path}  ({_describe(path)})")


@data_app.command("root")
def root_cmd() -> None:
    """Print the corpus root: $SEPKIT_DATA, else ${XDG_DATA_HOME:-~/.local/share}/sepkit (recipes' ${data})."""
    from sepkit.data.paths import data_root

    print(data_root())


@data_app.command("rate")
def rate_cmd(
    manifest: Path = typer.Argument(..., help="A file manifest (e.g. speech.jsonl)."),
    out: Path = typer.Argument(..., help="The rated manifest to write (never the input; rerun to resume)."),
    split: Optional[str] = typer.Option(None, help="Rate only this split's files (others are copied unrated)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes."),
    table: Optional[Path] = typer.Option(
        None,
        help="A ratings table (.json.gz): files whose samples it holds take its scores; "
        "the rest are rated and added to it (created if missing).",
    ),
) -> None:
    """Add DNSMOS scores (dnsmos_ovrl, _sig, _bak, _p808) to a manifest's files, to select clean training speech.

    Training configs then keep files above a score with ``speech_min: {dnsmos_bak: 3.0}``.
    """
    from sepkit.data.quality import rate_manifest
    from sepkit.data.rating_table import rate_with_table

    if out.resolve() == manifest.resolve():
        raise ConfigError(f"{out}: the output must not be the input manifest")
    if table is None:
        path, rated = rate_manifest(manifest, out, jobs=max(1, jobs), split=split, progress=_rating_progress)
        print(f"{path}  ({rated} files rated now; {_describe(path)})")
        return
    path, rated, given = rate_with_table(
        manifest, out, table, jobs=max(1, jobs), split=split, progress=_rating_progress
    )
    print(f"{path}  ({rated} files rated now, {given} taken from {table}; {_describe(path)})")


def _rating_progress(done: int, total: int) -> None:
    print(f"rated {done}/{total}", flush=True)


@data_app.command("yardstick")
def yardstick_cmd(
    out: Optional[Path] = typer.Argument(None, help="Folder for the yardstick [default: <data root>/yardstick]."),
    cache: Optional[Path] = typer.Option(None, help="Cache for .deb files and extractions [default: ~/.cache/sepkit]."),
    enh_items: int = typer.Option(250, help="Items of the enhancement set."),
    sep_items: int = typer.Option(100, help="Items of the two-speaker set."),
    files_per_speaker: int = typer.Option(60, help="At most this many recordings decoded per speaker."),
    jobs: int = typer.Option(2, help="Decoding processes."),
    seed: int = typer.Option(0, help="Seed of every draw (same seed and packages: the same sets)."),
    install_tools: bool = typer.Option(
        True, "--install-tools/--no-install-tools", help="apt-get install a missing ffmpeg when running as root."
    ),
) -> None:
    """Build the out-of-domain yardstick: held-out real speech and noise in labelled slices (enh/ and sep2/)."""
    import shlex
    from dataclasses import replace

    from sepkit.cli.app import state
    from sepkit.data.demo import DEFAULT_CACHE
    from sepkit.data.paths import data_root
    from sepkit.data.yardstick import YardstickOptions, build_yardstick

    if enh_items < 1 or sep_items < 1 or files_per_speaker < 1:
        raise ConfigError("--enh-items, --sep-items and --files-per-speaker must be at least 1")
    defaults = YardstickOptions(out=(out or data_root() / "yardstick").expanduser())
    opts = replace(
        defaults,
        seed=seed,
        pool=replace(
            defaults.pool,
            cache=(cache or DEFAULT_CACHE).expanduser(),
            jobs=max(1, jobs),
            files_per_speaker=files_per_speaker,
            install_tools=install_tools,
        ),
        enhancement=replace(defaults.enhancement, items=enh_items),
        separation=replace(defaults.separation, items=sep_items),
    )
    command = "sepkit " + " ".join(shlex.quote(a) for a in state.argv)
    sets = build_yardstick(opts, command, log=lambda line: print(line, flush=True))
    for name, folder in sets.items():
        print(f"{name}: {folder}")
    print(f"yardstick ready: {opts.out.resolve()} (see README.md)")
