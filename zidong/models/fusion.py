"""Fusion: multi-head self-attention over [CLS; text; image; speech] in the unified space.

Any subset of the modalities may be present, per sample (weakly paired data): an absent modality's
positions are masked out of every key (they receive zero attention weight), their inputs are zeroed
before the first layer and their outputs are zeroed at the end, so whatever an absent modality's
padded input holds cannot change any output. Shapes stay static: absent positions are still
computed, just never attended to.
"""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

from .layers import TransformerStack, dropout, embedding_table, key_bias

TEXT, IMAGE, SPEECH = 0, 1, 2  # column of each modality in the presence flags


class Fusion(nn.Cell):
    def __init__(self, cfg, unified_dim: int, dropout_p: float = 0.0):
        super().__init__()
        self.dim = unified_dim
        self.cls = embedding_table(1, unified_dim, "cls")
        # type 0 = fusion CLS, 1 = text, 2 = image, 3 = speech
        self.type_embed = embedding_table(4, unified_dim, "type_embed")
        self.stack = TransformerStack(unified_dim, cfg.layers, cfg.heads, cfg.ffn_dim,
                                      dropout_p=dropout_p)
        self.drop = dropout(dropout_p)
        self.concat = ops.Concat(axis=1)

    def construct(self, text, text_mask, image, image_mask, speech, speech_mask, presence):
        # text (B, Lt, D) / image (B, Li, D) / speech (B, Ls, D) with masks (B, L*);
        # presence (B, 3) float 1/0 in TEXT, IMAGE, SPEECH order.
        return self.fuse(((TEXT, text, text_mask), (IMAGE, image, image_mask),
                          (SPEECH, speech, speech_mask)), presence)

    def fuse(self, parts, presence):
        """The fusion over some modalities only: ``parts`` is a tuple of (TEXT | IMAGE | SPEECH,
        tokens, mask), fixed when the graph is built. Absent positions get no attention weight,
        so leaving a modality out gives exactly the outputs of the full fusion with that
        modality absent, for the cost of the positions that remain (a classifier over images
        alone skips the text and speech positions)."""
        b = parts[0][1].shape[0]
        dtype = parts[0][1].dtype
        presence = presence.astype(ms.float32)
        types = self.type_embed.astype(dtype)
        cls = ops.broadcast_to(self.cls.astype(dtype).reshape(1, 1, self.dim), (b, 1, self.dim))
        xs, masks = [cls + types[0]], [ops.ones((b, 1), ms.float32)]
        for kind, tokens, tmask in parts:
            xs.append(tokens + types[kind + 1])
            masks.append(tmask.astype(ms.float32) * presence[:, kind:kind + 1])
        x, mask = self.concat(xs), self.concat(masks)
        keep = mask.astype(dtype).reshape(b, -1, 1)
        x = self.stack(self.drop(x * keep), key_bias(mask))
        # (B, 1 + sum of L, D) fused memory and its mask; position 0 is the multimodal CLS
        return x * keep, mask
