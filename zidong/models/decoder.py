"""Autoregressive transformer decoder with cross-attention to the fused memory.

One class serves two decoders: the text decoder (subword tokens: captions, ASR, answers) and the
image decoder (VQ image codes). Training is teacher-forced over a fixed-length sequence with a causal
mask; generation (``zidong.models.search``) reruns the same fixed-shape graph, so it compiles once.
"""
from __future__ import annotations

from mindspore import nn, ops

from .layers import (Linear, TransformerStack, causal_bias, dropout, embedding_table, key_bias,
                     layer_norm)


class ARDecoder(nn.Cell):
    def __init__(self, cfg, vocab_in: int, vocab_out: int, max_len: int, memory_dim: int,
                 dropout_p: float = 0.0):
        super().__init__()
        self.max_len, self.vocab_out = max_len, vocab_out
        self.tok = embedding_table(vocab_in, cfg.hidden, "tok")
        self.pos = embedding_table(max_len, cfg.hidden, "pos")
        self.ln_in = layer_norm(cfg.hidden)  # input at unit scale, as in the encoders
        self.stack = TransformerStack(cfg.hidden, cfg.layers, cfg.heads, cfg.ffn_dim,
                                      cross_dim=memory_dim, dropout_p=dropout_p)
        self.head = Linear(cfg.hidden, vocab_out)
        self.drop = dropout(dropout_p)
        self.gather = ops.Gather()
        self.causal = causal_bias(max_len)

    def construct(self, ids, memory, memory_mask):
        # ids (B, max_len) int32, shifted right (starts with BOS); memory (B, Lm, D); mask (B, Lm)
        x = self.ln_in(self.gather(self.tok, ids, 0) + self.pos)
        x = self.stack(self.drop(x), self.causal, memory, key_bias(memory_mask))
        return self.head(x)  # (B, max_len, vocab_out) logits
