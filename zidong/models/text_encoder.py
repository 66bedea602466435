"""Text encoder: subword token + position embeddings, pre-LN transformer, unified-space projection."""
from __future__ import annotations

from mindspore import ops

from .encoder_base import UnimodalEncoder
from .layers import embedding_table


class TextEncoder(UnimodalEncoder):
    def __init__(self, cfg, unified_dim: int, dropout_p: float = 0.0):
        super().__init__(cfg, cfg.max_len, unified_dim, dropout_p)
        self.tok = embedding_table(cfg.vocab_size, cfg.hidden, "tok")
        self.gather = ops.Gather()

    def construct(self, ids, mask):
        # ids (B, max_len) int32; mask (B, max_len) 1 for real tokens
        return self.encode_features(self.gather(self.tok, ids, 0), mask)
