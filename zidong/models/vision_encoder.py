"""Vision encoder: a ViT over raw pixel patches, projected into the unified space."""
from __future__ import annotations

import mindspore as ms
from mindspore import ops

from .encoder_base import UnimodalEncoder
from .layers import Linear
from .patches import patchify


class VisionEncoder(UnimodalEncoder):
    def __init__(self, cfg, unified_dim: int, dropout_p: float = 0.0):
        n = (cfg.image_size // cfg.patch_size) ** 2
        super().__init__(cfg, n, unified_dim, dropout_p)
        self.patch = cfg.patch_size
        self.num_patches = n
        self.patch_embed = Linear(cfg.patch_size * cfg.patch_size * cfg.channels, cfg.hidden)

    def construct(self, images):
        # images (B, C, H, W), normalised; every patch is real input
        feats = self.patch_embed(patchify(images, self.patch))
        return self.encode_features(feats, ops.ones((images.shape[0], self.num_patches), ms.float32))
