"""Audio I/O and resampling."""

from sepkit.audio.io import (
    AUDIO_EXTENSIONS,
    AtomicAudioWriter,
    AudioInfo,
    audio_info,
    check_output,
    expand_inputs,
    iter_blocks,
    output_subtype,
    read_audio,
    write_audio,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "AtomicAudioWriter",
    "AudioInfo",
    "audio_info",
    "check_output",
    "expand_inputs",
    "iter_blocks",
    "output_subtype",
    "read_audio",
    "write_audio",
]
