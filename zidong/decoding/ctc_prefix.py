"""CTC prefix scores for joint CTC/attention beam search (Watanabe et al., 2017, "Hybrid
CTC/attention architecture for end-to-end speech recognition", Algorithm 2).

Why: the text decoder reads the fused memory, and after fine-tuning it still mishears words
that the speech encoder's own CTC head gets right (docs/results.md). Joint decoding keeps the
text decoder's beam search and adds, for every hypothesis, the CTC probability that the
utterance begins with it: log p = (1 - w) log p_att + w log p_ctc(prefix).

State of a prefix g over the utterance's T tokens: r[t, 0] (resp. r[t, 1]) = log probability
that the first t+1 frames read g with the last frame on g's last label (resp. on blank). The
prefix score psi(g + c) sums, over every frame t, the probability that label c starts at t.
The end of the sentence (EOS) scores the whole sequence: log(r[T-1, 0] + r[T-1, 1]).

Frames past an utterance's length are made pure blank (log 1), so rows of different lengths
share one array and the full-sequence score is read at the last frame.
"""
from __future__ import annotations

import numpy as np

NEG = -np.inf


class CTCPrefixScorer:
    """Prefix scores for ``n`` utterances, each searched with ``k`` hypotheses.

    ``logp`` (n, T, V) CTC log-probabilities over the text vocabulary (blank = ``blank``),
    ``lengths`` (n,) real frames per utterance. Hypotheses hold plain token ids (no start token,
    as the CTC targets had none); ``eos`` is scored as the end of the sequence.
    """

    def __init__(self, logp: np.ndarray, lengths, blank: int, eos: int):
        x = np.asarray(logp, np.float64).copy()
        n, t, _ = x.shape
        lengths = np.clip(np.asarray(lengths, np.int64).reshape(n), 1, t)
        past = np.arange(t)[None, :] >= lengths[:, None]          # (n, T)
        x[past] = NEG
        x[past, blank] = 0.0
        self.x, self.blank, self.eos = x, blank, eos

    def start(self, k: int) -> np.ndarray:
        """State of the empty prefix for every hypothesis: (n, k, T, 2)."""
        n, t, _ = self.x.shape
        r = np.full((n, k, t, 2), NEG)
        r[:, :, :, 1] = np.cumsum(self.x[:, :, self.blank], axis=1)[:, None, :]
        return r

    def extend(self, state: np.ndarray, last: np.ndarray, length: int, cands: np.ndarray):
        """Scores of every hypothesis extended by each candidate.

        ``state`` (n, k, T, 2) of the current prefixes, ``last`` (n, k) their last token (any
        value when ``length`` is 0), ``length`` their token count (the same for all: beam search
        extends in lockstep), ``cands`` (n, k, K) token ids. Returns ``psi`` (n, k, K), the log
        prefix probability of each extension (of the whole sequence for EOS), and the
        extensions' states (n, k, K, T, 2).
        """
        x = self.x
        n, t, _ = x.shape
        kk = cands.shape[2]
        # xs[b, h, :, c]: log p of candidate c at every frame
        xs = np.take_along_axis(x[:, None, :, :], cands[:, :, None, :], axis=3)  # (n, k, T, K)
        blank = x[:, None, :, self.blank]                                          # (n, 1, T)
        r_sum = np.logaddexp(state[..., 0], state[..., 1])                          # (n, k, T)
        # a repeated label needs a blank between: it may start only after g ended on a blank
        same = (cands == last[:, :, None]) if length > 0 else np.zeros_like(cands, bool)
        phi = np.where(same[:, :, None, :], state[..., 1][..., None], r_sum[..., None])
        r = np.full((n, cands.shape[1], t, 2, kk), NEG)
        if length == 0:
            r[:, :, 0, 0] = xs[:, :, 0]
        psi = r[:, :, 0, 0].copy()
        for f in range(1, t):
            r[:, :, f, 0] = np.logaddexp(r[:, :, f - 1, 0], phi[:, :, f - 1]) + xs[:, :, f]
            r[:, :, f, 1] = np.logaddexp(r[:, :, f - 1, 0], r[:, :, f - 1, 1]) + \
                blank[:, :, f, None]
            psi = np.logaddexp(psi, phi[:, :, f - 1] + xs[:, :, f])
        psi = np.where(cands == self.eos, r_sum[:, :, -1, None], psi)
        return psi, r.transpose(0, 1, 4, 2, 3)
