"""Token level, image: masked image modelling (BEiT): predict the VQ code of every hidden patch
from the fused image positions. Vision patches and VQ codes may use different grids: each vision
patch is scored against the code whose cell holds the patch's centre."""
from __future__ import annotations

import numpy as np
import mindspore as ms
from mindspore import Tensor, nn, ops

from .heads import Head
from .losses import masked_cross_entropy


def patch_to_code_index(image_size: int, vision_patch: int, vq_patch: int) -> np.ndarray:
    g = image_size // vision_patch
    centres = (np.arange(g) + 0.5) * vision_patch
    cell = (centres // vq_patch).astype(np.int32)
    grid = image_size // vq_patch
    return (cell[:, None] * grid + cell[None, :]).reshape(-1).astype(np.int32)


class MaskedImageModelling(nn.Cell):
    def __init__(self, dim: int, codebook: int, image_size: int, vision_patch: int, vq_patch: int):
        super().__init__()
        self.head = Head(dim, codebook)
        self.index = Tensor(patch_to_code_index(image_size, vision_patch, vq_patch), ms.int32)

    def construct(self, image_fused, codes, weights):
        # image_fused (B, P, D) fused patch tokens; codes (B, N_vq); weights (B, P)
        targets = ops.gather(codes, self.index, 1)
        return masked_cross_entropy(self.head(image_fused), targets, weights)
