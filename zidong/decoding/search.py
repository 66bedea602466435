"""Greedy, beam and sampling search over a fixed-length decoder.

``step_fn(ids) -> logits`` takes ``ids`` (N, max_len) int32 (a start id first: ``bos`` is one for
all rows or one per example; unfilled positions PAD) and
returns (N, max_len, vocab) logits; position t's logits predict token t+1. Re-running the whole
fixed-length sequence each step costs O(L^2) but keeps one static graph (compiled once, exportable).
For beam search the caller tiles its memory ``beam_size`` times per example (``np.repeat``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .ctc_prefix import CTCPrefixScorer

StepFn = Callable[[np.ndarray], np.ndarray]


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _starts(bos, n: int) -> np.ndarray:
    """``bos`` is one start id for every row or one per row (e.g. each example's language token)."""
    return np.broadcast_to(np.asarray(bos, np.int32), (n,)).copy()


def _start(n: int, max_len: int, bos, pad: int) -> np.ndarray:
    ids = np.full((n, max_len), pad, np.int32)
    ids[:, 0] = _starts(bos, n)
    return ids


def _cut(seq, eos: int | None) -> list[int]:
    seq = [int(t) for t in seq]
    return seq[:seq.index(eos)] if eos is not None and eos in seq else seq


def greedy_search(step_fn: StepFn, n: int, max_len: int, bos, eos: int | None,
                  pad: int = 0) -> list[list[int]]:
    """Most likely token at every step; returns up to ``max_len`` tokens per row, EOS removed."""
    ids, out = _start(n, max_len, bos, pad), np.zeros((n, max_len), np.int64)
    done = np.zeros(n, bool)
    for t in range(max_len):
        nxt = step_fn(ids)[:, t].argmax(-1)
        out[:, t] = nxt
        if t + 1 < max_len:
            ids[:, t + 1] = nxt
        if eos is not None:
            done |= nxt == eos
            if done.all():
                break
    return [_cut(row, eos) for row in out]


def sample_search(step_fn: StepFn, n: int, max_len: int, bos, eos: int | None,
                  temperature: float = 1.0, top_k: int = 0, seed: int = 0,
                  pad: int = 0) -> list[list[int]]:
    """Sampling with temperature and top-k; the same seed gives the same tokens."""
    if temperature <= 0:
        return greedy_search(step_fn, n, max_len, bos, eos, pad)
    rng = np.random.default_rng(seed)
    ids, out = _start(n, max_len, bos, pad), np.zeros((n, max_len), np.int64)
    for t in range(max_len):
        logp = log_softmax(step_fn(ids)[:, t] / temperature)
        if top_k > 0:
            kth = np.sort(logp, -1)[:, -top_k][:, None]
            logp = np.where(logp < kth, -np.inf, logp)
        probs = np.exp(logp - logp.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        nxt = np.array([rng.choice(probs.shape[1], p=p) for p in probs])
        out[:, t] = nxt
        if t + 1 < max_len:
            ids[:, t + 1] = nxt
    return [_cut(row, eos) for row in out]


def beam_search(step_fn: StepFn, n: int, max_len: int, bos, eos: int, beam_size: int = 4,
                length_penalty: float = 1.0, pad: int = 0, ctc: CTCPrefixScorer | None = None,
                ctc_weight: float = 0.0, ctc_candidates: int = 10) -> list[list[int]]:
    """Beam search; ``step_fn`` sees n * beam_size rows (example-major). Finished hypotheses are
    ranked by log-probability / length ** length_penalty.

    With ``ctc`` (a scorer over the same ``n`` rows) and ``ctc_weight`` w > 0 the search is the
    joint CTC/attention one: a hypothesis scores (1 - w) log p_att + w log p_ctc(prefix), and
    each live hypothesis is extended only by the decoder's ``ctc_candidates`` most likely tokens
    and EOS (the prefix scores cost T steps per candidate)."""
    k = beam_size
    joint = ctc is not None and ctc_weight > 0
    starts = _starts(bos, n)
    ids = _start(n * k, max_len, np.repeat(starts, k), pad)
    scores = np.full((n, k), -np.inf)
    scores[:, 0] = 0.0  # all beams start identical: keep one alive so the first step is not k-fold
    att_scores = scores.copy()          # the decoder's own log-probability of each hypothesis
    ctc_state = ctc.start(k) if joint else None
    hyps = np.zeros((n, k, max_len), np.int64)
    finished: list[list[tuple[float, list[int]]]] = [[] for _ in range(n)]
    for t in range(max_len):
        logp = log_softmax(step_fn(ids)[:, t]).reshape(n, k, -1)
        vocab = logp.shape[-1]
        att = att_scores[:, :, None] + logp
        if joint:
            cands = np.argsort(-logp, axis=2)[:, :, :ctc_candidates]
            # the end is always a candidate: the CTC says where the utterance ends even when
            # the decoder does not yet rank EOS high (a repeated id is scored twice, the same)
            cands = np.concatenate([cands, np.full((n, k, 1), eos, cands.dtype)], axis=2)
            last = hyps[:, :, t - 1] if t > 0 else np.zeros((n, k), np.int64)
            psi, ext = ctc.extend(ctc_state, last, t, cands)
            combined = np.full_like(att, -np.inf)
            np.put_along_axis(combined, cands, (1 - ctc_weight) * np.take_along_axis(
                att, cands, 2) + ctc_weight * psi, 2)
            cand = combined.reshape(n, k * vocab)
        else:
            cand = att.reshape(n, k * vocab)
        top = np.argsort(-cand, axis=1)[:, :2 * k]  # 2k so that k live ones survive EOS
        new_scores = np.full((n, k), -np.inf)
        new_att = np.full((n, k), -np.inf)
        new_state = np.full_like(ctc_state, -np.inf) if joint else None
        new_hyps = np.zeros_like(hyps)
        for b in range(n):
            alive = 0
            for c in top[b]:
                s = cand[b, c]
                if not np.isfinite(s):
                    break
                beam, tok = divmod(int(c), vocab)
                seq = list(hyps[b, beam, :t]) + [tok]
                if tok == eos or t == max_len - 1:
                    length = len(seq) - (tok == eos)
                    finished[b].append((s / max(length, 1) ** length_penalty, _cut(seq, eos)))
                elif alive < k:
                    new_hyps[b, alive, :t + 1] = seq
                    new_scores[b, alive] = s
                    new_att[b, alive] = att[b, beam, tok]
                    if joint:
                        new_state[b, alive] = ext[b, beam, int(np.flatnonzero(
                            cands[b, beam] == tok)[0])]
                    alive += 1
                if alive == k:
                    break
        scores, att_scores, hyps = new_scores, new_att, new_hyps
        if joint:
            ctc_state = new_state
        # Stop once no live beam can beat the best finished one. Log-probabilities only fall as a
        # hypothesis grows, so a live beam's best normalised score is bounded by its current
        # score over the longest length it could reach (for length_penalty >= 0).
        bound = scores.max(1) / max_len ** length_penalty
        if not np.isfinite(scores).any() or all(
                finished[b] and max(f[0] for f in finished[b]) >= bound[b] for b in range(n)):
            break
        if t + 1 < max_len:
            ids = np.full((n, k, max_len), pad, np.int32)
            ids[:, :, 0] = starts[:, None]
            ids[:, :, 1:t + 2] = hyps[:, :, :t + 1]
            ids = ids.reshape(n * k, max_len)
    results = []
    for b in range(n):
        if finished[b]:
            results.append(max(finished[b], key=lambda f: f[0])[1])
        else:
            results.append(_cut(hyps[b, int(np.argmax(scores[b]))], eos))
    return results
