"""What the out-of-domain yardstick takes from which Debian package, and how each file is labelled.

Nothing here may reach training: every package is either absent from the demo catalogue or one
the catalogue keeps for test only (``held_out_violations`` checks this). Speech: English read
speech from LibriVox, PocketSphinx's test prompts, ALSA's channel names, linphone and csound
examples, tuxpaint's English descriptions, digits and letters, codec2's narrowband test
sentences, plus tuxpaint's other volunteers and three asterisk telephone voices. Noise: every
file carries a family (street, environmental, machine, music); babble is mixed from the
yardstick's own speakers at build time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Callable

from sepkit.data.demo import catalog as demo
from sepkit.data.demo.catalog import Source, constant_speaker

SPLIT = "yardstick"  # the pool's split name (``audio/<kind>/yardstick/<source>/...``)
FAMILIES = ("street", "babble", "environmental", "music", "machine")
NARROWBAND_RATE = 8000
WIDEBAND_RATE = 16000

Rule = Callable[[str], "str | None"]


@dataclass(frozen=True)
class YardstickSource(Source):
    """A demo ``Source`` plus what the yardstick needs: the decoding rate, a language rule and a noise family rule."""

    rate: int = WIDEBAND_RATE  # speech recorded at 8 kHz stays at 8 kHz (narrowband items only)
    lang_of: Rule | None = None  # language from the path, when it varies inside a source
    family: Rule | None = None  # noise family from the path; None drops the file

    def language(self, rel: str) -> str | None:
        """The language of the file at ``rel``."""
        return self.lang_of(rel) if self.lang_of else self.lang

    def family_of(self, rel: str) -> str | None:
        """The noise family of the file at ``rel`` (speech: None)."""
        return self.family(rel) if self.family else None


# --- labelling rules (paths relative to the source's prefix) -----------------------------------


def tuxpaint_lang(rel: str) -> str:
    """``x_desc_fr.ogg``, ``7_en_GB.ogg``, ``a_filled_en_GB.ogg`` -> the suffix; none (``x_desc.ogg``): English."""
    stem = PurePosixPath(rel).stem
    m = (
        re.search(r"_desc(?:_([A-Za-z_]+))?$", stem)
        or re.fullmatch(r"[0-9](?:_([A-Za-z_]+))?", stem)
        or re.search(r"_(?:filled|outline)(?:_([A-Za-z_]+))?$", stem)
    )
    return m.group(1) if m and m.group(1) else "en"


def tuxpaint_voice(rel: str) -> str:
    """One volunteer per language (the demo catalogue's rule, extended to digits and letters)."""
    return f"tuxpaint-{tuxpaint_lang(rel)}"


def file_speaker(prefix: str) -> Callable[[str], str]:
    """Each file is its own talker (codec2's test sentences come from different people)."""

    def speaker(rel: str) -> str:
        return f"{prefix}-{PurePosixPath(rel).stem}"

    speaker.__qualname__ = f"file_speaker({prefix!r})"
    return speaker


def by_name(table: dict[str, tuple[str, ...]]) -> Rule:
    """Family from a table ``family -> file stems`` (anything not listed is left out)."""
    lookup = {stem: family for family, stems in table.items() for stem in stems}

    def family(rel: str) -> str | None:
        return lookup.get(PurePosixPath(rel).stem)

    family.__qualname__ = "by_name"
    return family


def constant_family(name: str) -> Rule:
    """Every file is of the same family."""

    def family(rel: str) -> str:
        return name

    family.__qualname__ = f"constant_family({name!r})"
    return family


def tuxpaint_family(rel: str) -> str | None:
    """tuxpaint's stamp sounds (not the spoken descriptions): animals and weather, household machines, a siren."""
    path = PurePosixPath(rel)
    if re.search(r"_desc|_[a-z]{2}(_[A-Za-z]{2})?$", path.stem) or path.parts[0] == "symbols":
        return None
    if path.parts[0] in ("animals", "naturalforces") or path.stem == "fireworks":
        return "environmental"
    return {"Washing-machine": "machine", "vacuum_cleaner": "machine", "saw": "machine", "firetruck": "street"}.get(
        path.stem
    )


_STAMPS = "usr/share/tuxpaint/stamps"
_FG = "usr/share/games/flightgear"

SPEECH: tuple[YardstickSource, ...] = (
    YardstickSource(
        "pocketsphinx-librivox",
        "pocketsphinx-testdata",
        "speech",
        SPLIT,
        "usr/share/pocketsphinx/test/data/librivox",
        r"\.wav$",
        constant_speaker("librivox-austen-reader"),
        "en",
    ),
    YardstickSource(
        "pocketsphinx-cards",
        "pocketsphinx-testdata",
        "speech",
        SPLIT,
        "usr/share/pocketsphinx/test/data/cards",
        r"\.wav$",
        constant_speaker("pocketsphinx-cards"),
        "en",
    ),
    YardstickSource(
        "alsa-channels",
        "alsa-utils",
        "speech",
        SPLIT,
        "usr/share/sounds/alsa",
        r"^(Front|Rear|Side)_\w+\.wav$",
        constant_speaker("alsa-channels"),
        "en",
    ),
    YardstickSource(
        "linphone-hello",
        "linphone-common",
        "speech",
        SPLIT,
        "usr/share/sounds/linphone",
        r"^hello16000\.wav$",
        constant_speaker("linphone-hello"),
        "en",
    ),
    YardstickSource(
        "csound-fox",
        "csoundqt-examples",
        "speech",
        SPLIT,
        "usr/share/csoundqt/Examples/SourceMaterials",
        r"^fox\.wav$",
        constant_speaker("csound-fox"),
        "en",
    ),
    YardstickSource(
        "codec2-16k",
        "codec2-examples",
        "speech",
        SPLIT,
        "usr/share/codec2",
        r"^(raw/speech_orig_16k|wav/wia_16kHz)\.wav$",
        file_speaker("codec2"),
        "en",
    ),
    YardstickSource(
        "codec2-8k",
        "codec2-examples",
        "speech",
        SPLIT,
        "usr/share/codec2/wav",
        r"^(big_dog|cross|forig|hts1a|hts2a|morig)\.wav$",
        file_speaker("codec2"),
        "en",
        rate=NARROWBAND_RATE,
    ),
    YardstickSource(
        "tuxpaint-desc-en",
        "tuxpaint-stamps-default",
        "speech",
        SPLIT,
        _STAMPS,
        r"_desc\.ogg$",
        constant_speaker("tuxpaint-en"),
        "en",
    ),
    YardstickSource(
        "tuxpaint-desc",
        "tuxpaint-stamps-default",
        "speech",
        SPLIT,
        _STAMPS,
        r"_desc_[A-Za-z_]+\.ogg$",
        tuxpaint_voice,
        lang_of=tuxpaint_lang,
    ),
    YardstickSource(
        "tuxpaint-digits",
        "tuxpaint-stamps-default",
        "speech",
        SPLIT,
        _STAMPS + "/symbols/math",
        r"^[0-9](_[A-Za-z_]+)?\.ogg$",
        tuxpaint_voice,
        lang_of=tuxpaint_lang,
    ),
    YardstickSource(
        "tuxpaint-letters",
        "tuxpaint-stamps-default",
        "speech",
        SPLIT,
        _STAMPS + "/symbols/alphabets/english",
        r"_en_GB\.ogg$",
        tuxpaint_voice,
        lang_of=tuxpaint_lang,
    ),
    YardstickSource(
        "asterisk-ru",
        "asterisk-core-sounds-ru-g722",
        "speech",
        SPLIT,
        "usr/share/asterisk/sounds",
        r"^(?!.*/silence/).*\.g722$",
        demo.asterisk_speaker,
        "ru",
    ),
    YardstickSource(
        "asterisk-fr-armelle",
        "asterisk-prompt-fr-armelle",
        "speech",
        SPLIT,
        "usr/share/asterisk/sounds/fr",
        r"^(?!beep)[^/]+\.gsm$",
        constant_speaker("asterisk-fr-armelle"),
        "fr",
        rate=NARROWBAND_RATE,
    ),
    YardstickSource(
        "asterisk-es-co",
        "asterisk-prompt-es-co",
        "speech",
        SPLIT,
        "usr/share/asterisk/sounds/es",
        r"^(?!beep)[^/]+\.gsm$",
        constant_speaker("asterisk-es-co"),
        "es",
        rate=NARROWBAND_RATE,
    ),
)

_REDECLIPSE = {
    "street": ("distant_cars",),
    "machine": ("machine1", "machine2", "hum", "pneumatic", "electro", "vapour"),
    "environmental": (
        "blowwind",
        "cavedrip",
        "creek",
        "cycadas",
        "fire",
        "forest1",
        "forest2",
        "forest3",
        "hollowwind",
        "nightcrickets",
        "river",
        "wastewind",
        "water",
        "waterfall",
        "waterfall1",
        "waterfall2",
        "waterfall3",
        "waterfall_deep",
        "waterfall_huge",
        "waterfall_indoor",
        "waterfall_medium",
        "wind",
    ),
}
_SUPERTUXKART = {
    "street": ("sara_airport_pa", "lenautile_restaurant"),
    "machine": ("engine_large", "engine_small", "machine_sound", "airplane_jetEngine", "static-radio"),
    "environmental": ("rain", "river_loop", "waterfall_loop_2", "thunder", "exotic-birds", "exotic-birds_2"),
}
_FLIGHTGEAR = {
    "machine": (
        "engine-prop",
        "prop",
        "R-1535Slow",
        "exhaust_loop",
        "turbine_loop",
        "turbojet_fan",
        "turboprop1",
        "jet",
        "fan",
        "helicopter",
        "rotor-2blade",
        "p51d_rpm1",
    ),
    "environmental": ("rain", "rain-windshield", "thunder1", "wind1", "wind", "wave"),
}
_C172P = {"machine": ("engine", "engine-idle", "flaps-motor", "gyro"), "environmental": ("water-fast", "water-still")}
_CSOUND = {
    "environmental": ("Seashore",),
    "music": ("choir", "violins", "ClassicalGuitar", "flute", "Songpan", "BratscheMono"),
}

NOISE: tuple[YardstickSource, ...] = (
    YardstickSource(
        "redeclipse-ambience",
        "redeclipse-data",
        "noise",
        SPLIT,
        "usr/share/games/redeclipse/data/sounds/ambience",
        r"^[^/]+\.ogg$",
        family=by_name(_REDECLIPSE),
    ),
    YardstickSource(
        "supertuxkart-sfx",
        "supertuxkart-data",
        "noise",
        SPLIT,
        "usr/share/games/supertuxkart/data/sfx",
        r"^[^/]+\.ogg$",
        family=by_name(_SUPERTUXKART),
    ),
    YardstickSource(
        "tuxpaint-sounds", "tuxpaint-stamps-default", "noise", SPLIT, _STAMPS, r"\.ogg$", family=tuxpaint_family
    ),
    YardstickSource(
        "flightgear-sounds",
        "flightgear-data-base",
        "noise",
        SPLIT,
        _FG + "/Sounds",
        r"^[^/]+\.wav$",
        family=by_name(_FLIGHTGEAR),
    ),
    YardstickSource(
        "flightgear-c172p",
        "flightgear-data-base",
        "noise",
        SPLIT,
        _FG + "/Aircraft/c172p/Sounds",
        r"^[^/]+\.wav$",
        family=by_name(_C172P),
    ),
    YardstickSource(
        "csound-materials",
        "csoundqt-examples",
        "noise",
        SPLIT,
        "usr/share/csoundqt/Examples/SourceMaterials",
        r"^[^/]+\.wav$",
        family=by_name(_CSOUND),
    ),
    YardstickSource(
        "supertuxkart-music",
        "supertuxkart-data",
        "music",
        SPLIT,
        "usr/share/games/supertuxkart/data/music",
        r"\.ogg$",
        family=constant_family("music"),
    ),
    YardstickSource(
        "freedroidrpg-music",
        "freedroidrpg-data",
        "music",
        SPLIT,
        "usr/share/freedroidrpg/data/sound/music",
        r"\.ogg$",
        family=constant_family("music"),
    ),
    YardstickSource(
        "warmux-music",
        "warmux-data",
        "music",
        SPLIT,
        "usr/share/games/warmux/music",
        r"\.ogg$",
        family=constant_family("music"),
    ),
    YardstickSource(
        "asterisk-moh",
        "asterisk-moh-opsound-g722",
        "music",
        SPLIT,
        "usr/share/asterisk/moh",
        r"\.g722$",
        family=constant_family("music"),
    ),
)

# the demo catalogue's real room impulse responses, which it keeps for test only
RIRS: tuple[Source, ...] = tuple(s for s in demo.SOURCES if s.real_rir)

SOURCES: tuple[Source, ...] = (*SPEECH, *NOISE, *RIRS)


def packages(sources: tuple[Source, ...] = SOURCES) -> list[str]:
    """Packages the yardstick downloads, in catalogue order."""
    return list(dict.fromkeys(s.package for s in sources))


def held_out_violations(sources: tuple[Source, ...] = SOURCES) -> list[str]:
    """Yardstick packages that the demo catalogue uses for train or dev (must be none), as ``package (kind/split)``."""
    training = {
        (pkg, kind, split) for (kind, split), pkgs in demo.split_packages().items() if split != "test" for pkg in pkgs
    }
    mine = {s.package for s in sources}
    return sorted(f"{pkg} ({kind}/{split})" for pkg, kind, split in training if pkg in mine)
