"""Read a (generated) tri-shapes caption back into a scene, and score it attribute by attribute.

The vocabulary comes from the corpus grammar's tables, so a word added there is parsed here too.
Parsing is tolerant: a caption that is partly wrong yields every field that can still be read and
None for the rest; garbage yields an all-None scene. It never raises: it scores model output.
"""
from __future__ import annotations

import re
from typing import Optional, Sequence

from zidong.data.corpus import grammar as G
from zidong.eval.text_metrics import has_cjk

FIELDS = ("count", "size", "colour", "shape")
ATTRIBUTES = tuple(f"{g}.{f}" for g in ("a", "b") for f in FIELDS) + ("relation",)

# word (or Chinese string) -> (field, value)
_EN = {**{w: ("count", c) for c, w in G.COUNTS_EN.items()},
       **{s: ("size", s) for s in G.SIZES},
       **{c: ("colour", c) for c in G.COLOURS},
       **{s: ("shape", s) for s in G.SHAPES},
       **{p: ("shape", s) for s, p in G.PLURALS_EN.items()}}
_ZH = {**{w: ("count", c) for c, w in G.COUNTS_ZH.items()},
       **{w: ("size", s) for s, w in G.SIZES_ZH.items()},
       **{w: ("colour", c) for c, w in G.COLOURS_ZH.items()},
       **{w: ("shape", s) for s, w in G.SHAPES_ZH.items()},
       **{w: ("relation", r) for r, w in G.RELATIONS_ZH.items()},
       "在": ("split", None)}
# longest first, so that 三角形 is read as a triangle and not as the count 三
_ZH_RE = re.compile("|".join(sorted(map(re.escape, _ZH), key=len, reverse=True)))
_EN_REL = {tuple(p.split()): r for r, p in G.RELATIONS_EN.items()}


def empty_scene() -> dict:
    return {"a": dict.fromkeys(FIELDS), "b": dict.fromkeys(FIELDS), "relation": None}


def _fill(group: dict, items) -> None:
    seen: dict = {}
    for field, value in items:
        seen.setdefault(field, set()).add(value)
    for field, values in seen.items():
        # two different colours (say) for one group is ambiguous: no credit rather than a guess
        group[field] = values.pop() if len(values) == 1 else None


def _items_en(text: str) -> list:
    toks, items, i = re.findall(r"[a-z]+", text.lower()), [], 0
    while i < len(toks):
        phrase = next((p for p in _EN_REL if tuple(toks[i:i + len(p)]) == p), None)
        if phrase:
            items.append(("relation", _EN_REL[phrase]))
            i += len(phrase)
            continue
        if toks[i] in ("is", "are"):
            items.append(("verb", None))
        elif toks[i] in _EN:
            items.append(_EN[toks[i]])
        i += 1
    return items


def _split(items: list, markers: tuple) -> tuple[list, list]:
    """Group items before / after the first marker found (tried in order of ``markers``); with no
    marker, B starts where a field of A repeats ("a red circle two blue stars")."""
    for marker in markers:
        at = next((k for k, (f, _) in enumerate(items) if f == marker), None)
        if at is not None:
            return items[:at], items[at + 1:]
    seen: set = set()
    for k, (f, _) in enumerate(items):
        if f not in FIELDS:
            continue
        if f in seen:
            return items[:k], items[k:]
        seen.add(f)
    return items, []


def parse_caption(text, lang: Optional[str] = None) -> dict:
    """A scene dict {"a": {count, size, colour, shape}, "b": {...}, "relation"}; unreadable fields
    are None. ``lang`` None: Chinese if the text holds a CJK character."""
    scene = empty_scene()
    if not isinstance(text, str):
        return scene
    zh = has_cjk(text) if lang is None else lang == "zh"
    items = [_ZH[w] for w in _ZH_RE.findall(text)] if zh else _items_en(text)
    # EN: "{A} is|are {relation} {B}"; ZH: "{A}在{B}的{relation}。"
    a, b = _split(items, ("split",) if zh else ("relation", "verb"))
    groups = [i for i in a if i[0] in FIELDS], [i for i in b if i[0] in FIELDS]
    _fill(scene["a"], groups[0])
    _fill(scene["b"], groups[1])
    rel = {}
    _fill(rel, [i for i in items if i[0] == "relation"])
    scene["relation"] = rel.get("relation")
    return scene


def attribute_values(scene) -> dict:
    """The 9 scored attributes as {"a.count": 2, ..., "relation": "left"}; missing ones None."""
    scene = scene if isinstance(scene, dict) else {}
    out = {}
    for name in ATTRIBUTES:
        node = scene
        for key in name.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        out[name] = node
    return out


def swapped(scene: dict) -> dict:
    """The same picture told from B: groups exchanged, relation inverted."""
    return {"a": scene.get("b"), "b": scene.get("a"),
            "relation": G.INVERSE.get(scene.get("relation"))}


def attribute_matches(pred, ref, symmetric: bool = False) -> dict:
    """{attribute: bool} for the 9 attributes; None in the prediction is wrong. ``symmetric``
    also accepts the prediction told from the other group ("B is right of A" for "A is left of
    B"), scoring whichever reading matches more, for captioners free to choose the order."""
    p, r = attribute_values(pred), attribute_values(ref)
    hits = {k: p[k] is not None and p[k] == r[k] for k in ATTRIBUTES}
    if symmetric and isinstance(ref, dict):
        other = attribute_matches(pred, swapped(ref))
        if sum(other.values()) > sum(hits.values()):
            return other
    return hits


def attribute_accuracy(pred, ref, symmetric: bool = False) -> float:
    """Fraction of the 9 attributes (a.count ... b.shape, relation) the prediction gets right."""
    return sum(attribute_matches(pred, ref, symmetric).values()) / len(ATTRIBUTES)


def attribute_report(preds: Sequence, refs: Sequence, symmetric: bool = False) -> dict:
    """Per-attribute accuracy over a set of scenes, plus "mean" (of the 9) and "exact" (all 9
    right), for reports: which attribute does the model get wrong?"""
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predicted scenes but {len(refs)} references")
    if not refs:
        raise ValueError("no scenes to score")
    rows = [attribute_matches(p, r, symmetric) for p, r in zip(preds, refs)]
    out = {k: sum(row[k] for row in rows) / len(rows) for k in ATTRIBUTES}
    out["mean"] = sum(out[k] for k in ATTRIBUTES) / len(ATTRIBUTES)
    out["exact"] = sum(all(row.values()) for row in rows) / len(rows)
    return out
