"""Sample level: tri-modal matching on the fused CLS, 5 classes as in the reference:
0 all modalities belong together; 1/2/3 the text/image/speech is from another sample (identifiable
when three are present: the other two agree); 4 a two-modality sample whose pair does not match.
Negatives are hard: the swapped-in modality comes from the batch sample whose embedding of that
modality is most similar (chosen in the step, see zidong/train/pretrain_net.py)."""
from __future__ import annotations

from mindspore import nn

from .heads import Head
from .losses import masked_cross_entropy

CLASSES = 5


class Matching(nn.Cell):
    def __init__(self, dim: int):
        super().__init__()
        self.head = Head(dim, CLASSES, hidden=dim)

    def logits(self, fused_cls):
        return self.head(fused_cls)

    def construct(self, fused_cls, labels, weights):
        # fused_cls (B, D); labels (B,) int32; weights (B,)
        logits = self.logits(fused_cls).reshape(fused_cls.shape[0], 1, CLASSES)
        return masked_cross_entropy(logits, labels.reshape(-1, 1), weights.reshape(-1, 1))
