import numpy as np
import pytest

from zidong.data.corpus import grammar as G
from zidong.data.corpus import render as R


def _check_geometry(scene, boxes):
    a = [b["box"] for b in boxes if b["group"] == "a"]
    b = [b["box"] for b in boxes if b["group"] == "b"]
    assert len(a) == scene["a"]["count"] and len(b) == scene["b"]["count"]
    rel = scene["relation"]
    if rel == "left":
        assert max(x[2] for x in a) <= min(x[0] for x in b)
    elif rel == "right":
        assert min(x[0] for x in a) >= max(x[2] for x in b)
    elif rel == "above":
        assert max(x[3] for x in a) <= min(x[1] for x in b)
    else:
        assert min(x[1] for x in a) >= max(x[3] for x in b)
    allb = a + b
    for i, p in enumerate(allb):
        assert 0 <= p[0] < p[2] <= R.SIZE and 0 <= p[1] < p[3] <= R.SIZE
        for q in allb[i + 1:]:
            assert p[2] <= q[0] or q[2] <= p[0] or p[3] <= q[1] or q[3] <= p[1], (p, q)


def test_layout_makes_relation_true_no_overlap():
    rng = np.random.default_rng(0)
    for i in range(1500):
        scene = G.sample_scene(rng, "train")
        scene["a"]["count"] = scene["b"]["count"] = 3 if i % 3 == 0 else scene["a"]["count"]
        _check_geometry(scene, R.layout(scene, rng))


def test_sizes_clearly_distinguishable():
    rng = np.random.default_rng(0)
    sides = {"small": set(), "big": set()}
    for _ in range(300):
        scene = G.sample_scene(rng, "val")
        for item in R.layout(scene, rng):
            sides[scene[item["group"]]["size"]].add(item["box"][2] - item["box"][0])
    assert max(sides["small"]) * 1.5 < min(sides["big"])


@pytest.mark.parametrize("background", G.BACKGROUNDS)
def test_render_fill_colours_at_object_centres(background):
    rng = np.random.default_rng(3)
    for shape in G.SHAPES:
        scene = {"a": {"count": 2, "size": "big", "colour": "red", "shape": shape},
                 "b": {"count": 1, "size": "small", "colour": "yellow", "shape": shape},
                 "relation": "below", "background": background}
        boxes = R.layout(scene, rng)
        img, kind = R.render_scene(scene, boxes, rng)
        assert img.size == (128, 128) and img.mode == "RGB" and kind == background
        arr = np.asarray(img).astype(int)
        for item in boxes:
            x0, y0, x1, y1 = item["box"]
            # A point inside every shape (a triangle is widest low down; a heart's top is notched).
            cy = y0 + (y1 - y0) * (0.65 if shape == "triangle" else 0.55)
            px = arr[int(cy), (x0 + x1) // 2]
            want = R.RGB[scene[item["group"]]["colour"]]
            assert np.abs(px - want).max() < 40, (shape, item, px, want)


def test_outline_contrasts():
    assert R.outline_for(R.RGB["white"]) == (0, 0, 0)
    assert R.outline_for(R.RGB["yellow"]) == (0, 0, 0)
    assert R.outline_for(R.RGB["black"]) == (255, 255, 255)
    assert R.outline_for(R.RGB["blue"]) == (255, 255, 255)


def test_backgrounds_differ_and_are_deterministic():
    imgs = {}
    for kind in G.BACKGROUNDS:
        a, _ = R.background(kind, np.random.default_rng(5))
        b, _ = R.background(kind, np.random.default_rng(5))
        assert a.tobytes() == b.tobytes()
        imgs[kind] = np.asarray(a).astype(float)
    assert imgs["grey"].std() == 0 and imgs["noise"].std() > 20 and imgs["gradient"].std() > 0
