"""The image scorer's network: a hierarchy of patch merges over a 64 x 64 RGB image, nine
classification heads, and per-cell logits used as an extra training target.

Architecture, chosen by timing on the 2-core CPU (MindSpore 2.10 graph mode, batch 64, Adam step,
64x64 RGB input; measured at nice 19 beside a running benchmark, so absolute times are inflated):
    4 nn.Conv2d 3x3/2 (32-64-128-128) + MLP       0.77M params  5490 ms/step   fwd 2430 ms
    2x2 patch merges (reshape + Dense), 32-64-128-256 + MLP
                                                  1.23M params   340 ms/step   fwd   80 ms
    ViT, 8x8 patches, width 128, 3 layers         0.73M params   470 ms/step   fwd   50 ms
Conv2d is ~16x slower than the same receptive field built from reshapes and Dense layers, so the
scorer is a hierarchy of patch merges (strided convolutions written as matmuls).
Not so on an idle machine (2026-11-29): the ViT with a Conv2d stem trains as fast as with patch
merges (zidong/models/patch_embed.py), so a convolutional scorer deserves a new timing.
Learning, 3-minute runs on the idle machine (lr 4e-3, mean of the 9 attributes on 500 clean
held-out renders; samples seen in brackets):
    non-overlapping merges                       0.562 (45k, 250 samples/s)
      + per-cell training targets (CELL_HEADS)   0.570 (42k)
    last 2 merges overlapping 4x4/2, + cells     0.596 (36k, 199 samples/s)   <- default
    last 3 merges overlapping, + cells           0.589 (30k, 166 samples/s)
    (lr 2e-3) 2 transformer blocks over the 8x8 grid 0.51 (16k, 89/s) vs merges alone 0.51 (31k)
Shape stayed near chance in every 3-minute run; only overlapping windows see a small shape whole.
"""
from __future__ import annotations

import mindspore as ms
import numpy as np
from mindspore import nn, ops

# "overlap": how many of the last merges are OverlapMerge (4x4/2 windows) instead of PatchMerge
DEFAULT_CONFIG = {"image_size": 64, "patch": 2, "widths": [32, 64, 128, 256], "overlap": 2,
                  "where": 16, "hidden": 256}


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


class ScorerNet(nn.Cell):
    """(B, S, S, 3) uint8 -> logits (B, len(heads), max(heads)); classes a head does not have sit
    at -1e9, so one padded softmax serves every head. ``train_outputs`` adds per-cell logits
    (B, g, g, sum(cell_heads)) of the level whose grid is ``cell_grid``, a training target only."""

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
        self.where = nn.Dense(c, config["where"])
        self.hidden = nn.Dense(grids[-1] ** 2 * config["where"] + 2 * c, config["hidden"])
        self.act = nn.GELU()
        self.n_heads, self.n_classes = len(heads), max(heads)
        self.out = nn.Dense(config["hidden"], self.n_heads * self.n_classes)
        mask = np.full((self.n_heads, self.n_classes), -1e9, np.float32)
        for i, n in enumerate(heads):
            mask[i, :n] = 0.0
        self.mask = ms.Tensor(mask)

    def _levels(self, x):
        x = x.astype(ms.float32) / 127.5 - 1.0
        for m in self.low:
            x = m(x)
        cells = x
        for m in self.high:
            x = m(x)
        return cells, x

    def _heads(self, x):
        # max and mean over the grid say what is there wherever it is; a narrow projection of each
        # cell, flattened, says where (the relation, which group is A). Flattening the full cells
        # instead left colour at 72% after 80 steps on the colour toy of the tests, vs 100%
        b, c = x.shape[0], x.shape[3]
        cells = x.reshape(b, -1, c)
        x = ops.cat([self.where(cells).reshape(b, -1), cells.max(1), cells.mean(1)], -1)
        x = self.act(self.hidden(x))
        return self.out(x).reshape(-1, self.n_heads, self.n_classes) + self.mask

    def construct(self, x):
        return self._heads(self._levels(x)[1])

    def train_outputs(self, x):
        cells, x = self._levels(x)
        return self._heads(x), self.cell_head(cells)
