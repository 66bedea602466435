"""Non-autoregressive speech decoder: fused memory -> log-mel frames, plus a length predictor.

Why non-autoregressive (see docs/architecture.md): every output frame is produced in one pass of a
fixed-shape graph, so training and inference each compile once and inference costs one call instead
of hundreds of per-frame steps; and the usual failure of autoregressive mel decoders trained from
scratch on little data (attention that never locks on, stop token never fired) cannot happen.

Each of the ``max_frames / reduction`` decoder queries stands for ``reduction`` consecutive frames.
A query carries its absolute position and its position *relative to the utterance length* (the
true length while training, the predicted one at inference), so the decoder learns to spread the
content over the right duration; cross-attention to the fused memory supplies the content.

With ``align_prior`` > 0, each query's cross-attention to the text tokens gets an additive
Gaussian prior centred on the token at the same relative position (query at t/T of the utterance
-> token at t/T of the text): speech follows its text in order, and a decoder trained from scratch
otherwise spends its first hundreds of steps finding that out (it generates the corpus's average
voice whatever the prompt, docs/results.md). The prior only biases the scores; the attention can
still move off the diagonal, and image and CLS keys are not biased.

With ``align_durations: learned`` the prior's centres come from a duration per text token, read
off the memory by one linear layer (log-duration, zero-initialised: every token starts equally
long, which is exactly the uniform prior). Nothing supervises the durations directly: the L1 on the
frames reaches them through the prior, so a word the voices hold longer can claim more frames than
"a" does. Only relative durations matter; the utterance length comes from the length predictor.

With ``align_durations: aligned`` there is no soft prior: each query attends to the one text token
its time falls in (FastSpeech's length regulation, as a mask on the cross-attention) and is told
its offset inside that token. Where the token boundaries come from: in training, the word times of
``meta.words`` (``zidong data align``; the batch's ``text_dur``), equal shares for a sample without
them; at inference, a duration predictor (the linear layer above) trained on those times.
With ``expand_tokens`` (the default in that mode) a local path reads the two things each frame
needs, the memory vector of its own token and its offset inside it, with a two-layer MLP whose
output goes into the query's input and, through a projection of its own, straight to the query's
frames. Why: the memory names its tokens (92% by the nearest token mean,
tools/probe_text_tokens.py) and a lookup of (token, offset) -> median frame is heard by
PocketSphinx without error (tools/mel_template.py), yet through the cross-attention alone,
shared with the CLS keys, the decoder had not learnt it in 900 steps; with the local path it
follows its text twice as much after 300 (docs/results.md). Both output projections start at
zero, so a checkpoint without them computes what it did before.

A language embedding (en / zh / other, added to every query and to the length predictor) says which
language to speak: an image alone does not say it, so image -> speech needs it.
"""
from __future__ import annotations

import math

import numpy as np
import mindspore as ms
from mindspore import Tensor, nn, ops

from zidong.config.special_tokens import NUM_LANGS

from .layers import NEG_INF, Linear, TransformerStack, dropout, embedding_table, key_bias

REL_FEATURES = 4
OFFSET_FEATURES = 3
TEXT_START = 2  # first text token in the fused memory, after the fusion's and the text's CLS


