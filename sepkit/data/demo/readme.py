"""The demo corpus's summary (hours, files, speakers per kind and split) and its README."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

SPLITS = ("train", "dev", "test")


def summarize(entries: list[dict]) -> dict[str, Any]:
    """Files, hours and distinct speakers per (kind, split) and per source."""

    def stats(rows: list[dict]) -> dict[str, Any]:
        return {
            "files": len(rows),
            "hours": round(sum(r["duration"] for r in rows) / 3600, 3),
            "speakers": len({r["speaker"] for r in rows if r.get("speaker")}),
        }

    groups: dict[tuple, list[dict]] = defaultdict(list)
    by_source: dict[tuple, list[dict]] = defaultdict(list)
    for e in entries:
        kind = "speech (synthetic)" if e.get("synthetic") else e["kind"]
        groups[(kind, e["split"])].append(e)
        by_source[(kind, e["split"], e.get("source", "?"), e.get("package", "?"))].append(e)
    order = ["speech", "speech (synthetic)", "noise", "music", "rir"]
    key = lambda k: (order.index(k[0]) if k[0] in order else 9, SPLITS.index(k[1]))  # noqa: E731
    return {
        "splits": [
            {
                "kind": k[0],
                "split": k[1],
                **stats(groups[k]),
                "sources": sorted({e.get("source", "?") for e in groups[k]}),
            }
            for k in sorted(groups, key=key)
        ],
        "sources": [
            {"kind": k[0], "split": k[1], "source": k[2], "package": k[3], **stats(by_source[k])}
            for k in sorted(by_source, key=lambda k: (key(k), k[2]))
        ],
    }


def table(summary: dict[str, Any]) -> str:
    """The per-split summary as a fixed-width text table."""
    lines = [f"{'kind':<19}{'split':<7}{'files':>7}{'hours':>8}{'speakers':>10}  sources", "-" * 78]
    for r in summary["splits"]:
        lines.append(
            f"{r['kind']:<19}{r['split']:<7}{r['files']:>7}{r['hours']:>8.2f}{r['speakers']:>10}  "
            + ", ".join(r["sources"])
        )
    return "\n".join(lines)


def licences(out: Path) -> dict[str, list[str]]:
    """Licence names declared in each copied copyright file (DEP-5 ``License:`` fields)."""
    found = {}
    for path in sorted((out / "licenses").glob("*.copyright")):
        names = re.findall(r"^License:[ \t]*(\S[^\n]*)$", path.read_text(errors="replace"), flags=re.MULTILINE)
        found[path.name.removesuffix(".copyright")] = sorted({n.strip() for n in names}) or ["see file"]
    return found


def write_readme(out: Path, summary: dict[str, Any], sources: list, opts: Any) -> Path:
    """``OUT/README.md``: what the corpus holds, how it is split and under which licences."""
    split_rows = "\n".join(
        f"| {r['kind']} | {r['split']} | {r['files']} | {r['hours']:.2f} | {r['speakers']} | "
        f"{', '.join(r['sources'])} |"
        for r in summary["splits"]
    )
    source_rows = "\n".join(f"| {s.name} | {s.package} | {s.kind} | {s.split} | `{s.prefix}` |" for s in sources)
    licence_rows = "\n".join(f"| {pkg} | {', '.join(names)} |" for pkg, names in licences(out).items())
    limit = f"at most {opts.hours_limit} h per source" if opts.hours_limit else "every selected file"
    text = f"""# sepkit demo corpus

Real speech, noise, music and room impulse responses taken from Debian packages, decoded to
{opts.sample_rate} Hz mono, plus simulated RIRs (pyroomacoustics) and, in train only, synthetic
espeak-ng speech. Built by `sepkit data demo` ({limit}); never commit it: rebuild it.

## Layout
- `audio/<kind>/<split>/<source>/*.flac` (RIRs: float32 `.wav`), 16-bit FLAC for the rest.
- `manifests/{{speech,noise,music,rir}}.jsonl`: one line per file with `path`, `duration`,
  `sample_rate`, `speaker`, `split`, `kind`, plus `source`, `package`, `original` (path inside the
  package), `lang`, `piece` (when a long file was cut), `est_snr_db` (speech: a rough recording
  SNR, 95th over 10th percentile of 20 ms frame power) and `real` (RIRs).
- `manifests/speech_synthetic.jsonl`: espeak-ng speech, `"synthetic": true`, train only; opt in.
- `fixed/{{enh_dev,enh_test,sep2_dev,sep2_test}}`: fixed evaluation sets (`mix/`, `s1/`, ...).
- `licenses/<package>.copyright`: the copyright file of every package used.

## Splits
Whole packages are held out, so no speaker, microphone or noise recording of dev or test is in
train. Byte-identical files are kept only in the first of test, dev, train. Speaker ids come
from the paths; where a package has one folder per language (tuxpaint, klettres, ktuberling),
each language is taken as one speaker, which the package documentation suggests but cannot prove.
Real RIRs are test only; simulated RIRs are different random rooms per split.

| kind | split | files | hours | speakers | sources |
|---|---|---|---|---|---|
{split_rows}

### Sources
| source | package | kind | split | folder |
|---|---|---|---|---|
{source_rows}

## Caveats
- tuxpaint descriptions are volunteers' home recordings, some with room noise or clipping; use
  `est_snr_db` to filter them where a clean reference matters, or rate every file with
  `sepkit data rate manifests/speech.jsonl manifests/speech_rated.jsonl` and keep the clean ones
  with a dataset's `speech_min: {{dnsmos_bak: 3.5}}`.
- asterisk prompts are G.722 (7 kHz band); klettres/ktuberling/kajongg are short words or letters;
  hedgewars voices are acted exclamations; fillets voices carry light reverberation.
- Speaker ids are not always persons: fillets minor characters get one id per level (the same
  actors may voice several), hedgewars ids are voice packs, kajongg's English and German voices
  may share people. The tuxpaint and asterisk test voices are one person per id.
- Noise files shorter than the mixing segment are looped by the datasets.

## Fixed evaluation sets
Drawn by `sepkit.data.demo.fixed` from one split each (speech, noise and RIRs of that split):
`enh_dev` (100) and `enh_test` (150): 4-6 s, one speaker, noise at -5..20 dB SNR, 30 %
reverberant (target = speech with the first 50 ms of the RIR), level -35..-15 dBFS;
`sep2_dev` (100) and `sep2_test` (150): 4-6 s, two different speakers at -5..5 dB relative gain,
no noise. Float32 WAV; `manifest.jsonl` records every sampled parameter and source file.

## Licences
Several packages are CC-BY-SA: keep the attribution (the copyright files) with anything derived
from this corpus, and share derived audio under the same terms.

The table lists every licence a package's copyright file declares, for any of its files; see
`licenses/<package>.copyright` for which applies to the audio used here.

| package | licences declared |
|---|---|
{licence_rows}
"""
    path = out / "README.md"
    path.write_text(text)
    return path
