import json

import numpy as np
import pytest

from zidong.data.corpus import grammar as G
from zidong.data.corpus.vqa import ANSWERS, KINDS, make_vqa_manifest, questions
from zidong.eval.scene_parse import parse_caption


def _g(count, size, colour, shape):
    return {"count": count, "size": size, "colour": colour, "shape": shape}


STAR_CIRCLE = {"a": _g(1, "big", "red", "star"), "b": _g(2, "small", "blue", "circle"),
               "relation": "left", "background": "grey"}


def _by_kind(qas, kind):
    return {q: a for q, a, k in qas if k == kind}


def test_hand_built_scene_en_and_zh():
    rng = np.random.default_rng(0)
    en = questions(STAR_CIRCLE, "en", rng)
    assert _by_kind(en, "colour") == {"what colour is the star?": "red",
                                      "what colour are the circles?": "blue"}
    assert _by_kind(en, "count") == {"how many stars are there?": "one",
                                     "how many circles are there?": "two"}
    assert _by_kind(en, "shape") == {"what shape is the red object?": "star",
                                     "what shape are the blue objects?": "circle"}
    zh = questions(STAR_CIRCLE, "zh", rng)
    assert _by_kind(zh, "colour") == {"星星是什么颜色？": "红色", "圆形是什么颜色？": "蓝色"}
    assert _by_kind(zh, "count") == {"有几个星星？": "一", "有几个圆形？": "两"}
    assert _by_kind(zh, "shape") == {"红色的物体是什么形状？": "星星", "蓝色的物体是什么形状？": "圆形"}


def test_relation_question_truth_follows_the_scene():
    # every (subject, truth) outcome over many draws must agree with the scene's relation
    truth = {"is the red star to the left of the blue circles?": "yes",
             "is the red star to the right of the blue circles?": "no",
             "are the blue circles to the right of the red star?": "yes",
             "are the blue circles to the left of the red star?": "no",
             "红色的星星在蓝色的圆形的左边吗？": "是", "红色的星星在蓝色的圆形的右边吗？": "否",
             "蓝色的圆形在红色的星星的右边吗？": "是", "蓝色的圆形在红色的星星的左边吗？": "否"}
    rng, seen = np.random.default_rng(1), set()
    for _ in range(60):
        for lang in ("en", "zh"):
            (q, a, _), = [qa for qa in questions(STAR_CIRCLE, lang, rng) if qa.kind == "relation"]
            assert truth[q] == a
            seen.add(q)
    assert seen == set(truth)


