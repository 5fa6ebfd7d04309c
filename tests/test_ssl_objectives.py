"""sepkit.ssl building blocks on hand-checkable inputs: quantiser, losses, masks, k-means, frame grids, encoder."""

from __future__ import annotations

import math

import pytest
import torch

from sepkit.models import build_model
from sepkit.ssl.contrastive import contrastive_logits, contrastive_loss, sample_distractors
from sepkit.ssl.frames import fit_frames, resample_frames
from sepkit.ssl.kmeans import kmeans, nearest
from sepkit.ssl.masking import band_mask, span_mask
from sepkit.ssl.quantizer import GumbelQuantizer, codebook_perplexity, diversity_loss, gumbel_temperature
from sepkit.ssl.targets import MfccFeatures
from sepkit.ssl.tera import tera_alter
from sepkit_fixtures import TINY_SSL_ENCODER


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: two threads contend on a busy 2-core machine


def _runs(row: torch.Tensor) -> list[int]:
    """Lengths of the runs of True in a 1-D boolean tensor."""
    padded = torch.cat([torch.tensor([False]), row, torch.tensor([False])]).int()
    edges = padded.diff()
    return (torch.nonzero(edges == -1).flatten() - torch.nonzero(edges == 1).flatten()).tolist()


# ---- quantiser and diversity ----------------------------------------------------------------
def test_diversity_loss_is_minimal_for_uniform_codebook_use() -> None:
    uniform, onehot = torch.full((2, 4), 0.25), torch.tensor([[1.0, 0, 0, 0], [0, 0, 1.0, 0]])
    skewed = torch.tensor([[0.7, 0.1, 0.1, 0.1], [0.25, 0.25, 0.25, 0.25]])
    # the authors' code: (GV - sum_g exp H_g) / GV = 0 for uniform use, (8 - 2) / 8 for one entry per codebook
    assert diversity_loss(uniform).item() == pytest.approx(0.0, abs=1e-6)
    assert diversity_loss(onehot).item() == pytest.approx(0.75)
    h = -(0.7 * math.log(0.7) + 3 * 0.1 * math.log(0.1))
    assert diversity_loss(skewed).item() == pytest.approx((8 - math.exp(h) - 4) / 8, rel=1e-5)
    # the paper: (1/GV) sum p log p = -log(V)/V for uniform use, 0 for one entry
    assert diversity_loss(uniform, "entropy").item() == pytest.approx(-math.log(4) / 4)
    assert diversity_loss(onehot, "entropy").item() == pytest.approx(0.0, abs=1e-7)
    assert codebook_perplexity(uniform).item() == pytest.approx(8.0)
    assert codebook_perplexity(onehot).item() == pytest.approx(2.0)
    for _ in range(5):  # any other use scores worse than uniform under both forms
        p = torch.rand(2, 4).softmax(-1)
        assert diversity_loss(p) > diversity_loss(uniform)
        assert diversity_loss(p, "entropy") > diversity_loss(uniform, "entropy")
    with pytest.raises(ValueError, match="diversity form"):
        diversity_loss(uniform, "kl")


def test_quantizer_concatenates_one_entry_per_codebook_with_gradients_to_the_logits() -> None:
    q = GumbelQuantizer(in_dim=2, groups=2, entries=3, code_dim=4)
    with torch.no_grad():  # input e0 picks entry 2 of codebook 0 and entry 1 of codebook 1; e1 the reverse
        q.logits.weight.zero_()
        q.logits.weight[2, 0] = q.logits.weight[3 + 1, 0] = 10.0
        q.logits.weight[1, 1] = q.logits.weight[3 + 2, 1] = 10.0
        q.codebook.copy_(torch.arange(12.0).view(2, 3, 2))
    x = torch.eye(2)
    q.eval()
    out = q(x, tau=2.0)
    assert out.indices.tolist() == [[2, 1], [1, 2]]
    torch.testing.assert_close(out.codes, torch.tensor([[4.0, 5, 8, 9], [2, 3, 10, 11]]))
    torch.testing.assert_close(out.avg_probs.sum(-1), torch.ones(2))
    q.train()
    out = q(x, tau=0.5)  # hard one-hot forward: the codes are exact entries; soft gradient backward
    assert all(out.codes[n, 2 * g : 2 * g + 2].tolist() in q.codebook[g].tolist() for n in range(2) for g in range(2))
    (out.codes * torch.randn_like(out.codes)).sum().backward()
    assert q.logits.weight.grad is not None and q.logits.weight.grad.abs().sum() > 0


def test_gumbel_temperature_decays_from_two_to_its_floor() -> None:
    assert gumbel_temperature(0) == 2.0
    assert gumbel_temperature(1000, 2.0, 0.5, 0.999) == pytest.approx(2.0 * 0.999**1000)
    assert gumbel_temperature(10**7) == 0.5


# ---- contrastive loss -----------------------------------------------------------------------
def test_contrastive_loss_on_orthogonal_targets() -> None:
    targets = torch.eye(3)  # three masked steps with orthogonal codes
    distractors = torch.tensor([[1, 2], [0, 2], [0, 1]])
    logits = contrastive_logits(targets.clone(), targets, distractors, kappa=0.1)
    torch.testing.assert_close(logits, torch.tensor([[10.0, 0, 0]] * 3))
    assert contrastive_loss(logits).item() == pytest.approx(math.log(1 + 2 * math.exp(-10)), rel=1e-3)
    # a distractor with the positive's own code is no negative: -inf, so it costs nothing
    same = torch.stack([targets[0], targets[0], targets[2]])
    logits = contrastive_logits(same, same, torch.tensor([[1, 2], [0, 2], [0, 1]]))
    assert logits[0, 1] == float("-inf") and logits[1, 1] == float("-inf") and math.isfinite(logits[0, 2].item())


