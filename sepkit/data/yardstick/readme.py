"""The yardstick's README: where every recording came from, the speakers, the counts per slice, the command."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from sepkit.data.demo.catalog import split_packages
from sepkit.data.yardstick.plan import label_order
from sepkit.data.yardstick.render import MIN_SPEECH_SNR_DB, SpeechBank, is_english
from sepkit.data.yardstick.sets import read_items
from sepkit.metrics.fingerprint import SHOWN


def write_readme(
    out: Path, entries: list[dict], sets: dict[str, Path], command: str, digests: dict[str, str] | None = None
) -> Path:
    """``out/README.md`` for the pool ``entries``, the sets' ``items.jsonl`` files and their audio digests."""
    path = out / "README.md"
    path.write_text(readme_text(out, entries, sets, command, digests))
    return path


def readme_text(
    out: Path, entries: list[dict], sets: dict[str, Path], command: str, digests: dict[str, str] | None = None
) -> str:
    """The README's Markdown."""
    digests = digests or {}
    held = sorted({p for (kind, split), pkgs in split_packages().items() if split != "test" for p in pkgs})
    lines = [
        "# sepkit out-of-domain yardstick",
        "",
        "Test sets for every decision about what to ship: real recordings only, from Debian packages that no",
        "training configuration touches (the demo catalogue's train and dev packages are never used), in slices",
        "that `sepkit evaluate` reports one by one (it finds `items.jsonl` beside `--mix`'s folder).",
        "",
        "Made with:",
        "",
        "```bash",
        command,
        "```",
        "",
        "Score a model on it, beside baselines:",
        "",
        "```bash",
        f"sepkit evaluate enhance-default --mix {out}/enh/mix --ref {out}/enh/s1 --baseline noisereduce",
        f"sepkit evaluate separate-2spk --mix {out}/sep2/mix --ref {out}/sep2",
        "```",
        "",
        f"Packages never used (the demo catalogue's train and dev splits): {', '.join(held)}.",
        "",
        "## Sets",
        "",
    ]
    for name, items_file in sets.items():
        rows = read_items(items_file)
        lines += _set_section(name, rows, digests.get(name))
    lines += _speakers(entries) + _sources(entries)
    lines += [
        "",
        "Each package's copyright file is in `licenses/`; several are CC-BY-SA (attribution, share-alike).",
        "Derived audio keeps the licence of its package.",
        "",
    ]
    return "\n".join(lines)


def _set_section(name: str, rows: list[dict], digest: str | None) -> list[str]:
    minutes = sum(r["duration"] for r in rows) / 60
    title = {
        "enh": "Enhancement (`enh/`: mix, s1, noise; reference: `clean` where DNSMOS rates s1 BAK >= 3.5 and SIG "
        ">= 3.0, else `own noise`, where SI-SDR penalises removing what the reference itself holds)",
        "sep2": "Two speakers (`sep2/`: mix, s1, s2, noise; gain: the second speaker's level relative to the "
        "first, absolute)",
    }
    out = [
        f"### {title.get(name, name)}",
        "",
        f"{len(rows)} items, {minutes:.1f} min.",
        "",
        *(
            [
                f"Audio digest `{digest[:SHOWN]}` (`{digest}`): `sepkit evaluate` prints it for this set, and scores "
                "from two machines compare only where it agrees.",
                "",
            ]
            if digest
            else []
        ),
        "| slice | value | items |",
        "|---|---|---:|",
    ]
    by_key: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        for key, value in r["slices"].items():
            by_key[key][value] += 1
    for key, values in by_key.items():
        for value, count in sorted(values.items(), key=lambda kv: label_order(kv[0])):
            out.append(f"| {key} | {value} | {count} |")
    return out + [""]


def _speakers(entries: list[dict]) -> list[str]:
    bank = SpeechBank(entries)
    english = sum(1 for es in bank.by_speaker.values() if is_english(es[0]))
    out = [
        "## Speakers",
        "",
        f"{len(bank.by_speaker)} speakers ({english} English).",
        "",
        f"Targets come from recordings that the decoder's rough SNR estimate puts at {MIN_SPEECH_SNR_DB:.0f} dB or "
        "cleaner. Speaker ids join recordings that may be one person (tuxpaint: one volunteer per language).",
        "",
        "| speaker | language | package | rate | clean utterances | minutes |",
        "|---|---|---|---:|---:|---:|",
    ]
    for speaker, es in sorted(bank.by_speaker.items()):
        out.append(
            f"| {speaker} | {es[0].get('lang') or '?'} | {es[0]['package']} | {es[0]['sample_rate']} | "
            f"{len(es)} | {sum(e['duration'] for e in es) / 60:.1f} |"
        )
    return out + [""]


def _sources(entries: list[dict]) -> list[str]:
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for e in entries:
        groups[(e["kind"], e["source"], e["package"])].append(e)
    out = [
        "## Sources",
        "",
        "| kind | source | package | files | minutes | families or speakers |",
        "|---|---|---|---:|---:|---|",
    ]
    for (kind, source, package), es in sorted(groups.items()):
        labels = Counter(e.get("family") or e.get("speaker") or "-" for e in es)
        text = ", ".join(f"{k} {v}" for k, v in sorted(labels.items()))
        out.append(
            f"| {kind} | {source} | {package} | {len(es)} | {sum(e['duration'] for e in es) / 60:.1f} | "
            f"{text if len(text) < 160 else text[:157] + '...'} |"
        )
    return out
