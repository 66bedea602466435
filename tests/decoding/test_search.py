"""Search algorithms on a hand-built conditional distribution with known answers."""
import numpy as np

from zidong.decoding import beam_search, greedy_search, sample_search

BOS, EOS, A, B, C = 0, 1, 2, 3, 4
V, L = 5, 4


def logits_from(prob_fn):
    def step(ids):
        out = np.full((ids.shape[0], L, V), -1e9)
        for r, row in enumerate(ids):
            for t in range(L):
                for tok, p in prob_fn(list(row[1:t + 1])).items():
                    out[r, t, tok] = np.log(p)
        return out
    return step


def trap(prefix):
    """Greedy takes A (0.6) but every continuation after A is weak (0.4 max); B (0.4) is followed
    by EOS with 0.99. Best full sequence: [B] (0.396) vs [A, ...] (<= 0.24)."""
    if not prefix:
        return {A: 0.6, B: 0.4}
    if prefix == [A]:
        return {C: 0.4, EOS: 0.3, A: 0.3}
    if prefix == [B]:
        return {EOS: 0.99, C: 0.01}
    return {EOS: 1.0}


def test_greedy_falls_into_the_trap_and_beam_finds_the_best_sequence():
    step = logits_from(trap)
    assert greedy_search(step, 1, L, BOS, EOS) == [[A, C]]
    assert beam_search(step, 1, L, BOS, EOS, beam_size=2, length_penalty=0.0) == [[B]]
    # rows are independent: two examples side by side give the same answers
    assert beam_search(step, 2, L, BOS, EOS, beam_size=2, length_penalty=0.0) == [[B], [B]]


def test_beam_of_one_is_greedy():
    step = logits_from(trap)
    assert beam_search(step, 1, L, BOS, EOS, beam_size=1, length_penalty=0.0) == \
        greedy_search(step, 1, L, BOS, EOS)


def test_sampling_is_seeded_and_top1_is_greedy():
    step = logits_from(trap)
    runs = [sample_search(step, 8, L, BOS, EOS, temperature=1.0, seed=s) for s in (1, 1, 2)]
    assert runs[0] == runs[1]
    assert {tuple(r) for r in runs[0] + runs[2]} >= {(A, C), (B,)}  # both branches get sampled
    assert sample_search(step, 3, L, BOS, EOS, temperature=1.0, top_k=1, seed=5) == \
        greedy_search(step, 3, L, BOS, EOS)
    assert sample_search(step, 2, L, BOS, EOS, temperature=0) == greedy_search(step, 2, L, BOS, EOS)


def test_no_eos_runs_to_max_len():
    step = logits_from(lambda prefix: {A: 0.7, B: 0.3})
    assert greedy_search(step, 2, L, BOS, None) == [[A] * L, [A] * L]
