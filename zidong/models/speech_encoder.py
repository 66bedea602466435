"""Speech encoder: log-mel frames -> two stride-2 convolutions (x4 in time) -> transformer.

Each convolution (kernel 3, stride 2, padding 1) is written as "gather the three frames around every
even frame, then one matmul" (im2col): the same operator as Conv1d, but nn.Conv1d was measured
~60x slower than this on the MindSpore CPU backend (../shared/MINDSPORE_NOTES.md).
"""
from __future__ import annotations

from mindspore import nn, ops

from .encoder_base import UnimodalEncoder
from .layers import Linear


class StridedConv1d(nn.Cell):
    """Conv1d(kernel=3, stride=2, padding=1) over (B, T, C_in) -> (B, T/2, C_out), T even."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.c_in = c_in
        self.proj = Linear(3 * c_in, c_out)
        self.concat = ops.Concat(axis=-1)
        self.concat_t = ops.Concat(axis=1)

    def construct(self, x):
        b, t = x.shape[0], x.shape[1]
        pairs = x.reshape(b, t // 2, 2, self.c_in)
        even, odd = pairs[:, :, 0], pairs[:, :, 1]
        prev_odd = self.concat_t((ops.zeros_like(odd[:, :1]), odd[:, :-1]))  # frame 2t-1
        return self.proj(self.concat((prev_odd, even, odd)))


class SpeechEncoder(UnimodalEncoder):
    def __init__(self, cfg, unified_dim: int, dropout_p: float = 0.0):
        super().__init__(cfg, cfg.max_frames // 4, unified_dim, dropout_p)
        self.conv1 = StridedConv1d(cfg.n_mels, cfg.hidden)
        self.conv2 = StridedConv1d(cfg.hidden, cfg.hidden)
        self.act = nn.GELU(approximate=False)

    def construct(self, mel, mask):
        # mel (B, max_frames, n_mels); mask (B, max_frames): 1 for real frames.
        # Zero the padding first: the kernels of the last real steps reach into it.
        mel = mel * mask.reshape(mask.shape[0], -1, 1).astype(mel.dtype)
        feats = self.act(self.conv2(self.act(self.conv1(mel))))
        # an output step is real if the frame it is centred on is
        b, t = mask.shape
        sub_mask = mask.reshape(b, t // 4, 4)[:, :, 0]
        return self.encode_features(feats, sub_mask)
