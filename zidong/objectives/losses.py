"""Masked losses shared by the objectives: only real (unmasked) positions count."""
from __future__ import annotations

import mindspore as ms
from mindspore import ops


def masked_mean(values, mask):
    mask = mask.astype(values.dtype)
    return (values * mask).sum() / ops.maximum(mask.sum(), 1.0)


def masked_cross_entropy(logits, targets, mask):
    """logits (B, L, V), targets (B, L) int32, mask (B, L) -> mean CE over masked-in positions."""
    v = logits.shape[-1]
    ce = ops.cross_entropy(logits.reshape(-1, v).astype(ms.float32), targets.reshape(-1),
                           reduction="none")
    return masked_mean(ce, mask.reshape(-1))


def masked_l1(pred, target, mask):
    """pred/target (B, T, F), mask (B, T) -> mean |pred - target| over real frames and features."""
    err = ops.abs(pred - target).mean(-1)
    return masked_mean(err, mask)
