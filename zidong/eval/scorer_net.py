"""The image scorer's networks over a 64 x 64 RGB image: nine classification heads, and per-cell
logits used as an extra training target. Two kinds (config "kind"): a plain CNN (default) and a
hierarchy of patch merges written as reshapes and matmuls (scorers saved before "kind" existed).

Why the CNN (2026-11-29). The merges were chosen because nn.Conv2d timed ~16x slower. That is
true on some CPUs only: on AVX-512 CPUs MindSpore 2.10's oneDNN runs a plain-layout convolution
through its jit_uni_ncsp + ref path (ONEDNN_VERBOSE=1 names it), and this CNN's training step took
13.9 s there instead of 0.66 s with oneDNN capped at AVX2, where it uses im2col + GEMM. The scorer
commands therefore run with ``context.cpu_isa = SCORER_CPU_ISA`` (below). ``tools/time_scorer.py``
(batch 64, AdamW step with the cell targets), on a machine of the slow kind (2.1 s/step probe) and
again on a Xeon with AVX-512 and AMX (2026-11-29, cap avx2 / no cap):
    merges, last 2 overlapping 4x4/2                     0.89M params  0.59 s/step  read 0.19 s
                                                     AVX-512 machine  0.60 / 0.54 s/step
    CNN 3x3: 32/2 64/2 128/2 192/1 256/2  <- default     0.98M params  0.66 s/step  read 0.16 s
                                                     AVX-512 machine  0.66 / 13.9 s/step
      the same with the first conv at stride 1 (64 px)                  1.72 s/step
      ... with a stride-1 conv at 32 px / at 16 px                      1.31 / 0.76 s/step
    8 convs, a stride-1 one after each stride-2, from 64 px  1.50M params  2.80 s/step
The cost follows the size of the feature maps, not the multiply-adds. Accuracy on 2,000 fresh
held-out renders after ``zidong scorer train --steps 3000`` (192k renders, seed 0):
    merges (docs/results.md, tasks)   mean 74.3%  shape 38.9 / 35.1%  exact  6.0%   2120 s *)
    CNN                               mean 89.7%  shape 84.2 / 82.5%  exact 44.6%   2239 s
      again on the AVX-512 machine    mean 89.6%  shape 84.3 / 82.3%  exact 44.0%   2341 s **)
    (shape: a / b; *) in another session, on a machine of unrecorded speed; **) with the cap,
    beside other jobs for part of the run)
3-minute runs on the slow-kind machine (lr 4e-3, 500 clean renders): merges 0.517 (274 steps), CNN 0.623
(260 steps). The CNN's 3x3 windows overlap at every level, so a small shape is seen whole.

The merges' own history, 3-minute runs on a faster idle machine, same protocol:
    non-overlapping merges                       0.562 (45k samples, 250 samples/s)
      + per-cell training targets (CELL_HEADS)   0.570 (42k)
    last 2 merges overlapping 4x4/2, + cells     0.596 (36k, 199 samples/s)
    last 3 merges overlapping, + cells           0.589 (30k, 166 samples/s)
    (lr 2e-3) 2 transformer blocks over the 8x8 grid 0.51 (16k, 89/s) vs merges alone 0.51 (31k)
"""
from __future__ import annotations

import mindspore as ms
import numpy as np
from mindspore import nn, ops

# oneDNN's instruction-set cap for processes that only run a scorer (context.cpu_isa; why: the
# module docstring). Not for training the model: its matmuls are 16-28% slower under it
SCORER_CPU_ISA = "avx2"

# "overlap": how many of the last merges are OverlapMerge (4x4/2 windows) instead of PatchMerge
MERGE_CONFIG = {"kind": "merge", "image_size": 64, "patch": 2, "widths": [32, 64, 128, 256],
                "overlap": 2, "where": 16, "hidden": 256}
# [width, stride] of each 3x3 convolution: 64 -> 32 -> 16 -> 8 (the cell grid) -> 4
CONV_CONFIG = {"kind": "conv", "image_size": 64,
               "convs": [[32, 2], [64, 2], [128, 2], [192, 1], [256, 2]],
               "where": 16, "hidden": 256}
NET_CONFIGS = {"merge": MERGE_CONFIG, "conv": CONV_CONFIG}
DEFAULT_CONFIG = CONV_CONFIG


