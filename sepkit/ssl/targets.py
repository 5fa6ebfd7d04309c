"""HuBERT's frame labels: the nearest k-means centroid of MFCC features, or of a previous encoder's layer.

Iteration 1 clusters 39-d MFCC (13 coefficients, deltas, delta-deltas) computed on the student's
own frame grid (window = the stem's receptive field, hop = its stride); iteration 2 clusters
layer ``layer`` of a previously exported HuBERT encoder (the teacher, frozen). The centroids
are buffers, so a resumed run keeps them and never refits.
"""

from __future__ import annotations

from typing import Iterable

import torch
import torch.nn as nn

from sepkit.errors import ConfigError
from sepkit.ssl.frames import fit_frames, resample_frames
from sepkit.ssl.kmeans import kmeans, nearest
from sepkit.ssl.load import load_encoder

MFCC = "mfcc"


class MfccFeatures(nn.Module):
    """39-d MFCC + Δ + ΔΔ frames (B, F, 39), frame i over samples [hop * i, hop * i + window)."""

    def __init__(self, sample_rate: int, window: int, hop: int, n_mfcc: int = 13, n_mels: int = 23) -> None:
        super().__init__()
        import torchaudio.transforms as T

        melkwargs = {"n_fft": window, "win_length": window, "hop_length": hop, "n_mels": n_mels, "center": False}
        self.mfcc = T.MFCC(sample_rate, n_mfcc=n_mfcc, melkwargs=melkwargs)
        self.deltas = T.ComputeDeltas()
        self.dim = 3 * n_mfcc

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        with torch.autocast(wav.device.type, enabled=False):
            c = self.mfcc(wav.float())  # (B, 13, F)
            d = self.deltas(c)
            return torch.cat([c, d, self.deltas(d)], 1).transpose(1, 2)


class ClusterTargets(nn.Module):
    """Frame labels (B, F) for a student encoder's grid: MFCC or a teacher's layer, quantised by k-means."""

    def __init__(self, student: nn.Module, clusters: int, source: str = MFCC, layer: int = 6) -> None:
        super().__init__()
        self.student_hop, self.student_window = int(student.hop), int(student.window)
        self.clusters, self.layer, self.source = int(clusters), int(layer), str(source)
        self.mfcc: MfccFeatures | None = None
        self.teacher: nn.Module | None = None
        if source == MFCC:
            self.mfcc = MfccFeatures(int(student.sample_rate), self.student_window, self.student_hop)
            dim = self.mfcc.dim
        else:
            teacher, _ = load_encoder(source)
            if int(teacher.sample_rate) != int(student.sample_rate):
                raise ConfigError(
                    f"hubert targets {source}: runs at {teacher.sample_rate} Hz, the run at {student.sample_rate}"
                )
            if not 0 <= self.layer <= int(teacher.num_layers):
                raise ConfigError(f"hubert layer {layer}: the teacher {source} has layers 0..{teacher.num_layers}")
            self.teacher = teacher.requires_grad_(False).eval()
            dim = int(teacher.dim)
        self.register_buffer("centroids", torch.zeros(self.clusters, dim))
        self.register_buffer("fitted", torch.tensor(False))

    def train(self, mode: bool = True) -> "ClusterTargets":
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()  # frozen: no dropout in the targets
        return self

    @torch.no_grad()
    def features(self, wav: torch.Tensor, frames: int) -> torch.Tensor:
        """What is clustered, on the student's grid of ``frames`` frames: (B, frames, dim)."""
        if self.mfcc is not None:
            return fit_frames(self.mfcc(wav), frames)
        teacher = self.teacher
        hidden = teacher(wav)[self.layer].float().transpose(1, 2)  # (B, dim, F_teacher)
        moved = resample_frames(
            hidden, teacher.hop, teacher.window / 2, self.student_hop, self.student_window / 2, frames
        )
        return moved.transpose(1, 2)

    @torch.no_grad()
    def fit(self, wavs: Iterable[torch.Tensor], iterations: int = 50, seed: int = 0, max_frames: int = 100_000) -> None:
        """Fit the centroids on the frames of ``wavs`` (each (B, T) or (T,)), at most ``max_frames`` of them."""
        rows = []
        for wav in wavs:
            wav = wav.reshape(-1, wav.shape[-1]).to(self.centroids.device)
            frames = (wav.shape[-1] - self.student_window) // self.student_hop + 1
            if frames > 0:
                rows.append(self.features(wav, frames).reshape(-1, self.centroids.shape[1]))
        data = torch.cat(rows) if rows else self.centroids.new_zeros(0, self.centroids.shape[1])
        if data.shape[0] < self.clusters:
            raise ConfigError(
                f"hubert: {data.shape[0]} frames to cluster into {self.clusters} clusters: "
                "use more kmeans_items or fewer clusters"
            )
        if data.shape[0] > max_frames:
            keep = torch.randperm(data.shape[0], generator=torch.Generator().manual_seed(seed))[:max_frames]
            data = data[keep.to(data.device)]
        self.centroids.copy_(kmeans(data, self.clusters, iterations, seed))
        self.fitted.fill_(True)

    @torch.no_grad()
    def forward(self, wav: torch.Tensor, frames: int) -> torch.Tensor:
        """Cluster index (B, frames) of every frame."""
        feats = self.features(wav, frames)
        return nearest(feats.reshape(-1, feats.shape[-1]), self.centroids).view(feats.shape[:2])
