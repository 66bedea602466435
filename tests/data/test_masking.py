import numpy as np

from zidong.config.special_tokens import MASK_ID
from zidong.data.masking import choose_hidden_modality, mask_patches, mask_spans, mask_text


def test_text_mask_has_a_fixed_count_within_the_real_tokens():
    ids = np.arange(10, 26, dtype=np.int32)
    for length in (16, 7, 2, 0):
        masked, pos, w = mask_text(ids, length, 4, np.random.default_rng(length))
        assert pos.shape == (4,) and w.shape == (4,)
        k = min(4, length)
        assert w.sum() == k and (pos[:k] < max(length, 1)).all() and len(set(pos[:k])) == k
        assert (masked[pos[:k]] == MASK_ID).all() and (masked != ids).sum() == k


def test_patch_and_span_masks_have_fixed_counts():
    for seed in range(20):
        rng = np.random.default_rng(seed)
        assert mask_patches(64, 24, rng).sum() == 24
        spans = mask_spans(192, 100, 4, 8, rng)
        assert spans.sum() == 32 and spans[100:].sum() == 0
        edges = np.flatnonzero(np.diff(np.concatenate([[0], spans, [0]])))
        runs = edges[1::2] - edges[0::2]
        assert (runs % 8 == 0).all()  # whole spans (adjacent ones may touch)
    assert mask_spans(192, 20, 4, 8, np.random.default_rng(0)).sum() == 16  # only 2 fit


def test_masks_are_reproducible_from_the_seed():
    a = mask_spans(192, 150, 4, 8, np.random.default_rng([1, 2, 3]))
    b = mask_spans(192, 150, 4, 8, np.random.default_rng([1, 2, 3]))
    c = mask_spans(192, 150, 4, 8, np.random.default_rng([1, 2, 4]))
    assert (a == b).all() and (a != c).any()


def test_hidden_modality_only_among_present_ones_and_only_with_two():
    hidden = [choose_hidden_modality(np.array([1, 0, 1]), 1.0, np.random.default_rng(s))
              for s in range(50)]
    assert all(h.sum() == 1 and h[1] == 0 for h in hidden)
    assert {int(np.argmax(h)) for h in hidden} == {0, 2}
    assert choose_hidden_modality(np.array([0, 1, 0]), 1.0, np.random.default_rng(0)).sum() == 0
    rate = np.mean([choose_hidden_modality(np.ones(3), 0.3, np.random.default_rng(s)).sum()
                    for s in range(2000)])
    assert 0.25 < rate < 0.35
