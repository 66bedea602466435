"""Pretraining masks with fixed counts, so every batch has the same shapes (one compiled graph).

All functions take a numpy Generator; the pipeline seeds it from (seed, epoch, sample index), so a
mask is reproducible whatever order or worker a sample is processed in.
"""
from __future__ import annotations

import numpy as np

from zidong.config.special_tokens import MASK_ID


def mask_text(ids: np.ndarray, length: int, count: int, rng: np.random.Generator):
    """Choose ``count`` positions among the first ``length`` tokens (fewer if shorter; the rest
    are padding with weight 0). Returns (ids with MASK at the chosen positions, positions (count,)
    int32, weights (count,) float32)."""
    positions = np.zeros(count, np.int32)
    weights = np.zeros(count, np.float32)
    k = min(count, length)
    if k:
        chosen = np.sort(rng.choice(length, size=k, replace=False))
        positions[:k], weights[:k] = chosen, 1.0
    masked = ids.copy()
    masked[positions[:k]] = MASK_ID
    return masked, positions, weights


def drop_decoder_inputs(dec_in: np.ndarray, length: int, rate: float,
                        rng: np.random.Generator) -> np.ndarray:
    """``dec_in`` with each of its ``length`` words (positions 1.., after the language token)
    replaced by MASK with probability ``rate``. Draws nothing when ``rate`` is 0."""
    if rate <= 0 or length <= 0:
        return dec_in
    out = dec_in.copy()
    out[np.flatnonzero(rng.random(length) < rate) + 1] = MASK_ID
    return out


def mask_patches(num_patches: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """(num_patches,) float32 with exactly ``count`` ones."""
    mask = np.zeros(num_patches, np.float32)
    mask[rng.choice(num_patches, size=count, replace=False)] = 1.0
    return mask


def mask_spans(max_frames: int, length: int, spans: int, span: int,
               rng: np.random.Generator) -> np.ndarray:
    """(max_frames,) float32 marking ``spans`` non-overlapping spans of ``span`` real frames
    (as many as fit in ``length`` real frames)."""
    mask = np.zeros(max_frames, np.float32)
    fit = min(spans, length // span) if span else 0
    if fit:
        # choose span starts among the slots left once the spans are laid end to end
        free = length - fit * span
        offsets = np.sort(rng.choice(free + fit, size=fit, replace=False)) - np.arange(fit)
        for i, off in enumerate(offsets):
            start = off + i * span
            mask[start:start + span] = 1.0
    return mask


def hide_modalities(present: np.ndarray, slot: int | None, single_source_prob: float,
                    rng: np.random.Generator) -> np.ndarray:
    """(3,) float32: 1 for each modality hidden from the fusion. A sample in the slot of modality
    ``slot`` (0 text, 1 image, 2 speech) hides it, if it has it and at least one other modality
    to generate it from; with ``single_source_prob`` a three-modality sample also hides one of
    the other two, so generation also learns from a single source (captioning, ASR)."""
    hidden = np.zeros(3, np.float32)
    if slot is None or not present[slot] or present.sum() < 2:
        return hidden
    hidden[slot] = 1.0
    rest = [k for k in np.flatnonzero(present) if k != slot]
    if len(rest) == 2 and rng.random() < single_source_prob:
        hidden[rng.choice(rest)] = 1.0
    return hidden
