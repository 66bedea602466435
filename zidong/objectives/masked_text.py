"""Token level, text: masked language modelling on the fused text positions (UNITER-style: the
masked words may be recovered from the image and speech of the same sample)."""
from __future__ import annotations

from mindspore import nn, ops

from .heads import Head
from .losses import masked_cross_entropy


class MaskedTextModelling(nn.Cell):
    def __init__(self, dim: int, vocab: int):
        super().__init__()
        self.head = Head(dim, vocab)

    def construct(self, text_fused, positions, targets_full, weights):
        # text_fused (B, Lt, D) fused text tokens (CLS excluded); positions/weights (B, n)
        hidden = ops.gather_elements(text_fused, 1, ops.broadcast_to(
            positions.reshape(positions.shape[0], -1, 1),
            (positions.shape[0], positions.shape[1], text_fused.shape[2])))
        targets = ops.gather_elements(targets_full, 1, positions)
        return masked_cross_entropy(self.head(hidden), targets, weights)
