"""Each task gives the same result from the MINDIR runtime as from the checkpoint: same texts,
same image codes under a seed, same speech frames, same retrieval ranking."""
import itertools

import numpy as np
import pytest

from zidong.eval.retrieval import NAMES, embed_manifest


@pytest.fixture(scope="module")
def batch(engine, mini_corpus):
    b = next(iter(engine.batches(mini_corpus / "test.jsonl")))
    assert b["presence"].min() == 1
    return b


def test_text_tasks_are_identical(engine, runtime, batch):
    for task in ("caption", "asr", "vqa", "vqa_speech"):
        assert runtime.text(batch, task, beam_size=2) == engine.text(batch, task, beam_size=2)
    assert runtime.text(batch, "caption", lang="zh", method="greedy") == \
        engine.text(batch, "caption", lang="zh", method="greedy")


def test_a_run_without_a_trained_ctc_head_recognises_with_the_text_decoder_alone(engine, runtime):
    from zidong.tasks.runner import TaskRunner
    assert TaskRunner.ctc_weight > 0   # joint decoding is the default; the missing head turns it off
    assert engine.asr_ctc_weight() == runtime.asr_ctc_weight() == 0.0
    assert "ctc" not in runtime.bundle.graphs_info


def test_image_codes_and_pixels_are_identical_under_a_seed(engine, runtime, batch):
    from zidong.models.generation import generate_image_codes
    for task, seed, temperature in (("t2i", 3, 1.0), ("s2i", 5, 0.7)):
        memory, mask = engine.memory(batch, ("text",) if task == "t2i" else ("speech",))
        want = generate_image_codes(engine.model, memory, mask, temperature, 0, seed)
        got = runtime.image_codes(batch, task, temperature, 0, seed)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(runtime.images(batch, task, temperature, seed=seed),
                                      engine.images(batch, task, temperature, seed=seed))
    other = runtime.image_codes(batch, "t2i", 1.0, 0, 4)
    assert not np.array_equal(other, runtime.image_codes(batch, "t2i", 1.0, 0, 3))


def test_speech_frames_and_waveforms_are_identical(engine, runtime, batch, monkeypatch):
    from zidong.models.generation import generate_speech
    monkeypatch.setattr(runtime, "i2s_via", "direct")   # i2s from the image's memory itself
    for task, lang in (("t2s", None), ("i2s", "zh")):
        memory, mask = engine.memory(batch, ("text",) if task == "t2s" else ("image",))
        ids = np.array([1 if lang == "zh" else int(i) for i in batch["lang_id"]], np.int32)
        want = generate_speech(engine.model, memory, mask, ids)
        got = runtime.mels(batch, task, lang)
        assert [len(x) for x in got] == [len(x) for x in want]
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)
    for g, w in zip(runtime.speech(batch, "t2s"), engine.speech(batch, "t2s")):
        np.testing.assert_array_equal(g, w)
    # and through the model's own caption (the default): the same caption, the same speech
    monkeypatch.setattr(runtime, "i2s_via", "caption")
    said, mels = runtime.describe(batch, "zh", beam_size=2)
    want_said, want = engine.describe(batch, "zh", beam_size=2)
    assert said == want_said
    for g, w in zip(mels, want):
        np.testing.assert_array_equal(g, w)


def test_retrieval_ranking_is_identical(engine, runtime, mini_corpus):
    manifest = mini_corpus / "test.jsonl"
    want = embed_manifest(engine.model, engine.cfg, engine.tokenizer, manifest, batch_size=8)
    got = runtime.embed_manifest(manifest, batch_size=8)
    np.testing.assert_array_equal(got["index"], want["index"])
    for a, b in itertools.permutations(NAMES, 2):
        rank_w = np.argsort(-(want[a] @ want[b].T), axis=1, kind="stable")
        rank_g = np.argsort(-(got[a] @ got[b].T), axis=1, kind="stable")
        np.testing.assert_array_equal(rank_g, rank_w, err_msg=f"{a} -> {b}")
