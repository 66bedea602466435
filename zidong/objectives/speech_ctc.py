"""Token level, speech to text: CTC (Graves et al., 2006) from the speech encoder's tokens to the
sample's own subword ids, the joint CTC-attention recipe of speech recognisers (Watanabe et al.,
2017). Why: recognition runs through the text decoder, which reads the fused memory, and the
speech encoder is otherwise trained by pooled objectives (contrastive: one vector per utterance)
and by regressing masked frames. Neither asks a token to say which word was spoken there; in the
fine-tuned recogniser the colour words came through and the shape and relation words often not
(docs/results.md). CTC gives every 80 ms token a word-level target without any word times.

Blank is the padding id (never a text token). Off by default (weight 0); rows without both
speech and text, and question rows, take no part.
"""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops

from .heads import Head


class SpeechCTC(nn.Cell):
    def __init__(self, dim: int, vocab_size: int, blank: int = 0):
        super().__init__()
        self.head = Head(dim, vocab_size)
        # zero_infinity: a transcript longer than the utterance's tokens can be aligned to
        # (impossible paths) costs nothing instead of inf
        self.loss = nn.CTCLoss(blank=blank, reduction="none", zero_infinity=True)

    def log_probs(self, speech_tokens):
        """(B, T, vocab) log-probabilities per speech token (without the CLS); also what joint
        CTC/attention decoding reads (zidong.decoding.ctc_prefix)."""
        return ops.log_softmax(self.head(speech_tokens).astype(ms.float32), -1)

    def construct(self, speech_tokens, speech_mask, text_ids, text_mask, weight):
        # speech_tokens (B, T, D) without the CLS; speech_mask (B, T) 1 = real token;
        # text_ids / text_mask (B, S): the targets; weight (B,) 1 where the row counts
        t = speech_tokens.shape[1]
        logp = self.log_probs(speech_tokens).transpose(1, 0, 2)
        on = weight > 0
        # rows that do not count get a well-defined loss (all-blank over every token), so no NaN
        # reaches the gradient through the zero weight
        in_len = ops.where(on, speech_mask.sum(1), float(t)).astype(ms.int32)
        in_len = ops.maximum(in_len, 1)
        tgt_len = ops.where(on, text_mask.sum(1), 0.0).astype(ms.int32)
        per_row = self.loss(logp, text_ids, in_len, tgt_len)
        per_token = per_row / ops.maximum(tgt_len.astype(ms.float32), 1.0)
        w = weight.astype(ms.float32)
        return (per_token * w).sum() / ops.maximum(w.sum(), 1.0)
