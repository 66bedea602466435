import re
import wave

import numpy as np
import pytest

from zidong.data.corpus import tts


def _read(path):
    with wave.open(str(path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768


def test_pinyin_has_tone_digits():
    py = tts.to_pinyin("两个小的绿色圆形在一个大的紫色星星的左边。")
    syllables = py.rstrip(" .").split()
    assert syllables[:6] == ["liang3", "ge4", "xiao3", "de5", "lv4", "se4"]
    assert len(syllables) == 20 and all(re.fullmatch(r"[a-z]+[1-5]", s) for s in syllables)
    assert tts.spoken_form("Ｔ恤", "zh").startswith("T ")        # fullwidth letters normalised


@pytest.mark.parametrize("lang, text", [("en", "a big red circle"), ("zh", "一个大的红色圆形。")])
def test_every_voice_speaks_trimmed_16k_mono(tmp_path, lang, text):
    voices = tts.voices(lang)
    assert len(voices) >= (6 if lang == "en" else 3)
    if lang == "en":
        assert any(v.startswith("flite:") for v in voices)
    for i, voice in enumerate(voices):
        path = tmp_path / f"{i}.wav"
        duration = tts.synthesize(text, lang, voice, tts.RATES[i % len(tts.RATES)], path)
        x = _read(path)
        assert abs(len(x) / 16000 - duration) < 1e-3 and 0.4 < duration < 3.5, (voice, duration)
        assert np.sqrt(np.mean(x ** 2)) > 0.02, voice                    # not silent
        edge = int(0.03 * 16000)                                          # trimmed: speech starts
        assert np.abs(x[:edge]).max() > 0.01 and np.abs(x[-edge:]).max() > 0.005, voice


def test_faster_rate_is_shorter(tmp_path):
    slow = tts.synthesize("three small yellow triangles", "en", "espeak:en-us", 1.0, tmp_path / "a.wav")
    fast = tts.synthesize("three small yellow triangles", "en", "espeak:en-us", 1.3, tmp_path / "b.wav")
    assert fast < slow * 0.9


def test_trim_cuts_silence():
    x = np.concatenate([np.zeros(8000), 0.5 * np.sin(np.arange(16000) * 0.3), np.zeros(8000)])
    y = tts.trim(x.astype(np.float32))
    assert 16000 <= len(y) <= 16000 + 2 * tts.FRAME + tts.FRAME
