import numpy as np
import pytest

from zidong.data.corpus import grammar as G


def _scene(a, b, relation):
    keys = ("count", "size", "colour", "shape")
    return {"a": dict(zip(keys, a)), "b": dict(zip(keys, b)), "relation": relation,
            "background": "grey"}


def test_tri_shapes_examples_exact():
    scene = _scene((2, "small", "green", "circle"), (1, "big", "purple", "star"), "left")
    assert G.caption(scene, "en") == "two small green circles are to the left of a big purple star"
    assert G.caption(scene, "zh") == "两个小的绿色圆形在一个大的紫色星星的左边。"


@pytest.mark.parametrize("relation, en, zh", [
    ("left", "is to the left of", "左边"), ("right", "is to the right of", "右边"),
    ("above", "is above", "上面"), ("below", "is below", "下面")])
def test_relations_and_singular(relation, en, zh):
    scene = _scene((1, "big", "black", "cross"), (3, "small", "white", "cross"), relation)
    assert G.caption_en(scene) == f"a big black cross {en} three small white crosses"
    assert G.caption_zh(scene) == f"一个大的黑色十字在三个小的白色十字的{zh}。"


def test_every_word_of_the_grammar():
    for count, en_c, zh_c in ((1, "a", "一"), (2, "two", "两"), (3, "three", "三")):
        for shape in G.SHAPES:
            g = {"count": count, "size": "big", "colour": "red", "shape": shape}
            plural = {"cross": "crosses"}.get(shape, shape + "s")
            assert G.group_en(g) == f"{en_c} big red {plural if count > 1 else shape}"
            assert G.group_zh(g) == f"{zh_c}个大的红色{G.SHAPES_ZH[shape]}"
    assert G.caption_en(_scene((2, "big", "red", "heart"), (1, "small", "blue", "star"),
                               "above")).startswith("two big red hearts are above")
    with pytest.raises(ValueError):
        G.caption(_scene((1, "big", "red", "heart"), (1, "small", "blue", "star"), "left"), "fr")


@pytest.mark.parametrize("split", ["train", "val", "test", G.COMPOSITIONAL])
def test_held_out_pairs_per_split(split):
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(2000):
        s = G.sample_scene(rng, split)
        held = [G.is_held_out(s[g]) for g in ("a", "b")]
        if split == G.COMPOSITIONAL:
            assert any(held), s
        else:
            assert not any(held), s
        assert any(s["a"][k] != s["b"][k] for k in ("colour", "shape", "size")), s
        for g in ("a", "b"):
            assert s[g]["count"] in G.COUNTS and s[g]["size"] in G.SIZES
            seen.add((s[g]["colour"], s[g]["shape"]))
        assert s["relation"] in G.RELATIONS and s["background"] in G.BACKGROUNDS
    if split == G.COMPOSITIONAL:
        assert G.HELD_OUT <= seen                        # every held-out pair gets tested
    else:
        assert len(seen) == len(G.COLOURS) * len(G.SHAPES) - len(G.HELD_OUT)
