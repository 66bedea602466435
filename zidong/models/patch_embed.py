"""How the vision encoder turns a patch of pixels into a token: ``model.vision.stem``.

- ``linear``: one matmul per patch (ViT's stride = kernel convolution).
- ``hmlp``: the hierarchical MLP stem of Touvron et al. ("Three things everyone should know about
  Vision Transformers", 2022): a 4x4 grid of (patch/4)-px sub-patches -> Linear/LN/GELU, 2x2 of
  those -> Linear/LN/GELU, 2x2 -> Linear. Why: a linear patch embedding sees an 8 px patch as one 192-vector, so an outline
  (what tells a star from a heart at 64 px) must be assembled by the transformer from patch-level
  features; the stem adds small non-linear filters first. It never mixes two patches, so
  masked image modelling still hides a patch completely. Written as reshapes + matmuls because
  ``nn.Conv2d`` is ~16x slower on the CPU backend (zidong/eval/scorer_net.py's timings).
"""
from __future__ import annotations

from mindspore import nn

from .layers import Linear, layer_norm


def hmlp_width(hidden: int) -> int:
    """Channels inside the hmlp stem (before its last layer widens to ``hidden``)."""
    return max(hidden // 4, 16)


class HMLPStem(nn.Cell):
    """(B, N, p*p*C) patches in ``patchify`` order (row, column, channel) -> (B, N, hidden)."""

    def __init__(self, patch: int, channels: int, hidden: int):
        super().__init__()
        if patch % 4:
            raise ValueError(f"model.vision.patch_size {patch}: the hmlp stem needs a multiple of 4")
        self.sub, self.channels = patch // 4, channels
        width = self.width = hmlp_width(hidden)
        self.fc1 = Linear(self.sub * self.sub * channels, width)
        self.fc2 = Linear(4 * width, width)
        self.fc3 = Linear(4 * width, hidden)
        self.ln1, self.ln2 = layer_norm(width), layer_norm(width)
        self.act = nn.GELU(approximate=False)

    def construct(self, x):
        b, n, _ = x.shape
        s, c, w = self.sub, self.channels, self.width
        # 4x4 grid of s x s sub-patches per patch
        x = x.reshape(b * n, 4, s, 4, s, c).transpose(0, 1, 3, 2, 4, 5).reshape(b * n, 4, 4, s * s * c)
        x = self.act(self.ln1(self.fc1(x)))
        # 2x2 blocks of that grid
        x = x.reshape(b * n, 2, 2, 2, 2, w).transpose(0, 1, 3, 2, 4, 5).reshape(b * n, 2, 2, 4 * w)
        x = self.act(self.ln2(self.fc2(x)))
        return self.fc3(x.reshape(b, n, 4 * w))


def create_stem(cfg) -> nn.Cell:
    """The patch embedding named by ``cfg.stem`` (a VisionEncoderConfig)."""
    pixels = cfg.patch_size * cfg.patch_size * cfg.channels
    if cfg.stem == "hmlp":
        return HMLPStem(cfg.patch_size, cfg.channels, cfg.hidden)
    return Linear(pixels, cfg.hidden)
