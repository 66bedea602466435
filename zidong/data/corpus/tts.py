"""Speech synthesis with the system's espeak-ng and flite: 16 kHz mono 16-bit WAV, silence trimmed.

Voices are named "engine:voice" (e.g. "espeak:en-us+f3", "flite:slt"); ``rate`` is a speed factor
(1.0 = the engine's normal speed). Chinese is spoken by espeak-ng's ``cmn-latn-pinyin`` voice from
pypinyin TONE3 syllables ("lv4", neutral tone as 5): espeak reads tones 1-5 correctly there, while
the plain ``cmn`` voice reads Latin letters as English.
"""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import unicodedata
import wave
from functools import lru_cache
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
VOICES = {
    "en": ("espeak:en-us", "espeak:en-us+f3", "espeak:en+m3", "espeak:en-gb-x-rp+f4",
           "espeak:en-029+m5", "flite:kal16", "flite:slt", "flite:rms", "flite:awb"),
    "zh": ("espeak:cmn-latn-pinyin", "espeak:cmn-latn-pinyin+f3", "espeak:cmn-latn-pinyin+m3",
           "espeak:cmn-latn-pinyin+f4", "espeak:cmn-latn-pinyin+m5"),
}
RATES = (1.0, 1.15, 1.3)
# espeak-ng words per minute at rate 1.0. Its Mandarin default (175) is a slow ~3.7 syllables/s.
ESPEAK_WPM = {"en": 175, "zh": 230}
TRIM_DB = 40.0      # frames this far below the loudest frame count as silence
FRAME = 160         # 10 ms at 16 kHz: trim resolution, and the margin kept either side

_PUNCT_ZH = str.maketrans({"。": ". ", "，": ", ", "、": ", ", "！": "! ", "？": "? ", "：": ", ",
                           "；": ", ", "（": " ", "）": " ", "“": " ", "”": " ", "‘": " ", "’": " ",
                           "《": " ", "》": " ", "—": ", ", "…": ". "})
_PUNCT_EN = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "—": ", ", "–": ", "})


@lru_cache(maxsize=None)
def _flite_voices() -> frozenset:
    if not shutil.which("flite"):
        return frozenset()
    out = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout
    return frozenset(out.split(":", 1)[-1].split())


@lru_cache(maxsize=None)
def voices(lang: str) -> tuple[str, ...]:
    """The voices of ``lang`` installed here (the order is fixed, so a seed means one voice)."""
    if lang not in VOICES:
        raise ValueError(f"no voices for language {lang!r}; known: {sorted(VOICES)}")
    have_espeak = shutil.which("espeak-ng") is not None
    found = tuple(v for v in VOICES[lang]
                  if (v.startswith("espeak:") and have_espeak)
                  or (v.startswith("flite:") and v[6:] in _flite_voices()))
    if not found:
        raise RuntimeError(f"no speech synthesiser for {lang!r}: install espeak-ng (and flite)")
    return found


def to_pinyin(text: str) -> str:
    """Chinese text -> space-separated TONE3 pinyin; punctuation becomes ASCII pauses."""
    from pypinyin import Style, lazy_pinyin
    items = lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True)
    return re.sub(r"\s+", " ", " ".join(i.translate(_PUNCT_ZH) for i in items)).strip()


def spoken_form(text: str, lang: str) -> str:
    """What the synthesiser is fed for ``text``."""
    if lang == "zh":
        return to_pinyin(unicodedata.normalize("NFKC", text))   # fullwidth "ｆ" -> "f"
    return re.sub(r"\s+", " ", text.translate(_PUNCT_EN).replace("/", " or ")).strip()


def _read_wav(data: bytes) -> tuple[np.ndarray, int]:
    with wave.open(io.BytesIO(data)) as w:
        sr, ch = w.getframerate(), w.getnchannels()
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768.0
    return (x.reshape(-1, ch).mean(axis=1) if ch > 1 else x), sr


def trim(x: np.ndarray) -> np.ndarray:
    """Cut leading/trailing frames more than TRIM_DB below the loudest, keeping one frame margin."""
    n = len(x) // FRAME
    if n == 0:
        return x
    rms = np.sqrt(np.mean(x[: n * FRAME].reshape(n, FRAME) ** 2, axis=1) + 1e-12)
    loud = np.flatnonzero(20 * np.log10(rms / rms.max()) > -TRIM_DB)
    start = max(0, (loud[0] - 1) * FRAME)
    stop = min(len(x), (loud[-1] + 2) * FRAME)
    return x[start:stop]


def write_wav(path: str | Path, x: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    pcm = (np.clip(x, -1.0, 1.0) * 32767.0).round().astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


def _engine(spoken: str, lang: str, voice: str, rate: float, path: Path) -> bytes:
    engine, name = voice.split(":", 1)
    if engine == "espeak":
        wpm = str(int(round(ESPEAK_WPM[lang] * rate)))
        cmd = ["espeak-ng", "-v", name, "-s", wpm, "--stdout"]
        return subprocess.run(cmd, input=spoken.encode(), capture_output=True, check=True).stdout
    if engine == "flite":
        cmd = ["flite", "-voice", name, "--setf", f"duration_stretch={1.0 / rate:.4f}",
               "-t", spoken, "-o", str(path)]
        subprocess.run(cmd, capture_output=True, check=True)
        return path.read_bytes()
    raise ValueError(f"unknown speech engine in voice {voice!r}")


def synthesize(text: str, lang: str, voice: str, rate: float, path: str | Path) -> float:
    """Speak ``text`` into ``path`` (16 kHz mono 16-bit WAV); returns its duration in seconds."""
    path = Path(path)
    x, sr = _read_wav(_engine(spoken_form(text, lang), lang, voice, rate, path))
    if sr != SAMPLE_RATE:
        import soxr
        x = soxr.resample(x, sr, SAMPLE_RATE)
    x = trim(x)
    if not np.any(np.abs(x) > 1e-3):
        raise RuntimeError(f"{voice} produced silence for {text!r}")
    # Engines peak at different levels; a common peak keeps loudness from identifying the voice.
    x = x * (0.9 / np.abs(x).max())
    write_wav(path, x)
    return round(len(x) / SAMPLE_RATE, 4)


def pick_voice(rng: np.random.Generator, lang: str) -> tuple[str, float]:
    vs = voices(lang)
    return vs[int(rng.integers(len(vs)))], float(RATES[int(rng.integers(len(RATES)))])


def speak(text: str, lang: str, rng: np.random.Generator, path: str | Path) -> dict:
    """``text`` spoken into ``path`` by a voice and rate drawn from ``rng``: what was used."""
    voice, rate = pick_voice(rng, lang)
    return {"voice": voice, "rate": rate, "duration": synthesize(text, lang, voice, rate, path)}
