"""How the vision encoder turns a patch of pixels into a token: ``model.vision.stem``.

- ``linear``: one matmul per patch (ViT's stride = kernel convolution).
- ``hmlp``: the hierarchical MLP stem of Touvron et al. ("Three things everyone should know about
  Vision Transformers", 2022): a 4x4 grid of (patch/4)-px sub-patches -> Linear/LN/GELU, 2x2 of
  those -> Linear/LN/GELU, 2x2 -> Linear. Why: a linear patch embedding sees an 8 px patch as one 192-vector, so an outline
  (what tells a star from a heart at 64 px) must be assembled by the transformer from patch-level
  features; the stem adds small non-linear filters first. It never mixes two patches, so
  masked image modelling still hides a patch completely. Written as reshapes + matmuls, which
  are fast on every CPU (``nn.Conv2d`` is not, see ``conv``).
- ``conv``: the convolutional stem of Xiao et al. ("Early Convolutions Help Transformers See
  Better", 2021): log2(patch) 3x3 stride-2 convolutions (hidden/8, /4, /2 channels for 8 px
  patches), each followed by BatchNorm and GELU (``model.vision.conv_norm=layer``: GELU, then a
  LayerNorm over the channels), then a Linear to ``hidden`` per cell of the patch grid. Why: its
  3x3 windows overlap, so an outline split by a patch border is seen whole, which neither stem
  above allows. Its cost depends on the CPU:
  ``tools/time_vision_stem.py`` (2026-11-29, batch 32, forward + backward of the vision encoder)
  gave linear 1.14 s, hmlp 1.34 s, conv 1.32 s on an earlier machine, but linear 0.97 s, hmlp
  1.16 s, conv 3.09 s on a Xeon with AVX-512, where MindSpore 2.10's oneDNN takes a slow
  convolution path (zidong/eval/scorer_net.py). ``--set context.cpu_isa=avx2`` brings conv to
  1.38 s there but slows the matmuls (linear 1.13 s, hmlp 1.48 s). Because windows cross patch
  borders, the vision encoder blanks a hidden patch's pixels before this stem (``mixes_patches``).
  ``model.vision.conv_layers`` sets its convolutions (e.g. a ViT-hybrid's CNN trunk).
- ``overlap``: an hmlp stem over the 2*patch window centred on each patch (overlapping patch
  embedding, as in PVTv2), without ``nn.Conv2d``.

Trained on the scene attributes directly (``tools/probe_vision_supervised.py``), linear, hmlp,
overlap and the LayerNorm conv stem learnt equally slowly; the BatchNorm conv stem learnt twice
as much in the same 5 minutes, and the ``small`` preset uses it as a ViT-hybrid trunk
(docs/architecture.md, "Shapes, asked directly").
"""
from __future__ import annotations

import math

from mindspore import nn, ops

from zidong.config.schema import parse_conv_layers

from .layers import Linear, layer_norm


