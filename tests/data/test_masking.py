import numpy as np

from zidong.config.special_tokens import MASK_ID
from zidong.data.masking import (drop_decoder_inputs, hide_modalities, mask_patches, mask_spans,
                                 mask_text)


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


def test_hidden_modality_by_slot_and_only_with_another_source():
    present = np.array([1, 1, 1])
    for slot in range(3):
        hidden = [hide_modalities(present, slot, 0.5, np.random.default_rng(s)) for s in range(400)]
        assert all(h[slot] == 1 for h in hidden)
        extra = np.mean([h.sum() == 2 for h in hidden])
        assert 0.42 < extra < 0.58  # single_source_prob
        assert all(h.sum() <= 2 for h in hidden)
    assert hide_modalities(np.array([1, 0, 1]), 0, 1.0, np.random.default_rng(0)).tolist() == \
        [1, 0, 0]  # two modalities: never both hidden
    assert hide_modalities(np.array([0, 1, 1]), 0, 1.0, np.random.default_rng(0)).sum() == 0
    assert hide_modalities(np.array([1, 0, 0]), 0, 1.0, np.random.default_rng(0)).sum() == 0
    assert hide_modalities(present, None, 1.0, np.random.default_rng(0)).sum() == 0


def test_decoder_dropout_masks_only_words_at_about_its_rate():
    dec_in = np.zeros(32, np.int32)
    dec_in[:21] = np.arange(5, 26)   # language token, then 20 words, then padding
    rng = np.random.default_rng(0)
    dropped = [drop_decoder_inputs(dec_in, 20, 0.3, rng) for _ in range(300)]
    for d in dropped:
        assert d[0] == dec_in[0] and (d[21:] == 0).all()  # start token and padding untouched
        changed = d != dec_in
        assert (d[changed] == MASK_ID).all()
    rate = np.mean([(d[1:21] == MASK_ID).mean() for d in dropped])
    assert 0.27 < rate < 0.33
    # rate 0 returns the input and leaves the random stream where it was
    rng = np.random.default_rng(1)
    assert drop_decoder_inputs(dec_in, 20, 0.0, rng) is dec_in
    assert rng.random() == np.random.default_rng(1).random()
