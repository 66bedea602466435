"""What the three modality encoders share: [CLS; inputs] + positions -> transformer -> unified space."""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

from .layers import (Linear, TransformerStack, dropout, embedding_table, key_bias, l2_normalize,
                     layer_norm)


class UnimodalEncoder(nn.Cell):
    """Subclasses turn raw inputs into (B, L, hidden) token features in ``embed_inputs``.

    ``construct`` returns
      tokens (B, 1+L, unified_dim): per-token features in the unified semantic space (CLS first),
      mask   (B, 1+L) float 1/0: which positions hold real input,
      embed  (B, unified_dim): the L2-normalised pooled embedding used for retrieval and the
             contrastive objective (``cfg.pool``: max or mean over the real tokens, or the CLS).
    """

    def __init__(self, cfg, length: int, unified_dim: int, dropout_p: float):
        super().__init__()
        self.hidden = cfg.hidden
        self.pool = cfg.pool
        self.cls = embedding_table(1, cfg.hidden, "cls")
        self.pos = embedding_table(1 + length, cfg.hidden, "pos")
        # input LayerNorm (BERT's embedding LN, CLIP's ln_pre): token and position tables start
        # at std 0.02 while patch and mel features are far larger; this puts every modality's
        # input at unit scale, so the first updates of the block biases cannot swamp it
        self.ln_in = layer_norm(cfg.hidden)
        self.drop = dropout(dropout_p)
        self.stack = TransformerStack(cfg.hidden, cfg.layers, cfg.heads, cfg.ffn_dim,
                                      dropout_p=dropout_p)
        self.to_unified = Linear(cfg.hidden, unified_dim)
        self.concat = ops.Concat(axis=1)

    def encode_features(self, feats, mask):
        # feats (B, L, hidden); mask (B, L)
        b = feats.shape[0]
        cls = ops.broadcast_to(self.cls.astype(feats.dtype).reshape(1, 1, self.hidden),
                               (b, 1, self.hidden))
        x = self.ln_in(self.concat((cls, feats)) + self.pos.astype(feats.dtype))
        full_mask = self.concat((ops.ones((b, 1), ms.float32), mask.astype(ms.float32)))
        x = self.stack(self.drop(x), key_bias(full_mask))
        tokens = self.to_unified(x)
        return tokens, full_mask, l2_normalize(pool_tokens(tokens, full_mask, self.pool))


def pool_tokens(tokens, mask, how: str):
    """(B, L, D) tokens, (B, L) 1/0 mask -> (B, D). Why not the CLS by default: measured on the
    built-in corpus, an untrained CLS starts as the same vector for every sample (pairwise cosine
    0.997) and contrastive training never pulled it apart; pooled tokens differ from the start."""
    if how == "cls":
        return tokens[:, 0]
    m = mask.astype(tokens.dtype).reshape(mask.shape[0], -1, 1)
    if how == "max":
        return (tokens - (1.0 - m) * 1e4).max(axis=1)
    return (tokens * m).sum(axis=1) / ops.maximum(m.sum(axis=1), 1.0)
