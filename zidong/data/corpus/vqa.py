"""Visual questions with exact answers, made from a tri-shapes scene graph, in EN and ZH.

Kinds: ``colour`` (asked only when the shape names one group), ``count``, ``shape`` (asked only
when the colour names one group) and ``relation`` (yes/no; a false one flips the relation on its
axis, and the rng makes half of them false). Every answer is one word of ``ANSWERS_EN`` /
``ANSWERS_ZH``, so VQA accuracy is exact match. ``make_vqa_manifest`` turns a corpus manifest
into one sample per question, asked in text or, with ``speak``, spoken by the corpus's voices.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import sys
import zlib
from collections import Counter
from pathlib import Path
from typing import NamedTuple, Optional

import numpy as np

from zidong.data.corpus import grammar as G
from zidong.data.manifest import Sample, read_manifest, resolve, write_manifest

KINDS = ("colour", "count", "shape", "relation")
SPOKEN = "-spoken"  # suffix of a spoken question's id (and WAV) after its text twin's
# "a" is the caption's article for one; as an answer to "how many" it is "one"
NUMBERS_EN = {**G.COUNTS_EN, 1: "one"}
YES_NO = {"en": ("yes", "no"), "zh": ("是", "否")}
ANSWERS_EN = (tuple(G.COLOURS) + tuple(G.SHAPES) + tuple(NUMBERS_EN[c] for c in G.COUNTS)
              + YES_NO["en"])
ANSWERS_ZH = (tuple(G.COLOURS_ZH.values()) + tuple(G.SHAPES_ZH.values())
              + tuple(G.COUNTS_ZH[c] for c in G.COUNTS) + YES_NO["zh"])
ANSWERS = {"en": ANSWERS_EN, "zh": ANSWERS_ZH}


class QA(NamedTuple):
    question: str
    answer: str
    kind: str


def _naming(g: dict, other: dict) -> tuple:
    """The fewest attributes naming ``g`` apart from ``other``, among shape, colour + shape and
    size + colour + shape (always enough: the grammar never makes two groups of one kind)."""
    for keys in (("shape",), ("colour", "shape"), ("size", "colour", "shape")):
        if any(g[k] != other[k] for k in keys):
            return keys
    raise ValueError(f"the groups {g} and {other} cannot be told apart")


def _desc(g: dict, keys: tuple, lang: str) -> str:
    """Group ``g`` described by ``keys``, no article: "big red stars" / "大的红色星星"."""
    if lang == "en":
        noun = G.PLURALS_EN[g["shape"]] if g["count"] > 1 else g["shape"]
        return " ".join([g[k] for k in ("size", "colour") if k in keys] + [noun])
    colour = G.COLOURS_ZH[g["colour"]] if "colour" in keys else ""
    if "size" in keys:
        return f"{G.SIZES_ZH[g['size']]}的{colour}{G.SHAPES_ZH[g['shape']]}"
    return f"{colour}的{G.SHAPES_ZH[g['shape']]}" if colour else G.SHAPES_ZH[g["shape"]]


def _be(g: dict) -> str:
    return "are" if g["count"] > 1 else "is"


def questions(scene: dict, lang: str, rng: np.random.Generator) -> list[QA]:
    """Every question the scene answers unambiguously, in a fixed order of kinds; ``rng`` only
    decides the relation question (which group is the subject; true or flipped)."""
    if lang not in ANSWERS:
        raise ValueError(f"no VQA templates for language {lang!r}; known: en, zh")
    en = lang == "en"
    pairs = ((scene["a"], scene["b"]), (scene["b"], scene["a"]))
    out = []
    for g, other in pairs:
        if g["shape"] != other["shape"]:
            q = (f"what colour {_be(g)} the {_desc(g, ('shape',), lang)}?" if en
                 else f"{_desc(g, ('shape',), lang)}是什么颜色？")
            out.append(QA(q, g["colour"] if en else G.COLOURS_ZH[g["colour"]], "colour"))
    for g, other in pairs:
        plural = {**g, "count": 2}         # "how many circles", even when there is one
        q = (f"how many {_desc(plural, _naming(g, other), lang)} are there?" if en
             else f"有几个{_desc(g, _naming(g, other), lang)}？")
        out.append(QA(q, NUMBERS_EN[g["count"]] if en else G.COUNTS_ZH[g["count"]], "count"))
    for g, other in pairs:
        if g["colour"] != other["colour"]:
            obj = "objects" if g["count"] > 1 else "object"
            q = (f"what shape {_be(g)} the {g['colour']} {obj}?" if en
                 else f"{G.COLOURS_ZH[g['colour']]}的物体是什么形状？")
            out.append(QA(q, g["shape"] if en else G.SHAPES_ZH[g["shape"]], "shape"))
    out.append(_relation_question(scene, lang, rng))
    return out


def _relation_question(scene: dict, lang: str, rng: np.random.Generator) -> QA:
    a, b, rel = scene["a"], scene["b"], scene["relation"]
    if rng.random() < 0.5:                 # tell it from B, so the caption's order is no cue
        a, b, rel = b, a, G.INVERSE[rel]
    truth = bool(rng.random() < 0.5)
    asked = rel if truth else G.INVERSE[rel]    # same axis: "left" is never falsified by "above"
    # colour + shape at least, as people say it; size only when needed to tell the groups apart
    ka = max(_naming(a, b), ("colour", "shape"), key=len)
    kb = max(_naming(b, a), ("colour", "shape"), key=len)
    if lang == "en":
        q = f"{_be(a)} the {_desc(a, ka, lang)} {G.RELATIONS_EN[asked]} the {_desc(b, kb, lang)}?"
    else:
        q = f"{_desc(a, ka, lang)}在{_desc(b, kb, lang)}的{G.RELATIONS_ZH[asked]}吗？"
    return QA(q, YES_NO[lang][0 if truth else 1], "relation")


def _valid_scene(scene) -> bool:
    groups_ok = all(isinstance(scene.get(k), dict) and scene[k].get("count") in G.COUNTS
                    and scene[k].get("size") in G.SIZES and scene[k].get("colour") in G.COLOURS
                    and scene[k].get("shape") in G.SHAPES for k in ("a", "b"))
    return (groups_ok and scene.get("relation") in G.RELATIONS
            and any(scene["a"][k] != scene["b"][k] for k in ("size", "colour", "shape")))


def _speak_one(job) -> dict:
    from zidong.data.corpus import tts
    text, lang, path, seed, sid = job
    return tts.speak(text, lang, np.random.default_rng([seed, zlib.crc32(sid.encode())]), path)


def speak_questions(samples: list[Sample], out_dir: Path, seed: int, workers: int = 2) -> list[Sample]:
    """Each question spoken into ``out_dir/<id>-spoken.wav`` by a voice and rate of the corpus's
    set (drawn from the seed and the question's id, so a question always gets the same voice).
    The text leaves the sample (a model must hear the question) and stays in ``meta.question``;
    the id gets ``-spoken``, so text and spoken questions can share one manifest."""
    out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(s.text, s.lang, str(out_dir / f"{s.id}{SPOKEN}.wav"), seed, s.id) for s in samples]
    from zidong.data.corpus.build import Progress
    progress, spoken = Progress(len(jobs), sys.stderr.isatty(), "speaking"), []
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else None)
    with ctx.Pool(max(1, workers)) as pool:
        for info in pool.imap(_speak_one, jobs, chunksize=8):
            spoken.append(info)
            progress.update(len(spoken))
    rel = os.path.basename(out_dir)
    return [Sample(f"{s.id}{SPOKEN}", s.image, None, s.lang, f"{rel}/{s.id}{SPOKEN}.wav", None,
                   {**s.meta, "question": s.text, "voice": info["voice"], "rate": info["rate"]})
            for s, info in zip(samples, spoken)]


def make_vqa_manifest(manifest_in, manifest_out, per_sample: Optional[int] = None,
                      seed: int = 0, lang: Optional[str] = None, spoken: bool = False,
                      workers: int = 2) -> dict:
    """One sample per question: the source's image (path re-rooted to the new manifest's
    folder), ``text`` the question (no audio: the source's recording says the caption, which
    would give answers away to a model listening to it), ``meta`` {answer, kind, source_id, scene}.

    ``per_sample`` questions are drawn per source sample (None: all). ``lang`` None asks in each
    sample's own language. Samples without a usable scene or language are skipped and counted in
    the returned summary, as are unreadable manifest lines. The same seed gives the same file.
    ``spoken``: the questions are spoken instead (``speak_questions``): WAVs in a folder beside the
    manifest, named after it, ``text`` None and the question in ``meta.question``.
    """
    samples, problems = read_manifest(manifest_in)
    out_dir = Path(manifest_out).resolve().parent
    rng = np.random.default_rng(seed)
    skipped, kinds, answers, out = Counter(), Counter(), Counter(), []

    def rebase(rel):
        return None if rel is None else os.path.relpath(resolve(manifest_in, rel), out_dir)

    for s in samples:
        scene, q_lang = s.meta.get("scene"), lang or s.lang
        if not isinstance(scene, dict):
            skipped["no_scene"] += 1
            continue
        if not _valid_scene(scene):
            skipped["bad_scene"] += 1
            continue
        if q_lang not in ANSWERS:
            skipped["no_lang"] += 1
            continue
        qas = questions(scene, q_lang, rng)
        if per_sample is not None and per_sample < len(qas):
            qas = [qas[i] for i in sorted(rng.choice(len(qas), per_sample, replace=False))]
        for k, qa in enumerate(qas):
            out.append(Sample(f"{s.id}-q{k}", rebase(s.image), qa.question, q_lang, None,
                              None, {"answer": qa.answer, "kind": qa.kind, "source_id": s.id,
                                     "scene": scene}))
            kinds[qa.kind] += 1
            answers[qa.answer] += 1
    if spoken:
        out = speak_questions(out, out_dir / f"{Path(manifest_out).stem}_audio", seed, workers)
    write_manifest(manifest_out, out)
    return {"samples": len(samples), "questions": len(out), "skipped": dict(skipped),
            "bad_lines": len(problems), "kinds": dict(kinds), "answers": dict(answers),
            "spoken": spoken}