class PatchMerge(nn.Cell):
    """Each k x k patch -> one vector: a stride-k convolution written as reshape + Dense."""

    def __init__(self, k: int, c_in: int, c_out: int):
        super().__init__()
        self.k = k
        self.fc = nn.Dense(k * k * c_in, c_out)
        self.act = nn.GELU()
        self.norm = nn.LayerNorm((c_out,))

    def construct(self, x):
        # (B, H, W, C) -> (B, H/k, W/k, c_out)
        b, h, w, c = x.shape
        k = self.k
        x = x.reshape(b, h // k, k, w // k, k, c).transpose(0, 1, 3, 2, 4, 5)
        return self.norm(self.act(self.fc(x.reshape(b, h // k, w // k, k * k * c))))


def _window_rows(n: int) -> np.ndarray:
    """(4 * n/2, n) 0/1 matrix: row (r, i) picks input 2i + r - 1, r = 0..3; out of range -> zero
    padding."""
    m = np.zeros((4, n // 2, n), np.float32)
    for r in range(4):
        for i in range(n // 2):
            if 0 <= 2 * i + r - 1 < n:
                m[r, i, 2 * i + r - 1] = 1.0
    return m.reshape(2 * n, n)


class OverlapMerge(nn.Cell):
    """4 x 4 windows at stride 2, zero padded (a 4x4/2 convolution), gathered by two constant 0/1
    matmuls: a shape split across cells at one level is whole in some window of the next, which
    non-overlapping merges never guarantee. Matmuls, because pad / slice / gather versions gave
    NaN, a slowdown every step and a segfault in MindSpore 2.10's CPU backward."""

    def __init__(self, size: int, c_in: int, c_out: int):
        super().__init__()
        self.pick = ms.Tensor(_window_rows(size))
        self.fc = nn.Dense(16 * c_in, c_out)
        self.act = nn.GELU()
        self.norm = nn.LayerNorm((c_out,))

    def construct(self, x):
        # (B, n, n, C) -> rows (B, 4, n/2, n, C) -> + columns (B, n/2, n/2, 16 C) -> c_out
        b, n, _, c = x.shape
        h = n // 2
        x = ops.matmul(self.pick, x.reshape(b, n, n * c)).reshape(b, 4, h, n, c)
        x = ops.matmul(x.transpose(0, 1, 2, 4, 3), self.pick.T)       # (B, 4, h, C, 4 h)
        x = x.reshape(b, 4, h, c, 4, h).transpose(0, 2, 5, 1, 4, 3).reshape(b, h, h, 16 * c)
        return self.norm(self.act(self.fc(x)))


class SceneHeads(nn.Cell):
    """The last grid (B, g, g, C) -> logits (B, len(heads), max(heads)); classes a head does not
    have sit at -1e9, so one padded softmax serves every head."""

    def __init__(self, grid: int, c: int, where: int, hidden: int, heads: tuple):
        super().__init__()
        self.where = nn.Dense(c, where)
        self.hidden = nn.Dense(grid ** 2 * where + 2 * c, hidden)
        self.act = nn.GELU()
        self.n_heads, self.n_classes = len(heads), max(heads)
        self.out = nn.Dense(hidden, self.n_heads * self.n_classes)
        mask = np.full((self.n_heads, self.n_classes), -1e9, np.float32)
        for i, n in enumerate(heads):
            mask[i, :n] = 0.0
        self.mask = ms.Tensor(mask)

    def construct(self, x):
        # max and mean over the grid say what is there wherever it is; a narrow projection of each
        # cell, flattened, says where (the relation, which group is A). Flattening the full cells
        # instead left colour at 72% after 80 steps on the colour toy of the tests, vs 100%
        b, c = x.shape[0], x.shape[3]
        cells = x.reshape(b, -1, c)
        x = ops.cat([self.where(cells).reshape(b, -1), cells.max(1), cells.mean(1)], -1)
        x = self.act(self.hidden(x))
        return self.out(x).reshape(-1, self.n_heads, self.n_classes) + self.mask


class ScorerNet(nn.Cell):
    """(B, S, S, 3) uint8 -> logits (B, len(heads), max(heads)). ``train_outputs`` adds per-cell
    logits (B, g, g, sum(cell_heads)) of the level whose grid is ``cell_grid``, a training target
    only. Subclasses build ``self.low`` (pixels -> cell grid, NHWC) and ``self.high``, CellLists."""

    def _levels(self, x):
        # loops over CellLists: the merges in a SequentialCell failed to compile in the eval graph
        # (MindSpore 2.10 took PatchMerge's __init__ for the call) while the training graph built
        x = x.astype(ms.float32) / 127.5 - 1.0
        for m in self.low:
            x = m(x)
        cells = x
        for m in self.high:
            x = m(x)
        return cells, x

    def construct(self, x):
        return self.heads(self._levels(x)[1])

    def train_outputs(self, x):
        cells, x = self._levels(x)
        return self.heads(x), self.cell_head(cells)


class MergeScorerNet(ScorerNet):
    """Patch merges: PatchMerge first, OverlapMerge for the last ``config["overlap"]``."""

    def __init__(self, config: dict, heads: tuple, cell_heads: tuple, cell_grid: int):
        super().__init__()
        widths, size = config["widths"], config["image_size"]
        ks = [config["patch"]] + [2] * (len(widths) - 1)
        grids = [size // int(np.prod(ks[:i + 1])) for i in range(len(ks))]
        if size % int(np.prod(ks)):
            raise ValueError(f"image_size {size} is not divisible by the patch merges {ks}")
        if cell_grid not in grids[:-1]:
            raise ValueError(f"no merge level of {grids} (but the last) is the {cell_grid} x "
                             f"{cell_grid} cell grid")
        cut = grids.index(cell_grid) + 1
        merges, c = [], 3
        for i, (k, w) in enumerate(zip(ks, widths)):
            overlap = i > 0 and i >= len(widths) - config.get("overlap", 0)
            merges.append(OverlapMerge(grids[i - 1], c, w) if overlap else PatchMerge(k, c, w))
            c = w
        self.low, self.high = nn.CellList(merges[:cut]), nn.CellList(merges[cut:])
        self.cell_head = nn.Dense(widths[cut - 1], sum(cell_heads))
        self.heads = SceneHeads(grids[-1], c, config["where"], config["hidden"], heads)


class ConvBNGelu(nn.Cell):
    """3x3 convolution (stride 1 or 2), BatchNorm, GELU; NCHW in and out."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=stride, pad_mode="pad", padding=1,
                              has_bias=False)
        self.norm = nn.BatchNorm2d(c_out)
        self.act = nn.GELU()

    def construct(self, x):
        return self.act(self.norm(self.conv(x)))


class _ToNHWC(nn.Cell):
    def construct(self, x):
        return x.transpose(0, 2, 3, 1)


class _ToNCHW(nn.Cell):
    def construct(self, x):
        return x.transpose(0, 3, 1, 2)


class ConvScorerNet(ScorerNet):
    """A plain CNN: ``config["convs"]`` lists [width, stride] of 3x3 convolutions; the cell
    targets sit on the last layer whose grid is the cell grid. BatchNorm, so the net must be in
    training mode to train and in eval mode to read (``Scorer.predict`` sees to that)."""

    def __init__(self, config: dict, heads: tuple, cell_heads: tuple, cell_grid: int):
        super().__init__()
        size, grids, c = config["image_size"], [], 3
        layers = []
        for w, stride in config["convs"]:
            if stride not in (1, 2) or size % stride:
                raise ValueError(f"scorer convs: stride {stride} at grid {size} (1, or 2 on an "
                                 "even grid)")
            size //= stride
            grids.append(size)
            layers.append(ConvBNGelu(c, w, stride))
            c = w
        if cell_grid not in grids or grids[-1] == cell_grid:
            raise ValueError(f"no conv level of {grids} (but the last) is the {cell_grid} x "
                             f"{cell_grid} cell grid")
        cut = len(grids) - grids[::-1].index(cell_grid)
        self.low = nn.CellList([_ToNCHW()] + layers[:cut] + [_ToNHWC()])
        self.high = nn.CellList([_ToNCHW()] + layers[cut:] + [_ToNHWC()])
        self.cell_head = nn.Dense(config["convs"][cut - 1][0], sum(cell_heads))
        self.heads = SceneHeads(grids[-1], c, config["where"], config["hidden"], heads)


NETS = {"merge": MergeScorerNet, "conv": ConvScorerNet}


def build_scorer_net(config: dict, heads: tuple, cell_heads: tuple, cell_grid: int) -> ScorerNet:
    """The net a scorer config names (``kind``; scorers saved before it existed are merges)."""
    kind = config.get("kind", "merge")
    if kind not in NETS:
        raise ValueError(f"scorer config kind {kind!r}: expected one of {sorted(NETS)}")
    return NETS[kind](config, heads, cell_heads, cell_grid)
