"""Inference engine: chunking, overlap-add, streaming resampling, output limiting, device handling."""

from sepkit.inference.engine import InferenceSettings, model_runner, process_array, process_stream
from sepkit.inference.overlap_add import StreamingOverlapAdd, chunk_starts, chunk_window, guard_samples

__all__ = [
    "InferenceSettings",
    "StreamingOverlapAdd",
    "chunk_starts",
    "chunk_window",
    "guard_samples",
    "model_runner",
    "process_array",
    "process_stream",
]
