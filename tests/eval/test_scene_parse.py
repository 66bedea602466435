import numpy as np
import pytest

from zidong.data.corpus import grammar as G
from zidong.eval.scene_parse import (ATTRIBUTES, attribute_accuracy, attribute_report,
                                     empty_scene, parse_caption, swapped)


def _core(scene):
    return {"a": scene["a"], "b": scene["b"], "relation": scene["relation"]}


@pytest.mark.parametrize("split", ["train", G.COMPOSITIONAL])
def test_round_trip_every_caption(split):
    rng = np.random.default_rng(7)
    for _ in range(300):
        scene = G.sample_scene(rng, split)
        for lang in ("en", "zh"):
            cap = G.caption(scene, lang)
            assert parse_caption(cap) == _core(scene), cap
            assert attribute_accuracy(parse_caption(cap), scene) == 1.0


def test_triangle_is_not_the_count_three():
    scene = {"a": {"count": 3, "size": "big", "colour": "blue", "shape": "triangle"},
             "b": {"count": 1, "size": "small", "colour": "red", "shape": "cross"},
             "relation": "below"}
    assert G.caption_zh(scene) == "三个大的蓝色三角形在一个小的红色十字的下面。"
    assert parse_caption(G.caption_zh(scene)) == scene


def test_partial_captions_keep_what_can_be_read():
    # the second group lost its size and colour, the relation is cut off
    s = parse_caption("two small green circles are to the")
    assert s["a"] == {"count": 2, "size": "small", "colour": "green", "shape": "circle"}
    assert s["b"] == dict.fromkeys(s["b"]) and s["relation"] is None
    s = parse_caption("a big star is above three circles")
    assert s["a"] == {"count": 1, "size": "big", "colour": None, "shape": "star"}
    assert s["b"] == {"count": 3, "size": None, "colour": None, "shape": "circle"}
    assert s["relation"] == "above"
    s = parse_caption("两个小的绿色圆形在一个紫色星星的左边")      # no size in B, no full stop
    assert s["b"] == {"count": 1, "size": None, "colour": "purple", "shape": "star"}
    assert s["relation"] == "left"
    # no verb, no relation: B starts where a field repeats
    s = parse_caption("a red circle two blue stars")
    assert s["a"]["colour"] == "red" and s["b"]["count"] == 2 and s["relation"] is None


def test_conflicting_words_give_none_not_a_guess():
    s = parse_caption("a big red blue circle is left of a small star")
    assert s["a"]["colour"] is None and s["a"]["size"] == "big"
    # "left of" without "to the" is not the template's phrase, so the verb splits the groups
    assert s["relation"] is None and s["b"]["shape"] == "star"


@pytest.mark.parametrize("garbage", ["", "   ", "。。。", "zzz qqq", "的的的在在的", None, 42,
                                     ["a", "red"], "circle circle circle is is are"])
def test_garbage_never_raises(garbage):
    s = parse_caption(garbage)
    assert set(s) == {"a", "b", "relation"}
    assert attribute_accuracy(s, empty_scene()) == 0.0


def test_attribute_accuracy_counts_nine_and_none_is_wrong():
    ref = {"a": {"count": 2, "size": "small", "colour": "green", "shape": "circle"},
           "b": {"count": 1, "size": "big", "colour": "purple", "shape": "star"},
           "relation": "left", "background": "noise"}
    assert len(ATTRIBUTES) == 9
    pred = parse_caption("two small red circles are to the right of a big purple")
    # wrong: a.colour, b.shape (None), relation -> 6 of 9
    assert attribute_accuracy(pred, ref) == pytest.approx(6 / 9)
    assert attribute_accuracy(None, ref) == 0.0
    assert attribute_accuracy({"a": "junk"}, ref) == 0.0


def test_symmetric_scoring_accepts_the_other_telling():
    ref = {"a": {"count": 2, "size": "small", "colour": "green", "shape": "circle"},
           "b": {"count": 1, "size": "big", "colour": "purple", "shape": "star"},
           "relation": "left"}
    other = parse_caption(G.caption_en(swapped(ref)))
    assert other["relation"] == "right"
    assert attribute_accuracy(other, ref) < 0.5
    assert attribute_accuracy(other, ref, symmetric=True) == 1.0


def test_report_breaks_down_by_attribute():
    ref = {"a": {"count": 1, "size": "big", "colour": "red", "shape": "heart"},
           "b": {"count": 3, "size": "small", "colour": "white", "shape": "cross"},
           "relation": "above"}
    good = parse_caption(G.caption_en(ref))
    bad_colour = parse_caption(G.caption_en({**ref, "a": {**ref["a"], "colour": "blue"}}))
    rep = attribute_report([good, bad_colour], [ref, ref])
    assert rep["a.colour"] == 0.5 and rep["b.shape"] == 1.0
    assert rep["exact"] == 0.5 and rep["mean"] == pytest.approx(17 / 18)
    with pytest.raises(ValueError):
        attribute_report([good], [])