def test_same_shape_means_no_colour_question_and_fuller_names():
    scene = {"a": _g(2, "small", "red", "star"), "b": _g(1, "big", "blue", "star"),
             "relation": "above"}
    qas = questions(scene, "en", np.random.default_rng(0))
    assert not _by_kind(qas, "colour")
    assert _by_kind(qas, "count") == {"how many red stars are there?": "two",
                                      "how many blue stars are there?": "one"}
    # same shape and colour: only the size tells them apart, and no shape question either
    scene["b"]["colour"] = "red"
    qas = questions(scene, "zh", np.random.default_rng(0))
    assert not _by_kind(qas, "colour") and not _by_kind(qas, "shape")
    assert _by_kind(qas, "count") == {"有几个小的红色星星？": "两", "有几个大的红色星星？": "一"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_answers_closed_and_right_for_random_scenes(lang):
    rng = np.random.default_rng(3)
    kinds, yes = {k: 0 for k in KINDS}, 0
    n = 2000
    for i in range(n):
        scene = G.sample_scene(rng, "train" if i % 2 else G.COMPOSITIONAL)
        qas = questions(scene, lang, rng)
        assert len({q for q, _, _ in qas}) == len(qas)      # no question asked twice
        for q, a, kind in qas:
            assert a in ANSWERS[lang], (q, a)
            kinds[kind] += 1
            if kind == "colour":                 # the shape asked about names the answer's group
                parsed = parse_caption(q, lang)      # (EN: the verb splits "a"/"b")
                shape = parsed["a"]["shape"] or parsed["b"]["shape"]
                g = scene["a"] if scene["a"]["shape"] == shape else scene["b"]
                assert g["shape"] == shape and a == (g["colour"] if lang == "en"
                                                     else G.COLOURS_ZH[g["colour"]])
        yes += sum(a in ("yes", "是") for _, a, k in qas if k == "relation")
    assert kinds["relation"] == n and kinds["count"] == 2 * n and min(kinds.values()) > 0
    # ~N(0.5, 0.011): 0.45..0.55 is more than four standard deviations
    assert 0.45 < yes / n < 0.55


def test_deterministic_for_a_seed():
    def run(seed):
        rng = np.random.default_rng(seed)
        return [questions(G.sample_scene(rng, "train"), "en", rng) for _ in range(50)]
    assert run(5) == run(5) and run(5) != run(6)


def _line(i, lang, scene):
    return {"id": f"s{i}", "image": f"images/{i}.png", "text": "x", "lang": lang,
            "audio": f"audio/{i}.wav", "label": None, "meta": {"scene": scene} if scene else {}}


def test_manifest_round_trip(tmp_path):
    src = tmp_path / "corpus" / "test.jsonl"
    src.parent.mkdir()
    rows = [_line(0, "en", STAR_CIRCLE), _line(1, "zh", STAR_CIRCLE), _line(2, "en", None),
            _line(3, "fr", STAR_CIRCLE), _line(4, "en", {"a": "junk"})]
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\nnot json\n",
                   encoding="utf-8")
    out = tmp_path / "vqa" / "test_vqa.jsonl"
    summary = make_vqa_manifest(src, out, per_sample=3, seed=0)
    assert summary["samples"] == 5 and summary["bad_lines"] == 1
    assert summary["skipped"] == {"no_scene": 1, "no_lang": 1, "bad_scene": 1}
    assert summary["questions"] == 6 and sum(summary["kinds"].values()) == 6
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["meta"]["source_id"] for x in lines] == ["s0"] * 3 + ["s1"] * 3
    for x in lines:
        # the media are the source's files, seen from the new manifest's folder
        assert x["image"] == f"../corpus/images/{x['meta']['source_id'][1:]}.png"
        assert x["audio"] is None           # the caption's recording would give answers away
        assert x["meta"]["answer"] in ANSWERS[x["lang"]] and x["meta"]["scene"] == STAR_CIRCLE
        assert x["text"].endswith("?" if x["lang"] == "en" else "？")
    first = out.read_bytes()
    assert make_vqa_manifest(src, out, per_sample=3, seed=0) == summary
    assert out.read_bytes() == first                       # same seed, same file
    assert make_vqa_manifest(src, out, seed=0)["questions"] == 14   # all 7 per scene


def test_spoken_questions_are_wavs_of_the_corpus_voices_and_carry_no_text(mini_corpus, tmp_path):
    from zidong.data.manifest import read_manifest
    from zidong.data.media import decode_audio
    out = tmp_path / "spoken.jsonl"
    summary = make_vqa_manifest(mini_corpus / "test.jsonl", out, per_sample=1, seed=0,
                                spoken=True, workers=1)
    samples = read_manifest(out)[0]
    assert summary["spoken"] and len(samples) == summary["questions"] > 0
    text = read_manifest(tmp_path / "text.jsonl")[0] if make_vqa_manifest(
        mini_corpus / "test.jsonl", tmp_path / "text.jsonl", per_sample=1, seed=0) else []
    # the same questions in the same order, under ids of their own (one manifest can hold both)
    assert [s.meta["question"] for s in samples] == [t.text for t in text]
    assert [s.id for s in samples] == [t.id + "-spoken" for t in text]
    for s in samples:
        assert s.text is None and s.meta["question"] and s.meta["answer"]
        assert s.meta["voice"].split(":")[0] in ("espeak", "flite")
        wave, _ = decode_audio((tmp_path / s.audio).read_bytes(), 16000)
        assert len(wave) > 1600                    # more than 0.1 s of speech
        assert (tmp_path / s.image).is_file()
    again = make_vqa_manifest(mini_corpus / "test.jsonl", tmp_path / "again.jsonl",
                              per_sample=1, seed=0, spoken=True, workers=2)
    assert again["questions"] == summary["questions"]
    assert [s.meta["voice"] for s in read_manifest(tmp_path / "again.jsonl")[0]] == \
        [s.meta["voice"] for s in samples]          # the same seed, the same voices
