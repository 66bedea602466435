"""Token level, speech: masked speech modelling on the fused speech positions (each stands for 4
log-mel frames after the x4 subsampling), in one of two forms (``train.msm_loss``):

- ``l1``: regress the hidden frames. Its floor is high: an L1 on log-mel falls only to about the
  corpus per-bin median without the words and the voice of the span (docs/results.md, "How far an
  L1 on log-mel can fall").
- ``contrastive``: wav2vec 2.0's task (Baevski et al., 2020) on fixed targets: pick the true
  hidden 4-frame patch among every hidden patch of the batch (distractors from the same utterance
  included), InfoNCE on cosine similarity at temperature 0.1 (wav2vec 2.0's kappa). The targets
  are the clean log-mel patches themselves, mean-removed and L2-normalised rather than a learnt
  quantiser: a fixed target cannot collapse, so no diversity loss is needed.
"""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

from zidong.config.schema import MSM_FORMS

from .heads import Head
from .losses import masked_l1


class MaskedSpeechModelling(nn.Cell):
    def __init__(self, dim: int, n_mels: int, frames_per_token: int = 4, form: str = "l1",
                 temperature: float = 0.1):
        super().__init__()
        if form not in MSM_FORMS:
            raise ValueError(f"masked speech modelling form {form!r}: expected one of {MSM_FORMS}")
        self.n_mels, self.k = n_mels, frames_per_token
        self.nce = form == "contrastive"
        self.scale = 1.0 / temperature
        self.head = Head(dim, n_mels * frames_per_token)

    def construct(self, speech_fused, mel, weights):
        # speech_fused (B, T/4, D); mel (B, T, n_mels) clean targets; weights (B, T) 1 on hidden
        # real frames of rows that count
        b, n = speech_fused.shape[0], speech_fused.shape[1]
        pred = self.head(speech_fused)
        if self.nce:
            return self._nce(pred.reshape(b * n, -1), mel, weights)
        return masked_l1(pred.reshape(b, n * self.k, self.n_mels), mel, weights)

    def _nce(self, pred, mel, weights):
        # pred (B*n, k*n_mels). A position takes part only when all of its frames are hidden: a
        # partly visible patch could be matched on its visible frames
        rows = pred.shape[0]
        on = ops.amin(weights.reshape(rows, self.k), -1)
        target = mel.reshape(rows, self.k * self.n_mels)
        target = target - target.mean(-1, keep_dims=True)  # the patch's shape, not its loudness
        target, pred = _unit(target), _unit(pred)
        logits = ops.matmul(pred, target.T) * self.scale
        # only hidden patches are candidates
        logits = logits + (1.0 - on).reshape(1, -1) * -1e9
        labels = ops.arange(rows, dtype=ms.int32)
        ce = ops.cross_entropy(logits.astype(ms.float32), labels, reduction="none")
        return (ce * on).sum() / ops.maximum(on.sum(), 1.0)


def _unit(x):
    # rsqrt of sum + eps rather than x / ops.norm(x): the norm's gradient at a zero vector (the
    # padding's patches) is 0/0, and the NaN reached every parameter
    return x * ops.rsqrt((x * x).sum(-1, keepdims=True) + 1e-12)
