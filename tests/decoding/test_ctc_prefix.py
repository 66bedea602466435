"""CTC prefix scores against brute force over every alignment, and joint CTC/attention beam
search on a decoder with a known bias."""
import itertools

import numpy as np

from zidong.decoding import beam_search
from zidong.decoding.ctc_prefix import CTCPrefixScorer

BLANK, EOS = 0, 1
V, T = 4, 5   # blank, EOS (never emitted by CTC here), labels 2 and 3


def random_logp(rng, n, t=T):
    x = rng.normal(size=(n, t, V)) * 2
    x[:, :, EOS] = -30.0
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def collapse(path):
    out, prev = [], None
    for s in path:
        if s != prev and s != BLANK:
            out.append(s)
        prev = s
    return out


def brute(logp, length):
    """(prefix -> probability that the output starts with it, output -> its probability)."""
    starts, exact = {}, {}
    for path in itertools.product(range(V), repeat=length):
        p = np.exp(sum(logp[t, s] for t, s in enumerate(path)))
        y = tuple(collapse(path))
        exact[y] = exact.get(y, 0.0) + p
        for i in range(len(y) + 1):
            starts[y[:i]] = starts.get(y[:i], 0.0) + p
    return starts, exact


def score(scorer, prefix, cands):
    """psi of ``prefix`` extended by each candidate, walking the scorer one token at a time."""
    state = scorer.start(1)
    for i, tok in enumerate(prefix):
        last = np.array([[prefix[i - 1] if i else 0]])
        _, ext = scorer.extend(state, last, i, np.array([[[tok]]]))
        state = ext[:, :, 0]
    last = np.array([[prefix[-1] if prefix else 0]])
    psi, _ = scorer.extend(state, last, len(prefix), np.array([[cands]]))
    return np.exp(psi[0, 0])


def test_prefix_and_end_scores_equal_the_sums_over_alignments():
    rng = np.random.default_rng(0)
    logp = random_logp(rng, 1)[0]
    starts, exact = brute(logp, T)
    scorer = CTCPrefixScorer(logp[None], [T], BLANK, EOS)
    for prefix in [(), (2,), (3,), (2, 2), (2, 3), (3, 2, 3), (2, 2, 2)]:
        got = score(scorer, list(prefix), [2, 3, EOS])
        want = [starts.get(prefix + (2,), 0.0), starts.get(prefix + (3,), 0.0),
                exact.get(prefix, 0.0)]
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-15)


def test_frames_past_the_length_change_nothing():
    rng = np.random.default_rng(1)
    logp = random_logp(rng, 1, t=T + 3)
    short = CTCPrefixScorer(logp[:, :T], [T], BLANK, EOS)
    padded = CTCPrefixScorer(logp, [T], BLANK, EOS)
    for prefix in [(), (2,), (3, 2)]:
        np.testing.assert_allclose(score(padded, list(prefix), [2, 3, EOS]),
                                   score(short, list(prefix), [2, 3, EOS]), rtol=1e-9)


def test_joint_search_follows_the_ctc_where_the_decoder_is_unsure():
    # the decoder slightly prefers [3] to [2]; the utterance's CTC clearly says 2
    L = 3

    def step(ids):
        out = np.full((ids.shape[0], L, V), -30.0)
        for r, row in enumerate(ids):
            for t in range(L):
                if t == 0:
                    out[r, t, [2, 3]] = np.log([0.45, 0.55])
                else:
                    out[r, t, EOS] = 0.0
        return out

    logp = np.full((1, T, V), np.log(1e-4))
    logp[0, :, BLANK] = np.log(0.5)
    logp[0, 1:3, 2] = np.log(0.9)
    logp = logp - np.log(np.exp(logp).sum(-1, keepdims=True))
    scorer = CTCPrefixScorer(logp, [T], BLANK, EOS)
    assert beam_search(step, 1, L, 7, EOS, beam_size=2) == [[3]]
    assert beam_search(step, 1, L, 7, EOS, beam_size=2, ctc=scorer, ctc_weight=0.0) == [[3]]
    assert beam_search(step, 1, L, 7, EOS, beam_size=2, ctc=scorer, ctc_weight=0.3,
                       ctc_candidates=3) == [[2]]
