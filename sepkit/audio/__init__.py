"""Audio I/O and resampling."""

from sepkit.audio.io import (
    AtomicAudioWriter,
    AudioInfo,
    audio_info,
    check_output,
    expand_inputs,
    read_audio,
    write_audio,
)

__all__ = ["AtomicAudioWriter", "AudioInfo", "audio_info", "check_output", "expand_inputs", "read_audio", "write_audio"]