def hmlp_width(hidden: int) -> int:
    """Channels inside the hmlp stem (before its last layer widens to ``hidden``)."""
    return max(hidden // 4, 16)


def conv_layers(patch: int, hidden: int, spec: str = "") -> list:
    """(channels, stride) of each of the conv stem's 3x3 convolutions. ``spec`` is
    ``model.vision.conv_layers``, e.g. "32/2,64/2,128/2,192/1"; empty: log2(patch) stride-2
    convolutions of hidden/8, /4, /2 channels (8 px patches). The config checks that the strides
    multiply to the patch size."""
    if spec:
        return parse_conv_layers(spec)
    n = int(round(math.log2(patch)))
    return [(max(hidden // 2 ** (n - i), 16), 2) for i in range(n)]


class _ConvNormGelu(nn.Cell):
    """3x3 convolution, then (``norm`` "batch") BatchNorm and GELU, or ("layer") GELU and a
    LayerNorm over the channels; NCHW in and out. BatchNorm normalises with the batch's
    statistics only while the Cell is in training mode (``set_train(True)``, as the trainer
    sets it); otherwise it applies its moving averages."""

    def __init__(self, c_in: int, c_out: int, stride: int, norm: str = "batch"):
        super().__init__()
        self.batch = norm == "batch"
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, pad_mode="pad", padding=1,
                              has_bias=not self.batch)
        self.act = nn.GELU(approximate=False)
        self.norm = nn.BatchNorm2d(c_out) if self.batch else layer_norm(c_out)

    def construct(self, x):
        if self.batch:
            return self.act(self.norm(self.conv(x)))
        return self.norm(self.act(self.conv(x)).transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


class ConvStem(nn.Cell):
    """(B, C, H, W) images -> (B, (H/patch)*(W/patch), hidden), row-major like ``patchify``."""

    mixes_patches = True  # takes whole images, not patchify's rows

    def __init__(self, patch: int, channels: int, hidden: int, spec: str = "",
                 norm: str = "batch"):
        super().__init__()
        if not spec and (patch < 2 or patch & (patch - 1)):
            raise ValueError(f"model.vision.patch_size {patch}: the conv stem needs a power of 2")
        layers = conv_layers(patch, hidden, spec)
        widths = [w for w, _ in layers]
        # unnormalised, the stem's output starts at std 0.007 on unit-normal pixels, a third of
        # the position embeddings' it is added to, and the probe sat near chance for 400 steps
        # (docs/architecture.md, "The patch stem"). Xiao et al.'s BatchNorm is the default: in
        # the supervised probe (ViT-hybrid trunk, one transformer layer, 5 minutes) it reached
        # mean 86.5% and shape 67 / 68% where the LayerNorms, one per pixel over its channels,
        # reached 43.3% and 17 / 19% (docs/architecture.md, "Shapes, asked directly")
        self.layers = nn.SequentialCell([_ConvNormGelu(a, b, stride, norm) for a, (b, stride)
                                         in zip([channels] + widths[:-1], layers)])
        self.proj = Linear(widths[-1], hidden)

    def construct(self, x):
        x = self.layers(x)
        b, c, h, w = x.shape
        return self.proj(x.reshape(b, c, h * w).transpose(0, 2, 1))


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


class OverlapStem(nn.Cell):
    """(B, C, H, W) images -> (B, (H/patch)*(W/patch), hidden): each token reads the 2*patch px
    window centred on its patch (half a patch of each neighbour around it, zero-padded at the
    image border) through an hmlp stem of that window size. Windows at stride ``patch`` and twice
    its width hold every outline up to a patch wide whole in at least one token, which
    non-overlapping patches cannot (a small shape on a patch border is cut in two or four).
    Written as reshapes and slices, no ``nn.Conv2d`` (slow on AVX-512 CPUs, see ``conv``)."""

    mixes_patches = True

    def __init__(self, patch: int, channels: int, hidden: int):
        super().__init__()
        if patch % 2:
            raise ValueError(f"model.vision.patch_size {patch}: the overlap stem needs an even size")
        self.patch = patch
        self.pad = nn.Pad(((0, 0), (0, 0), (patch // 2, patch // 2), (patch // 2, patch // 2)))
        self.mlp = HMLPStem(2 * patch, channels, hidden)

    def construct(self, x):
        b, c, h, _ = x.shape
        p = self.patch
        g = h // p
        x = self.pad(x).reshape(b, c, g + 1, p, g + 1, p)
        # pair each row of cells with the next, then each column: (B, C, g, 2p, g, 2p)
        x = ops.stack((x[:, :, :g], x[:, :, 1:]), 3).reshape(b, c, g, 2 * p, g + 1, p)
        x = ops.stack((x[:, :, :, :, :g], x[:, :, :, :, 1:]), 5).reshape(b, c, g, 2 * p, g, 2 * p)
        x = x.transpose(0, 2, 4, 3, 5, 1).reshape(b, g * g, 4 * p * p * c)
        return self.mlp(x)


def create_stem(cfg) -> nn.Cell:
    """The patch embedding named by ``cfg.stem`` (a VisionEncoderConfig)."""
    pixels = cfg.patch_size * cfg.patch_size * cfg.channels
    if cfg.stem == "conv":
        return ConvStem(cfg.patch_size, cfg.channels, cfg.hidden, cfg.conv_layers, cfg.conv_norm)
    if cfg.stem == "overlap":
        return OverlapStem(cfg.patch_size, cfg.channels, cfg.hidden)
    if cfg.stem == "hmlp":
        return HMLPStem(cfg.patch_size, cfg.channels, cfg.hidden)
    return Linear(pixels, cfg.hidden)
