"""Vision encoder: a ViT over raw pixel patches, projected into the unified space."""
from __future__ import annotations

import numpy as np
import mindspore as ms
from mindspore import Parameter, Tensor, ops

from .encoder_base import UnimodalEncoder
from .layers import embedding_table
from .patch_embed import create_stem
from .patches import patchify, unpatchify


class VisionEncoder(UnimodalEncoder):
    def __init__(self, cfg, unified_dim: int, dropout_p: float = 0.0):
        n = (cfg.image_size // cfg.patch_size) ** 2
        super().__init__(cfg, n, unified_dim, dropout_p)
        self.patch = cfg.patch_size
        self.num_patches = n
        self.patch_embed = create_stem(cfg)
        # a stem whose windows cross patch borders gets whole images, hidden patches blanked
        self.mixes_patches = getattr(self.patch_embed, "mixes_patches", False)
        self.grid = cfg.image_size // cfg.patch_size
        self.mask_embed = embedding_table(1, cfg.hidden, "mask_embed")  # stands for a hidden patch
        if cfg.pos_embed == "sincos":
            # the grid's geometry from the first step (a learnt table starts as noise); kept a
            # Parameter, frozen, so checkpoints and parameter counts have the same tensors
            self.pos = Parameter(Tensor(sincos_2d(self.grid, cfg.hidden)), name="pos",
                                 requires_grad=False)

    def construct(self, images, patch_mask=None):
        # images (B, C, H, W), normalised; every patch is real input.
        # patch_mask (B, num_patches) 1 = hidden for masked image modelling (BEiT-style).
        if self.mixes_patches:
            if patch_mask is not None:
                images = images * self._pixel_keep(patch_mask, images.dtype)
            feats = self.patch_embed(images)
        else:
            feats = self.patch_embed(patchify(images, self.patch))
        if patch_mask is not None:
            keep = (1.0 - patch_mask.astype(feats.dtype)).reshape(feats.shape[0], -1, 1)
            feats = feats * keep + self.mask_embed.astype(feats.dtype) * (1.0 - keep)
        return self.encode_features(feats, ops.ones((images.shape[0], self.num_patches), ms.float32))

    def _pixel_keep(self, patch_mask, dtype):
        """(B, num_patches) 1 = hidden -> (B, 1, H, W) 0 on hidden patches' pixels, 1 elsewhere
        (0 is the normalised mean: the stem sees a grey hole, as the mask token says)."""
        b, n, p = patch_mask.shape[0], self.num_patches, self.patch
        keep = ops.broadcast_to((1.0 - patch_mask.astype(dtype)).reshape(b, n, 1), (b, n, p * p))
        return unpatchify(keep, p, 1, self.grid)


def sincos_2d(grid: int, dim: int) -> np.ndarray:
    """(1 + grid*grid, dim) float32: a zero row for the CLS, then per patch (row y, column x) half
    the dimensions for y and half for x, each half sin and cos of the coordinate at dim/4
    frequencies from 1 to 1/10000 (MAE's fixed table). ``dim`` divisible by 4 (the config checks
    it: model.vision.pos_embed)."""
    omega = 1.0 / 10000 ** (np.arange(dim // 4) / (dim / 4.0))
    y, x = np.divmod(np.arange(grid * grid), grid)

    def half(coord):
        angle = coord[:, None] * omega[None, :]
        return np.concatenate([np.sin(angle), np.cos(angle)], 1)

    table = np.concatenate([half(y.astype(np.float64)), half(x.astype(np.float64))], 1)
    return np.concatenate([np.zeros((1, dim)), table]).astype(np.float32)
