"""``zidong eval`` on the generation tasks: metrics.json with the issue's flat keys and a report
with the image grid and WAV links; the scoring itself checked on known outputs."""
import json

import numpy as np
import pytest

from zidong.data.corpus import grammar as G
from zidong.eval.generation import GenerationEval
from zidong.eval.run import run_eval


def _scored(records):
    ev = GenerationEval.__new__(GenerationEval)   # scoring only: no engine, no manifest
    ev.records, ev.image_scorer, ev.speech_scorer = records, None, None
    return ev.metrics()


def test_scores_of_known_outputs():
    rng = np.random.default_rng(0)
    scenes = [G.sample_scene(rng, "train") for _ in range(6)]
    perfect = [{"id": str(i), "lang": lang, "output": G.caption(s, lang), "ref": G.caption(s, lang),
                "scene": s} for i, (s, lang) in enumerate(zip(scenes, ["en", "zh"] * 3))]
    m = _scored({"caption": perfect})
    assert m["caption.en.bleu4"] == pytest.approx(1.0) and m["caption.zh.bleu4"] == pytest.approx(1.0)
    assert m["caption.en.cer"] == 0 and m["caption.zh.cer"] == 0 and m["caption.attr_acc"] == 1.0
    # the same picture told from the other group is a right caption too
    s = scenes[0]
    told = {"a": s["b"], "b": s["a"], "relation": G.INVERSE[s["relation"]]}
    m = _scored({"caption": [{"id": "0", "lang": "en", "output": G.caption_en(told),
                              "ref": G.caption_en(s), "scene": s}]})
    assert m["caption.attr_acc"] == 1.0 and m["caption.en.bleu4"] < 1.0
    # one wrong colour out of the 9 attributes
    wrong = dict(s, a=dict(s["a"], colour=next(c for c in G.COLOURS if c != s["a"]["colour"])))
    m = _scored({"caption": [{"id": "0", "lang": "en", "output": G.caption_en(wrong),
                              "ref": G.caption_en(s), "scene": s}]})
    assert m["caption.attr_acc"] == pytest.approx(8 / 9)
    # and the report says which one
    assert m["caption.attr.a.colour"] == 0.0 and m["caption.attr.a.shape"] == 1.0
    m = _scored({"asr": [{"id": "0", "lang": "en", "output": "a red star", "ref": "a red star",
                          "scene": None},
                         {"id": "1", "lang": "en", "output": "a red", "ref": "a big red star",
                          "scene": None}]})
    assert m["asr.en.wer"] == pytest.approx(2 / 7)
    m = _scored({"vqa": [{"output": "red", "ref": "red", "kind": "colour"},
                         {"output": " two", "ref": "two", "kind": "count"},
                         {"output": "blue", "ref": "red", "kind": "colour"}]})
    assert m["vqa.acc"] == pytest.approx(2 / 3)
    assert _scored({"vqa_speech": [{"output": "red", "ref": "red", "kind": "colour"}]}) == \
        {"vqa_speech.n": 1, "vqa_speech.acc": 1.0, "vqa_speech.acc.colour": 1.0,
         "vqa_speech.n.colour": 1}
    assert m["vqa.acc.colour"] == 0.5 and m["vqa.n.colour"] == 2 and m["vqa.acc.count"] == 1.0


def test_eval_runs_every_task_and_writes_the_report(tiny_run, mini_corpus, tmp_path):
    from zidong.data.corpus.vqa import make_vqa_manifest
    out = tmp_path / "eval"
    tasks = ["retrieval", "caption", "asr", "t2i", "s2i", "t2s", "i2s"]
    m = run_eval(tiny_run[0], mini_corpus / "test.jsonl", tasks, out, limit=3, beam_size=2,
                 batch_size=4, rerank=3)
    # re-ranking the top 3 can only move the right candidate within the top 3
    for d in ("t2i", "i2t", "s2i", "i2s", "t2s", "s2t", "ts2i"):
        assert m[f"retrieval.{d}.R@1"] >= 0
    for d in ("t2i", "i2t", "s2i", "i2s", "t2s", "s2t"):
        assert m[f"retrieval.{d}.rerank.R@1"] <= m[f"retrieval.{d}.R@5"]   # top 3 within top 5
        assert m[f"retrieval.{d}.rerank.k"] == 3
    for key in ("retrieval.t2i.R@1", "caption.attr_acc", "t2i.n", "s2i.n", "t2s.n", "i2s.n"):
        assert key in m, key
    assert any(k.startswith("caption.") and k.endswith(".bleu4") for k in m)
    assert any(k.startswith("asr.") and k.endswith(".cer") for k in m)
    assert m["asr.ctc_weight"] == 0.0   # the tiny run trains no ctc head: the decoder alone
    assert m["t2i.n"] == 3 and 0 <= m["caption.attr_acc"] <= 1
    assert json.loads((out / "metrics.json").read_text()) == m
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "![t2i](t2i_grid.png)" in report and (out / "t2i_grid.png").is_file()
    assert "no independent scorer" in report and ".wav)" in report
    assert len(list((out / "t2s").glob("*.wav"))) == 3
    for task in ("t2s", "i2s"):
        assert f"]({task}_mels.png)" in report and (out / f"{task}_mels.png").is_file()

    vqa = tmp_path / "vqa.jsonl"
    make_vqa_manifest(mini_corpus / "test.jsonl", vqa, per_sample=1, seed=0)
    m = run_eval(tiny_run[0], vqa, ["vqa"], tmp_path / "vqa_eval", limit=4, beam_size=2,
                 batch_size=4)
    assert m["vqa.n"] == 4 and 0 <= m["vqa.acc"] <= 1
    spoken = tmp_path / "spoken.jsonl"
    make_vqa_manifest(mini_corpus / "test.jsonl", spoken, per_sample=1, seed=0, spoken=True)
    m = run_eval(tiny_run[0], spoken, ["vqa_speech", "vqa"], tmp_path / "spoken_eval", limit=4,
                 beam_size=2, batch_size=4)
    # a spoken question has no text: the text-question task finds nothing to answer
    assert m["vqa_speech.n"] == 4 and 0 <= m["vqa_speech.acc"] <= 1 and "vqa.n" not in m
    assert "## vqa_speech: outputs and references" in \
        (tmp_path / "spoken_eval" / "report.md").read_text(encoding="utf-8")


def test_eval_samples_images_as_asked(tiny_run, mini_corpus, tmp_path):
    """Greedy decoding (temperature 0) ignores the seed; temperature 1 does not; the settings are
    written next to the figures they produced."""
    def pngs(out, **kw):
        m = run_eval(tiny_run[0], mini_corpus / "test.jsonl", ["t2i"], out, limit=2,
                     batch_size=2, **kw)
        return m, [p.read_bytes() for p in sorted((out / "t2i").glob("*.png"))]
    m, greedy = pngs(tmp_path / "g0", temperature=0.0, seed=0)
    assert m["t2i.temperature"] == 0.0 and m["t2i.top_k"] == 0 and len(greedy) == 2
    assert pngs(tmp_path / "g1", temperature=0.0, seed=1)[1] == greedy
    m, t1 = pngs(tmp_path / "t1", temperature=1.0, top_k=5, seed=1)
    assert m["t2i.temperature"] == 1.0 and m["t2i.top_k"] == 5
    assert t1 != greedy
