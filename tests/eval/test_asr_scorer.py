import sys
import wave

import numpy as np
import pytest

from zidong.data.corpus import grammar as G
from zidong.eval.asr_scorer import SphinxScorer, caption_jsgf, word_loop_jsgf


def test_grammar_holds_every_caption_word():
    words = set(SphinxScorer._grammar_words(caption_jsgf()))
    rng = np.random.default_rng(0)
    for _ in range(200):
        assert set(G.caption_en(G.sample_scene(rng, "train")).split()) <= words
    assert SphinxScorer._grammar_words(word_loop_jsgf(["red", "star", "red"])) == ["red", "star"]


def test_missing_pocketsphinx_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)    # makes the import fail
    with pytest.raises(ImportError, match="pip install pocketsphinx"):
        SphinxScorer(["red"])


def _english_voice():
    from zidong.data.corpus import tts
    voices = tts.voices("en")
    if not voices:
        pytest.skip("no English TTS voice (flite / espeak-ng) on this machine")
    return tts, next((v for v in voices if v == "flite:slt"), voices[0])


def test_transcribes_spoken_captions(tmp_path):
    pytest.importorskip("pocketsphinx")
    from zidong.eval.text_metrics import corpus_wer
    tts, voice = _english_voice()
    rng = np.random.default_rng(1)
    refs = [G.caption_en(G.sample_scene(rng, "train")) for _ in range(3)]
    scorer = SphinxScorer(caption_jsgf())
    hyps = []
    for i, ref in enumerate(refs):
        tts.synthesize(ref, "en", voice, 1.0, tmp_path / f"{i}.wav")
        hyps.append(scorer.transcribe(tmp_path / f"{i}.wav"))
    assert corpus_wer(hyps, refs) <= 0.1, list(zip(hyps, refs))


def test_rejects_unusable_input(tmp_path):
    pytest.importorskip("pocketsphinx")
    with pytest.raises(ValueError, match="pronunciation dictionary"):
        SphinxScorer(["red", "zxqvw"])
    path = tmp_path / "8k.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(800, "<i2").tobytes())
    with pytest.raises(ValueError, match="16000 Hz"):
        SphinxScorer(["red"]).transcribe(path)
