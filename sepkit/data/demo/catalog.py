"""What the demo corpus takes from which Debian package, and in which split.

Splits hold out whole packages, so that no speaker, microphone or noise recording of dev or test
appears in train. Speech: train = festvox-ru, asterisk en/es/fr/it, fillets (Czech), klettres,
ktuberling, hedgewars voices; dev = fillets (Dutch, other voice actors) and kajongg; test =
tuxpaint stamp descriptions (one volunteer per language) and the asterisk Russian voice. Noise: train =
0ad ambience, megaglest, qabcs, sonic-pi; dev = lincity-ng, torcs; test = redeclipse ambience,
supertuxkart effects. Music: train = 0ad, hedgewars, megaglest; dev = lincity-ng; test =
supertuxkart. Real RIRs are test only (a sim-to-real check); simulated RIRs are split by room.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Callable

SPLIT_ORDER = ("test", "dev", "train")  # duplicates are kept in the first split of this order


@dataclass(frozen=True)
class Source:
    """One selection of files from one package: ``pattern`` is a regex on the path inside ``prefix``."""

    name: str
    package: str
    kind: str
    split: str
    prefix: str  # folder inside the package (or inside ``archive``) that holds the files
    pattern: str = r".*\.(ogg|wav|flac|g722)$"
    speaker: Callable[[str], str | None] | None = None  # from the path relative to ``prefix``
    lang: str | None = None
    archive: str | None = None  # a zip inside the package that holds ``prefix`` (0ad)
    real_rir: bool = False

    def selects(self, rel: str) -> bool:
        """Whether the file at ``rel`` (relative to ``prefix``) belongs to this source."""
        return re.search(self.pattern, rel, flags=re.IGNORECASE) is not None


# --- speaker rules (paths relative to the source's prefix) ------------------------------------


def asterisk_speaker(rel: str) -> str:
    """``en_US_f_Allison/...`` -> ``asterisk-allison`` (en and es are the same voice)."""
    return "asterisk-" + PurePosixPath(rel).parts[0].split("_")[-1].lower()


def fillets_speaker(rel: str) -> str:
    """``<level>/<lang>/<level>-<spk>-<line>.ogg``: main fish ``m``/``v`` keep their id; others are per level."""
    parts = PurePosixPath(rel).parts
    level, lang, fields = parts[-3], parts[-2], PurePosixPath(rel).stem.split("-")
    spk = fields[1] if len(fields) >= 3 else fields[0]
    return f"fillets-{lang}-{spk}" if spk in ("m", "v") else f"fillets-{lang}-{level}-{spk}"


def first_folder_speaker(prefix: str) -> Callable[[str], str]:
    """Speaker = ``prefix`` + the first folder of the path, without ``@variant`` (one voice per folder)."""

    def speaker(rel: str) -> str:
        return f"{prefix}-{PurePosixPath(rel).parts[0].split('@')[0]}"

    speaker.__qualname__ = f"first_folder_speaker({prefix!r})"
    return speaker


def kajongg_speaker(rel: str) -> str:
    """``male1/x.ogg`` (English) or ``de/male1/x.ogg``."""
    parts = PurePosixPath(rel).parts[:-1]
    return "kajongg-" + ("-".join(parts) if len(parts) > 1 else f"en-{parts[0]}")


def tuxpaint_speaker(rel: str) -> str:
    """``.../<stamp>_desc_<lang>.ogg``: one volunteer per language."""
    return "tuxpaint-" + _tuxpaint_lang(rel)


def _tuxpaint_lang(rel: str) -> str:
    m = re.search(r"_desc_([A-Za-z_]+)\.ogg$", rel)
    return m.group(1) if m else "unknown"


def constant_speaker(name: str) -> Callable[[str], str]:
    """Every file has the same speaker."""

    def speaker(rel: str) -> str:
        return name

    speaker.__qualname__ = f"constant_speaker({name!r})"
    return speaker


_AST = "usr/share/asterisk/sounds"
_SPEECH = r"^(?!.*/silence/).*\.g722$"
_FILLETS = "usr/share/games/fillets-ng/sound"

SOURCES: tuple[Source, ...] = (
    # speech: train
    Source(
        "festvox-ru",
        "festvox-ru",
        "speech",
        "train",
        "usr/share/festival/voices/russian/msu_ru_nsh_clunits/wav",
        r"\.wav$",
        constant_speaker("festvox-ru-nsh"),
        "ru",
    ),
    *(
        Source(
            f"asterisk-{lang}",
            f"asterisk-core-sounds-{lang}-g722",
            "speech",
            "train",
            _AST,
            _SPEECH,
            asterisk_speaker,
            lang,
        )
        for lang in ("en", "es", "fr", "it")
    ),
    Source("fillets-cs", "fillets-ng-data-cs", "speech", "train", _FILLETS, r"/cs/[^/]+\.ogg$", fillets_speaker, "cs"),
    Source(
        "klettres",
        "klettres-data",
        "speech",
        "train",
        "usr/share/klettres",
        r"/(alpha|syllab)/[^/]+\.ogg$",
        first_folder_speaker("klettres"),
    ),
    Source(
        "ktuberling",
        "ktuberling-data",
        "speech",
        "train",
        "usr/share/ktuberling/sounds",
        r"^[^/]+/[^/]+\.(ogg|wav)$",
        first_folder_speaker("ktuberling"),
    ),
    Source(
        "hedgewars-voices",
        "hedgewars-data",
        "speech",
        "train",
        "usr/share/games/hedgewars/Data/Sounds/voices",
        r"\.ogg$",
        first_folder_speaker("hedgewars"),
    ),
    # speech: dev (the Dutch fillets voice actors; kajongg's eight English and German voices)
    Source("fillets-nl", "fillets-ng-data-nl", "speech", "dev", _FILLETS, r"/nl/[^/]+\.ogg$", fillets_speaker, "nl"),
    Source("kajongg", "kajongg", "speech", "dev", "usr/share/kajongg/voices", r"\.ogg$", kajongg_speaker),
    # speech: test
    Source(
        "tuxpaint-desc",
        "tuxpaint-stamps-default",
        "speech",
        "test",
        "usr/share/tuxpaint/stamps",
        r"_desc_[A-Za-z_]+\.ogg$",
        tuxpaint_speaker,
    ),
    Source("asterisk-ru", "asterisk-core-sounds-ru-g722", "speech", "test", _AST, _SPEECH, asterisk_speaker, "ru"),
    # noise
    Source(
        "0ad-ambient",
        "0ad-data",
        "noise",
        "train",
        "audio/ambient",
        r"\.ogg$",
        archive="usr/share/games/0ad/mods/public/public.zip",
    ),
    Source(
        "megaglest-tilesets",
        "megaglest-data",
        "noise",
        "train",
        "usr/share/games/megaglest/tilesets",
        r"/sounds/[^/]+\.(ogg|wav)$",
    ),
    Source("qabcs-noises", "qabcs-data", "noise", "train", "usr/share/qabcs/abcs/all/noises"),
    Source(
        "sonic-pi-ambient",
        "sonic-pi-samples",
        "noise",
        "train",
        "usr/share/sonic-pi/samples",
        r"^(ambi|misc|vinyl)_[^/]+\.flac$",
    ),
    Source("lincity-sounds", "lincity-ng-data", "noise", "dev", "usr/share/games/lincity-ng/sounds"),
    Source("torcs-sounds", "torcs-data", "noise", "dev", "usr/share/games/torcs/data/sound"),
    Source(
        "redeclipse-ambience", "redeclipse-data", "noise", "test", "usr/share/games/redeclipse/data/sounds/ambience"
    ),
    Source("supertuxkart-sfx", "supertuxkart-data", "noise", "test", "usr/share/games/supertuxkart/data/sfx"),
    # music
    Source(
        "0ad-music",
        "0ad-data",
        "music",
        "train",
        "audio/music",
        r"\.ogg$",
        archive="usr/share/games/0ad/mods/public/public.zip",
    ),
    Source("hedgewars-music", "hedgewars-data", "music", "train", "usr/share/games/hedgewars/Data/Music", r"\.ogg$"),
    Source(
        "megaglest-music", "megaglest-data", "music", "train", "usr/share/games/megaglest", r"(^|/)music/[^/]+\.ogg$"
    ),
    Source("lincity-music", "lincity-ng-data", "music", "dev", "usr/share/games/lincity-ng/music"),
    Source(
        "supertuxkart-music", "supertuxkart-data", "music", "test", "usr/share/games/supertuxkart/data/music", r"\.ogg$"
    ),
    # real room impulse responses (test only)
    Source(
        "guitarix-rir", "guitarix-common", "rir", "test", "usr/share/gx_head/sounds", r"^greathall\.wav$", real_rir=True
    ),
    Source(
        "csoundqt-rir",
        "csoundqt-examples",
        "rir",
        "test",
        "usr/share/csoundqt/Examples/SourceMaterials",
        r"^(impulse_big_hall|StairwellL|StairwellR|dishL|dishR)\.wav$",
        real_rir=True,
    ),
    Source(
        "jconvolver-rir",
        "jconvolver-config-files",
        "rir",
        "test",
        "usr/share/jconvolver/config-files/demo-reverbs",
        r"^street2-[LR]\.wav$",
        real_rir=True,
    ),
)

# Seconds: shorter pieces are dropped, longer files are cut into pieces of about ``max`` seconds.
MIN_SECONDS = {"speech": 0.4, "noise": 1.0, "music": 5.0, "rir": 0.05}
MAX_SECONDS = {"speech": 15.0, "noise": 30.0, "music": 30.0, "rir": 4.0}


def packages(sources: tuple[Source, ...] = SOURCES, exclude: tuple[str, ...] = ()) -> list[str]:
    """Packages to download, in catalogue order, without the excluded ones."""
    return list(dict.fromkeys(s.package for s in sources if s.package not in exclude))


def split_packages(sources: tuple[Source, ...] = SOURCES) -> dict[tuple[str, str], set[str]]:
    """``(kind, split) -> packages``: what the honesty check compares."""
    out: dict[tuple[str, str], set[str]] = {}
    for s in sources:
        out.setdefault((s.kind, s.split), set()).add(s.package)
    return out


def output_name(source: Source, rel: str, piece: int | None = None) -> str:
    """Corpus-relative path of a decoded file: ``audio/<kind>/<split>/<source>/<flattened path>[_pNN].flac``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(PurePosixPath(rel).with_suffix("")).replace("/", "__"))
    suffix = "" if piece is None else f"_p{piece:02d}"
    ext = "wav" if source.kind == "rir" else "flac"  # RIRs stay float
    return f"audio/{source.kind}/{source.split}/{source.name}/{stem}{suffix}.{ext}"


def manifest_entry(source: Source, rel: str, piece: dict, labels: dict | None = None) -> dict:
    """The manifest entry of one decoded ``piece`` of ``rel``: the file, its source, ``labels``, then the piece's own."""
    entry = {
        "path": piece["path"],
        "duration": piece["duration"],
        "sample_rate": piece["sample_rate"],
        "speaker": source.speaker(rel) if source.speaker else None,
        "split": source.split,
        "kind": source.kind,
        "source": source.name,
        "package": source.package,
        "original": rel,
        **(labels or {}),
    }
    entry.update({k: piece[k] for k in ("piece", "est_snr_db") if k in piece})
    return entry
