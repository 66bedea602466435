"""The tri-shapes scene grammar of /work/shared/TRI_SHAPES.md: scene sampling and EN/ZH captions.

A scene is a JSON-plain dict, the same one stored in a sample's ``meta["scene"]``:
    {"a": {"count", "size", "colour", "shape"}, "b": {...}, "relation": "left|right|above|below",
     "background": "grey|gradient|noise|photo"}
Only this module (and the attribute scorers) may know the grammar; the model never does.
"""
from __future__ import annotations

import numpy as np

SHAPES = ("circle", "square", "triangle", "star", "heart", "cross")
COLOURS = ("red", "green", "blue", "yellow", "purple", "orange", "white", "black")
SIZES = ("small", "big")
COUNTS = (1, 2, 3)
RELATIONS = ("left", "right", "above", "below")
BACKGROUNDS = ("grey", "gradient", "noise", "photo")

SHAPES_ZH = dict(zip(SHAPES, ("圆形", "正方形", "三角形", "星星", "心形", "十字")))
COLOURS_ZH = dict(zip(COLOURS, ("红色", "绿色", "蓝色", "黄色", "紫色", "橙色", "白色", "黑色")))
SIZES_ZH = {"small": "小", "big": "大"}
COUNTS_EN = {1: "a", 2: "two", 3: "three"}
COUNTS_ZH = {1: "一", 2: "两", 3: "三"}
PLURALS_EN = {s: s + ("es" if s.endswith("s") else "s") for s in SHAPES}   # crosses
RELATIONS_EN = {"left": "to the left of", "right": "to the right of", "above": "above", "below": "below"}
RELATIONS_ZH = {"left": "左边", "right": "右边", "above": "上面", "below": "下面"}
# the relation seen from the other group (also the false answer on the same axis)
INVERSE = {"left": "right", "right": "left", "above": "below", "below": "above"}

# Never in train/val/test (either group); every test_compositional scene holds at least one.
HELD_OUT = frozenset({("green", "star"), ("red", "square"), ("blue", "triangle"),
                      ("yellow", "heart"), ("purple", "cross"), ("orange", "circle")})
COMPOSITIONAL = "test_compositional"

_SEEN_PAIRS = tuple((c, s) for c in COLOURS for s in SHAPES if (c, s) not in HELD_OUT)
_HELD_PAIRS = tuple(sorted(HELD_OUT))
_ALL_PAIRS = tuple((c, s) for c in COLOURS for s in SHAPES)


def is_held_out(group: dict) -> bool:
    return (group["colour"], group["shape"]) in HELD_OUT


def _group(rng: np.random.Generator, pairs) -> dict:
    colour, shape = pairs[rng.integers(len(pairs))]
    return {"count": int(rng.choice(COUNTS)), "size": str(rng.choice(SIZES)),
            "colour": colour, "shape": shape}


def _same_kind(a: dict, b: dict) -> bool:
    # "two big red circles left of a big red circle" names no distinguishable groups.
    return all(a[k] == b[k] for k in ("colour", "shape", "size"))


def sample_scene(rng: np.random.Generator, split: str) -> dict:
    """A random scene for ``split``: held-out pairs excluded, or (compositional) required."""
    if split == COMPOSITIONAL:
        # One group is held out; the other is anything, so both-held-out scenes occur too.
        held, other = _group(rng, _HELD_PAIRS), _group(rng, _ALL_PAIRS)
        while _same_kind(held, other):
            other = _group(rng, _ALL_PAIRS)
        a, b = (held, other) if rng.random() < 0.5 else (other, held)
    else:
        a = _group(rng, _SEEN_PAIRS)
        b = _group(rng, _SEEN_PAIRS)
        while _same_kind(a, b):
            b = _group(rng, _SEEN_PAIRS)
    return {"a": a, "b": b, "relation": str(rng.choice(RELATIONS)),
            "background": str(rng.choice(BACKGROUNDS))}


def group_en(g: dict) -> str:
    shape = PLURALS_EN[g["shape"]] if g["count"] > 1 else g["shape"]
    return f"{COUNTS_EN[g['count']]} {g['size']} {g['colour']} {shape}"


def group_zh(g: dict) -> str:
    return f"{COUNTS_ZH[g['count']]}个{SIZES_ZH[g['size']]}的{COLOURS_ZH[g['colour']]}{SHAPES_ZH[g['shape']]}"


def caption_en(scene: dict) -> str:
    verb = "are" if scene["a"]["count"] > 1 else "is"
    return f"{group_en(scene['a'])} {verb} {RELATIONS_EN[scene['relation']]} {group_en(scene['b'])}"


def caption_zh(scene: dict) -> str:
    return f"{group_zh(scene['a'])}在{group_zh(scene['b'])}的{RELATIONS_ZH[scene['relation']]}。"


def caption(scene: dict, lang: str) -> str:
    if lang == "en":
        return caption_en(scene)
    if lang == "zh":
        return caption_zh(scene)
    raise ValueError(f"no caption template for language {lang!r}; known: en, zh")
