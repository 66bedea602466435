"""Vocoders: log-mel -> waveform behind one interface, chosen by name from a registry so that a
neural vocoder can be plugged in without touching the speech decoder."""
from __future__ import annotations

from typing import Callable, Dict

import numpy as np

from zidong.audio import mel_to_audio


class Vocoder:
    """Interface: ``__call__(logmel (frames, n_mels)) -> waveform (samples,) float32``."""
    sample_rate: int

    def __call__(self, logmel: np.ndarray) -> np.ndarray:
        raise NotImplementedError


VOCODERS: Dict[str, Callable[..., Vocoder]] = {}


def register_vocoder(name: str):
    def wrap(cls):
        VOCODERS[name] = cls
        return cls
    return wrap


@register_vocoder("griffin_lim")
class GriffinLimVocoder(Vocoder):
    """Phase reconstruction by Griffin-Lim (librosa): no weights, works offline, robotic but
    intelligible; the default until a trained vocoder is registered."""

    def __init__(self, speech_cfg, n_iter: int = 32, seed: int = 0):
        self.cfg, self.n_iter, self.seed = speech_cfg, n_iter, seed
        self.sample_rate = speech_cfg.sample_rate

    def __call__(self, logmel: np.ndarray) -> np.ndarray:
        return mel_to_audio(logmel, self.cfg, self.n_iter, self.seed)


def create_vocoder(name: str, speech_cfg, **kwargs) -> Vocoder:
    if name not in VOCODERS:
        raise ValueError(f"unknown vocoder {name!r}; registered: {sorted(VOCODERS)}")
    return VOCODERS[name](speech_cfg, **kwargs)
