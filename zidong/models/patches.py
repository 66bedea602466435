"""Image <-> patch-sequence reshapes (a patch embedding is a stride=kernel convolution; done as a
reshape + matmul because that is much faster than nn.Conv2d on the CPU backend)."""
from __future__ import annotations


def patchify(images, patch: int):
    """(B, C, H, W) -> (B, (H/p)*(W/p), p*p*C), row-major over the patch grid."""
    b, c, h, w = images.shape
    gh, gw = h // patch, w // patch
    x = images.reshape(b, c, gh, patch, gw, patch).transpose(0, 2, 4, 3, 5, 1)
    return x.reshape(b, gh * gw, patch * patch * c)


def unpatchify(patches, patch: int, channels: int, grid: int):
    """Inverse of ``patchify`` for a square grid."""
    b = patches.shape[0]
    x = patches.reshape(b, grid, grid, patch, patch, channels).transpose(0, 5, 1, 3, 2, 4)
    return x.reshape(b, channels, grid * patch, grid * patch)
