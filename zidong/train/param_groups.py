"""Which parameters get weight decay: matrices yes; biases, LayerNorm affine, embedding tables,
positions, CLS/mask/language vectors and the contrastive temperature no (as in BERT/CLIP practice)."""
from __future__ import annotations

NO_DECAY_LEAVES = {"bias", "beta", "gamma", "cls", "pos", "tok", "type_embed", "enc_pos",
                   "dec_pos", "mask_embed", "logit_scale", "lang"}


def no_decay(name: str) -> bool:
    return name.rsplit(".", 1)[-1] in NO_DECAY_LEAVES