class SpeechDecoder(nn.Cell):
    def __init__(self, cfg, n_mels: int, max_frames: int, memory_dim: int, dropout_p: float = 0.0,
                 text_len: int = 0):
        super().__init__()
        # the fused memory is [fusion CLS; text CLS; text_len text tokens; image; speech]
        self.text_start, self.text_len = TEXT_START, text_len
        self.prior_scale = 0.0 if cfg.align_prior <= 0 or text_len <= 0 else \
            -0.5 / cfg.align_prior ** 2
        self.learn_durations = self.prior_scale != 0.0 and cfg.align_durations == "learned"
        self.aligned = cfg.align_durations == "aligned" and text_len > 0
        if self.learn_durations or self.aligned:
            self.dur = Linear(memory_dim, 1)
            self.dur.weight.set_data(Tensor(np.zeros((1, memory_dim), np.float32)))
        if self.aligned:
            # zero: a checkpoint without it computes what it did before
            self.offset_in = Linear(OFFSET_FEATURES, cfg.hidden)
            self.offset_in.weight.set_data(Tensor(np.zeros((cfg.hidden, OFFSET_FEATURES),
                                                           np.float32)))
        self.expand_tokens = self.aligned and cfg.expand_tokens
        if self.expand_tokens:
            self.token_in = Linear(memory_dim + OFFSET_FEATURES, cfg.hidden)
            self.token_hidden = Linear(cfg.hidden, cfg.hidden)
            # zero: a checkpoint without them computes what it did before
            self.token_out = Linear(cfg.hidden, cfg.hidden)
            self.token_out.weight.set_data(Tensor(np.zeros((cfg.hidden, cfg.hidden), np.float32)))
            self.local_out = Linear(cfg.hidden, cfg.reduction * n_mels)
            self.local_out.weight.set_data(Tensor(np.zeros((cfg.reduction * n_mels, cfg.hidden),
                                                           np.float32)))
            self.expand = ops.BatchMatMul()
        self.n_mels, self.max_frames, self.reduction = n_mels, max_frames, cfg.reduction
        self.queries = max_frames // cfg.reduction
        self.pos = embedding_table(self.queries, cfg.hidden, "pos")
        self.rel_in = Linear(REL_FEATURES, cfg.hidden)
        self.stack = TransformerStack(cfg.hidden, cfg.layers, cfg.heads, cfg.ffn_dim,
                                      cross_dim=memory_dim, dropout_p=dropout_p)
        self.mel_out = Linear(cfg.hidden, cfg.reduction * n_mels)
        self.lang = embedding_table(NUM_LANGS, cfg.hidden, "lang")
        self.len_hidden = Linear(memory_dim, cfg.hidden)
        self.len_out = Linear(cfg.hidden, 1)
        self.act = nn.GELU(approximate=False)
        self.drop = dropout(dropout_p)
        # frame index at the centre of each query's group of frames
        centres = (np.arange(self.queries, dtype=np.float32) + 0.5) * cfg.reduction
        self.centres = Tensor(centres.reshape(1, -1, 1))
        self.frame_idx = Tensor(np.arange(max_frames, dtype=np.float32).reshape(1, -1))
        self.no_bias = Tensor(0.0, ms.float32)
        self.concat = ops.Concat(axis=-1)
        self.concat_keys = ops.Concat(axis=2)

    def _lang(self, lang, b):
        # (B, hidden) language vectors; None: no language given (zeros, the behaviour before it)
        if lang is None:
            return ops.zeros((b, self.lang.shape[1]), self.lang.dtype)
        return ops.gather(self.lang, lang.astype(ms.int32), 0)

    def predict_length(self, memory, lang=None):
        """Fraction of ``max_frames`` the utterance should last, from the fused CLS: (B,)."""
        h = self.len_hidden(memory[:, 0]) + self._lang(lang, memory.shape[0])
        return ops.sigmoid(self.len_out(self.act(h))).reshape(-1)

    def frame_mask(self, lengths):
        """(B,) lengths in frames -> (B, max_frames) float 1/0."""
        return (self.frame_idx < lengths.reshape(-1, 1)).astype(ms.float32)

    def token_durations(self, memory, memory_mask):
        """(B, Lt) relative duration of each text token (0 on padding); 1 each when not learnt."""
        text = self._text(memory_mask)
        if not (self.learn_durations or self.aligned) or memory is None:
            return text
        log_d = self.dur(memory[:, self.text_start:self.text_start + self.text_len])
        # clipped: a token at most e^3 times as long as another's mean, and never zero
        return ops.exp(ops.clip(log_d.reshape(text.shape), -3.0, 3.0)) * text

    def _text(self, memory_mask):
        return memory_mask[:, self.text_start:self.text_start + self.text_len].astype(ms.float32)

    def _on_text_keys(self, text_bias, lm):
        """(B, Q, Lt) bias on the text keys -> (B, 1, Q, Lm), every other key unbiased."""
        b, q = text_bias.shape[0], text_bias.shape[1]
        after = lm - self.text_start - self.text_len
        bias = self.concat_keys((ops.zeros((b, q, self.text_start), ms.float32), text_bias,
                                 ops.zeros((b, q, after), ms.float32)))
        return bias.reshape(b, 1, q, lm)

    def duration_shares(self, memory, memory_mask):
        """(B, Lt) predicted share of the utterance of each text token (rows sum to 1 where
        the memory holds text)."""
        dur = self.token_durations(memory, memory_mask)
        return dur / ops.maximum(dur.sum(axis=1, keepdims=True), 1e-6)

    def seen_durations(self, durations, memory_mask):
        """``durations`` (B, Lt) of the batch, zeroed where the memory holds no text: a sample
        whose text was hidden from the fusion cannot be placed by it."""
        return durations * self._text(memory_mask)

    def _shares(self, memory, memory_mask, durations):
        if durations is None:
            return self.duration_shares(memory, memory_mask)
        durations = self.seen_durations(durations, memory_mask)
        text = self._text(memory_mask)
        uniform = text / ops.maximum(text.sum(axis=1, keepdims=True), 1.0)
        known = (durations.sum(axis=1, keepdims=True) > 0).astype(ms.float32)
        return known * durations + (1.0 - known) * uniform

    def regulate(self, rel, shares, memory_mask):
        """(B, Q, 1) relative query positions and (B, Lt) token shares -> the (B, 1, Q, Lm)
        bias that leaves each query only the text token its time falls in (other keys: CLS,
        image, speech, untouched), (B, Q, 1) its offset inside that token in [0, 1) and the
        (B, Q, Lt) one-hot of that token; a query past the last token (the padding frames)
        sees no text token, offset 0, an all-zero row."""
        b, lm = memory_mask.shape[0], memory_mask.shape[1]
        text = self._text(memory_mask).reshape(b, 1, self.text_len)
        end = ops.cumsum(shares, axis=1)
        start = (end - shares).reshape(b, 1, self.text_len)
        end = end.reshape(b, 1, self.text_len)
        inside = (rel >= start).astype(ms.float32) * (rel < end).astype(ms.float32) * text \
            * (end > start).astype(ms.float32)                                    # (B, Q, Lt)
        offset = ((rel - start) / ops.maximum(end - start, 1e-6) * inside).sum(axis=2,
                                                                               keepdims=True)
        return self._on_text_keys((1.0 - inside) * text * NEG_INF, lm), offset, inside

    def alignment_prior(self, rel, memory_mask, memory=None):
        """(B, Q, 1) relative query positions -> (B, 1, Q, Lm) additive prior on the text keys."""
        b, lm = memory_mask.shape[0], memory_mask.shape[1]
        text = self._text(memory_mask)
        dur = self.token_durations(memory, memory_mask)
        total = ops.maximum(dur.sum(axis=1, keepdims=True), 1e-6)
        token_rel = (ops.cumsum(dur, axis=1) - 0.5 * dur) / total    # centre of each real token
        d = rel - token_rel.reshape(b, 1, self.text_len)               # (B, Q, Lt)
        return self._on_text_keys(self.prior_scale * d * d * text.reshape(b, 1, self.text_len),
                                  lm)

    def construct(self, memory, memory_mask, lengths, lang=None, durations=None):
        # memory (B, Lm, D); memory_mask (B, Lm); lengths (B,) frames (true when training);
        # lang (B,) int language index (zidong.config.special_tokens.LANG_INDEX) or None;
        # durations (B, Lt) each text token's true share of the utterance (aligned mode,
        # training), or None: predicted
        b = memory.shape[0]
        lang_vec = self._lang(lang, b)
        rel = self.centres / ops.maximum(lengths.reshape(-1, 1, 1), 1.0)  # (B, Q, 1)
        rel_feats = self.concat((rel, ops.sin(math.pi * rel), ops.cos(math.pi * rel),
                                 (rel > 1.0).astype(ms.float32)))
        x = self.pos + self.rel_in(rel_feats) + lang_vec.reshape(b, 1, -1)
        memory_bias = key_bias(memory_mask)
        if self.aligned:
            bias, offset, inside = self.regulate(
                rel, self._shares(memory, memory_mask, durations), memory_mask)
            memory_bias = memory_bias + bias
            offset = self.concat((offset, ops.sin(math.pi * offset), ops.cos(math.pi * offset)))
            x = x + self.offset_in(offset)
            if self.expand_tokens:
                own = self.expand(inside, memory[:, self.text_start:self.text_start + self.text_len])
                local = self.act(self.token_hidden(self.act(self.token_in(
                    self.concat((own, offset))))))
                x = x + self.token_out(local)
        elif self.prior_scale != 0.0:
            memory_bias = memory_bias + self.alignment_prior(rel, memory_mask, memory)
        x = self.mel_out(self.stack(self.drop(x), self.no_bias, memory, memory_bias))
        if self.expand_tokens:
            x = x + self.local_out(local)
        mel = x.reshape(b, self.max_frames, self.n_mels)
        return mel, self.predict_length(memory, lang)  # (B, max_frames, n_mels), (B,)
