"""Sample level: InfoNCE between the pooled unified-space embeddings of every pair of modalities
present in both samples, with a learnable temperature (CLIP-style: the logit scale exp(t) is
capped at 100).

The cap is CLIP's: the parameter is clamped after each optimizer update (``cap``, called by the
trainer), not by a minimum in the loss. Why: a minimum in the loss makes the temperature's
gradient exactly zero once the cap is reached, so the contrastive objective's own gradient norm
(what the trainer watches to tell a dead objective) read 0 while the objective was training
the encoders; clamped afterwards, the loss's real gradient on the temperature stays visible."""
from __future__ import annotations

import math

import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops

PAIRS = ((0, 1), (0, 2), (1, 2))  # text-image, text-speech, image-speech
MAX_LOGIT_SCALE = 100.0


class Contrastive(nn.Cell):
    def __init__(self, init_temperature: float = 0.07):
        super().__init__()
        # shape (1,): the fused CPU/Ascend Adam kernels refuse 0-d parameters
        self.logit_scale = Parameter(Tensor([math.log(1 / init_temperature)], ms.float32),
                                     name="logit_scale")

    def cap(self):
        """Clamp the temperature to the cap after an update (a Cell method, so graph mode takes it)."""
        return ops.assign(self.logit_scale,
                          ops.minimum(self.logit_scale, math.log(MAX_LOGIT_SCALE)))

    def pair_loss(self, a, b, valid, scale):
        # a, b (B, D) normalised; valid (B,) 1 where both modalities are present
        logits = ops.matmul(a, b.T) * scale
        # candidates without the modality are no candidates (valid is the same for both sides)
        bias = (1.0 - valid).reshape(1, -1) * -1e9
        labels = ops.arange(a.shape[0], dtype=ms.int32)
        l_ab = ops.cross_entropy(logits + bias, labels, reduction="none")
        l_ba = ops.cross_entropy(logits.T + bias, labels, reduction="none")
        n = ops.maximum(valid.sum(), 1.0)
        return ((l_ab + l_ba) * valid).sum() / (2 * n), valid.sum()

    def construct(self, embeds, presence):
        # embeds: (text, image, speech) each (B, D); presence (B, 3)
        scale = ops.exp(self.logit_scale[0])
        total, weight = 0.0, 0.0
        for i, j in PAIRS:
            valid = presence[:, i] * presence[:, j]
            loss, n = self.pair_loss(embeds[i], embeds[j], valid, scale)
            has = (n > 1).astype(ms.float32)  # a pair needs at least two samples to contrast
            total = total + loss * has
            weight = weight + has
        return total / ops.maximum(weight, 1.0)
