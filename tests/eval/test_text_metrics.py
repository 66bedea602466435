import math

import pytest

from zidong.eval.text_metrics import (bleu4, bleu_stats, cer, corpus_cer, corpus_wer,
                                      edit_distance, has_cjk, wer)

EN = "a big red circle is to the right of a small blue star"
ZH = "两个小的绿色圆形在一个大的紫色星星的左边。"


def test_edit_distance_known_counts():
    assert edit_distance("kitten", "sitting") == 3       # k->s, e->i, +g
    assert edit_distance("", "abc") == 3
    assert edit_distance("abc", "") == 3
    assert edit_distance("abc", "abc") == 0
    assert edit_distance(["a", "b", "c"], ["a", "c"]) == 1


def test_cer_and_wer_by_hand():
    assert cer("sitting", "kitten") == 3 / 6             # over the reference's 6 characters
    assert cer("abxd", "abcd") == 1 / 4
    # English CER counts spaces, but a run of spaces is one
    assert cer("a  b", "a b") == 0.0
    assert wer("a c d", "a b c") == 2 / 3                # delete b, insert d
    assert wer(EN, EN) == 0.0
    assert wer("", "a b c") == 1.0                       # all deleted
    assert wer("x y z w", "a b") == 2.0                  # insertions can push a rate above 1


def test_chinese_is_scored_on_characters_without_spaces():
    assert has_cjk(ZH) and not has_cjk(EN)
    assert cer("两个 小的 绿色", "两个小的绿色") == 0.0
    assert cer("两个大的绿色", "两个小的绿色") == 1 / 6
    # WER over Chinese is the character rate: one sentence "word" would make it 0/1 only
    assert wer("两个大的绿色", "两个小的绿色") == 1 / 6
    # lang overrides the detection: as English, the spaced hyp is 3 words against 1
    assert wer("两个 小的 绿色", "两个小的绿色", lang="en") == 3.0


def test_corpus_rates_pool_edits_not_sentence_rates():
    hyps, refs = ["a b", "a b c d"], ["a x", "a b c d e f g h"]
    # edits 1 + 4 = 5 over 2 + 8 = 10 reference words = 0.5; the mean of the sentence WERs
    # (1/2 and 4/8) is also 0.5, so add a pair whose short reference would dominate a mean
    assert corpus_wer(hyps, refs) == 5 / 10
    assert corpus_wer(hyps + ["x"], refs + ["y"]) == 6 / 11  # the sentence mean would be 2/3
    assert corpus_cer(["ab", "两个"], ["ax", "两三个"]) == (1 + 1) / (2 + 3)
    with pytest.raises(ValueError, match="empty"):
        wer("a", "")
    with pytest.raises(ValueError, match="2 hypotheses"):
        corpus_cer(["a", "b"], ["a"])


def test_bleu_identical_is_one():
    assert bleu4([EN, ZH], [EN, ZH]) == pytest.approx(1.0)


def test_bleu_one_word_changed_by_hand():
    hyp = EN.replace("right", "left")
    # 13 tokens; an n-gram matches unless it holds the changed word (n of them for order n):
    # 1g 12/13, 2g 10/12, 3g 8/11, 4g 6/10; same length so BP = 1; product = 5760/17160 = 48/143
    assert bleu4([hyp], [EN]) == pytest.approx((48 / 143) ** 0.25)


def test_bleu_brevity_penalty_by_hand():
    hyp, ref = "a big red circle is above", "a big red circle is above a small blue star"
    # every n-gram of the hyp is in the ref: precisions all 1; c = 6, r = 10: BP = exp(1 - 10/6)
    assert bleu4([hyp], [ref]) == pytest.approx(math.exp(-2 / 3))


def test_bleu_clips_repeated_ngrams():
    s = bleu_stats(["the the the the the the the"], ["the cat is on the mat"])
    assert s["matches"][0] == 2 and s["totals"][0] == 7  # "the" counted at most twice
    assert bleu4(["the the the the the the the"], ["the cat is on the mat"]) == 0.0


def test_bleu_chinese_uses_characters_and_empty_hypothesis_is_zero():
    s = bleu_stats([ZH], [ZH])
    assert s["hyp_len"] == len(ZH) and s["totals"][3] == len(ZH) - 3
    assert bleu4([""], [EN]) == 0.0
    assert bleu4(["", EN], [EN, EN]) < 1.0               # the empty one still costs length (BP)