def test_distractors_are_other_masked_steps_of_the_same_utterance() -> None:
    mask = span_mask(4, 60, 0.65, 10, generator=torch.Generator().manual_seed(0))
    mask[3] = False
    mask[3, 5:7] = True  # an utterance with two masked steps: each must draw the other
    idx = sample_distractors(mask, 40, torch.Generator().manual_seed(1))
    item = torch.nonzero(mask)[:, 0]
    assert idx.shape == (int(mask.sum()), 40)
    assert (item[idx] == item[:, None]).all()  # same utterance
    assert (idx != torch.arange(len(item))[:, None]).all()  # never the step itself
    last = torch.nonzero(item == 3).flatten()
    assert (idx[last[0]] == last[1]).all() and (idx[last[1]] == last[0]).all()


# ---- masks ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("prob", "span", "low", "high"), [(0.65, 10, 0.43, 0.52), (0.15, 7, 0.12, 0.16)])
def test_span_masks_cover_the_expected_share_in_whole_spans(prob: float, span: int, low: float, high: float) -> None:
    mask = span_mask(64, 500, prob, span, generator=torch.Generator().manual_seed(0))
    assert low < mask.float().mean().item() < high  # about 1 - exp(-prob): spans overlap
    assert all(run >= span for row in mask for run in _runs(row))
    again = span_mask(64, 500, prob, span, generator=torch.Generator().manual_seed(0))
    assert torch.equal(mask, again)


def test_band_mask_is_one_contiguous_band_of_at_most_the_share() -> None:
    mask = band_mask(200, 80, 0.2, generator=torch.Generator().manual_seed(0))
    widths = mask.sum(1)
    assert widths.max() <= 16 and widths.min() == 0 and widths.float().mean() > 5
    assert all(len(_runs(row)) <= 1 for row in mask)


def test_tera_alterations_and_the_loss_map() -> None:
    feats = torch.randn(400, 50, 20)
    altered, where = tera_alter(feats, noise_prob=0.0, generator=torch.Generator().manual_seed(0))
    assert (altered[where] == 0).all() and torch.equal(altered[~where], feats[~where])
    assert 0.12 < where.all(-1).float().mean() < 0.16  # whole frames: the time masks
    _, where = tera_alter(feats, noise_prob=0.15, generator=torch.Generator().manual_seed(0))
    assert 0.08 < where.all(-1).all(-1).float().mean() < 0.22  # utterances that got noise: all altered


# ---- k-means and frame grids ----------------------------------------------------------------
def test_kmeans_recovers_well_separated_clusters() -> None:
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    x = (centres[:, None] + 0.5 * torch.randn(3, 100, 2, generator=g)).reshape(-1, 2)
    found = kmeans(x, 3, seed=0)
    order = torch.cdist(centres, found).argmin(1)
    assert sorted(order.tolist()) == [0, 1, 2]
    torch.testing.assert_close(found[order], centres, atol=0.2, rtol=0)
    labels = nearest(x, found)
    assert all(len(set(labels[k * 100 : (k + 1) * 100].tolist())) == 1 for k in range(3))
    torch.testing.assert_close(kmeans(x, 3, seed=0), found)  # seeded: the same result


def test_frame_grids_align_in_time() -> None:
    x = torch.arange(5.0).view(1, 1, 5)  # frame i centred at 10 + 20 i
    torch.testing.assert_close(resample_frames(x, 20, 10, 20, 10, 5), x)
    half = resample_frames(x, 20, 10, 10, 10, 9)  # twice the rate: midpoints interpolated
    torch.testing.assert_close(half, torch.arange(9.0).view(1, 1, 9) / 2)
    assert resample_frames(x, 20, 10, 20, 0, 3)[0, 0].tolist() == [0.0, 0.5, 1.5]  # clamped at the start
    assert fit_frames(torch.ones(1, 3, 2), 5).shape == (1, 5, 2) and fit_frames(torch.ones(1, 3), 2).shape == (1, 2)


# ---- the encoder ----------------------------------------------------------------------------
@pytest.mark.parametrize("stem", ["conv", "logmel"])
def test_encoder_gives_every_layer_on_its_frame_grid(stem: str) -> None:
    args = {**TINY_SSL_ENCODER, "stem": stem, "n_mels": 20}
    enc = build_model("ssl_encoder", **args).eval()
    wav = torch.randn(3, 4000)
    layers = enc(wav)
    frames = (4000 - enc.window) // enc.hop + 1
    assert len(layers) == enc.num_layers + 1 == 3
    assert all(h.shape == (3, frames, enc.dim) for h in layers)
    assert (enc.hop, enc.window) == ((160, 240) if stem == "conv" else (80, 200))
    assert enc.frame_rate == 8000 / enc.hop
    assert enc(torch.randn(1, 100))[0].shape[1] == 1  # shorter than one window: padded to it
    torch.testing.assert_close(enc(wav * 5.0)[-1], layers[-1], atol=1e-4, rtol=1e-4)  # level-invariant input
    if stem == "conv":  # MFCC targets land on exactly the same frames
        assert MfccFeatures(8000, enc.window, enc.hop)(wav).shape == (3, frames, 39)


def test_masked_frames_use_the_mask_embedding() -> None:
    enc = build_model("ssl_encoder", **TINY_SSL_ENCODER).eval()
    feats = enc.stem_features(torch.randn(2, 4000))
    mask = torch.zeros(feats.shape[:2], dtype=torch.bool)
    mask[:, 3:8] = True
    first = enc.context(feats, mask)[0]
    torch.testing.assert_close(first[mask], enc.mask_embedding.expand(int(mask.sum()), -1))
    torch.testing.assert_close(first[~mask], enc.context(feats)[0][~mask])
