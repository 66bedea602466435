"""Word times (``meta.words``) become each text token's share of the utterance (``text_dur``)."""
import json

import numpy as np
import pytest

from zidong.config import load_config
from zidong.data.manifest import Sample, write_manifest
from zidong.data.pipeline import DataPipeline
from zidong.data.processor import SampleProcessor
from tests.data.conftest import write_wav

TEXT = "a big red star is above a small blue circle"


@pytest.fixture(scope="module")
def cfg():
    return load_config("tiny", ["model.text.max_len=24", "model.speech.max_frames=128"])


def _words(seconds):
    words = TEXT.split()
    starts = np.linspace(0.05, seconds - 0.3, len(words))
    return [[w, round(float(s), 2), round(float(s) + 0.2, 2)] for w, s in zip(words, starts)]


def test_shares_follow_the_word_starts_and_split_a_word_among_its_pieces(cfg, tokenizer):
    proc = SampleProcessor(cfg, tokenizer, masking=False)
    sc = cfg.model.speech
    frames = 100.0
    seconds = frames * sc.hop_length / sc.sample_rate
    words = _words(seconds)
    shares = proc._durations(TEXT, json.dumps(words), frames)
    pieces = tokenizer.pieces(TEXT)
    n = len(pieces)
    assert shares[:n].sum() == pytest.approx(1.0, abs=1e-5) and not shares[n:].any()
    bounds = [0.0] + [w[1] for w in words[1:]] + [seconds]
    # each word's pieces together hold (next start - its start) / total, split equally
    k, i = -1, 0
    per_word = np.zeros(len(words))
    for p, share in zip(pieces, shares):
        if p.startswith("\u2581") or k < 0:
            k += 1
        per_word[k] += share
    np.testing.assert_allclose(per_word, np.diff(bounds) / seconds, atol=1e-5)


def test_times_that_do_not_fit_the_text_are_counted_not_used(cfg, tokenizer):
    proc = SampleProcessor(cfg, tokenizer, masking=False)
    sc = cfg.model.speech
    frames = 100.0
    words = _words(frames * sc.hop_length / sc.sample_rate)
    assert not proc._durations(TEXT, json.dumps(words[:-1]), frames).any()       # a word short
    assert not proc._durations(TEXT, json.dumps(words), sc.max_frames).any()     # truncated
    counts = proc.log.counts
    assert counts["word times unused: they do not match the text's tokens"] == 1
    assert counts["word times unused: text or audio truncated"] == 1
    with pytest.raises(Exception, match="meta.words"):
        proc._durations(TEXT, "[1, 2]", frames)


def test_the_pipeline_carries_text_dur_only_for_samples_with_times(cfg, tokenizer, tmp_path):
    write_wav(tmp_path / "a.wav", 0, seconds=1.5)
    samples = [Sample(id="timed", text=TEXT, lang="en", audio="a.wav",
                      meta={"words": _words(1.5)}),
               Sample(id="untimed", text=TEXT, lang="en", audio="a.wav"),
               Sample(id="no-audio", text=TEXT, lang="en", meta={"words": _words(1.5)})]
    write_manifest(tmp_path / "m.jsonl", samples)
    b = next(iter(DataPipeline(tmp_path / "m.jsonl", cfg, tokenizer, 3, shuffle=False,
                               masking=False, drop_remainder=False).iterate(0)))
    dur = b["text_dur"]
    assert dur.shape == (3, cfg.model.text.max_len)
    assert dur[0].sum() == pytest.approx(1.0, abs=1e-5)
    assert not dur[1].any() and not dur[2].any()
