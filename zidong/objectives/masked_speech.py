"""Token level, speech: masked speech modelling: regress the log-mel frames of hidden spans from
the fused speech positions (each position stands for 4 frames after the x4 subsampling)."""
from __future__ import annotations

from mindspore import nn

from .heads import Head
from .losses import masked_l1


class MaskedSpeechModelling(nn.Cell):
    def __init__(self, dim: int, n_mels: int, frames_per_token: int = 4):
        super().__init__()
        self.n_mels, self.k = n_mels, frames_per_token
        self.head = Head(dim, n_mels * frames_per_token)

    def construct(self, speech_fused, mel, weights):
        # speech_fused (B, T/4, D); mel (B, T, n_mels) clean targets; weights (B, T)
        b, n = speech_fused.shape[0], speech_fused.shape[1]
        pred = self.head(speech_fused).reshape(b, n * self.k, self.n_mels)
        return masked_l1(pred, mel, weights)
