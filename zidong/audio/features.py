"""Log-mel analysis and its Griffin-Lim inversion with one set of parameters (the config's
``model.speech`` section), so a mel frame means the same thing to the encoder, the decoder and the
vocoder."""
from __future__ import annotations

import numpy as np

MEL_FLOOR = 1e-5
LOG_MEL_FLOOR = float(np.log(MEL_FLOOR))  # value of silence; what padding frames hold
# The model sees log-mels standardised with these fixed constants (about the mean and spread of
# TTS speech at 16 kHz), so regression targets are O(1); the vocoder undoes it.
LOG_MEL_MEAN = -6.0
LOG_MEL_STD = 3.0


def normalize_log_mel(x):
    return (np.asarray(x, np.float32) - LOG_MEL_MEAN) / LOG_MEL_STD


def denormalize_log_mel(x):
    return np.asarray(x, np.float32) * LOG_MEL_STD + LOG_MEL_MEAN


def _mel_kwargs(sc) -> dict:
    return dict(sr=sc.sample_rate, n_fft=sc.n_fft, hop_length=sc.hop_length,
                win_length=sc.win_length, n_mels=sc.n_mels, power=2.0)


def log_mel(wave: np.ndarray, sc) -> np.ndarray:
    """Mono waveform at ``sc.sample_rate`` -> (frames, n_mels) natural-log mel power."""
    import librosa
    mel = librosa.feature.melspectrogram(y=np.asarray(wave, np.float32), **_mel_kwargs(sc))
    return np.log(np.maximum(mel, MEL_FLOOR)).T.astype(np.float32)


def mel_to_audio(logmel: np.ndarray, sc, n_iter: int = 32, seed: int = 0) -> np.ndarray:
    """(frames, n_mels) log-mel -> waveform by Griffin-Lim (deterministic for a seed)."""
    import librosa
    mel = np.exp(np.asarray(logmel, np.float32).T)
    stft_mag = librosa.feature.inverse.mel_to_stft(mel, sr=sc.sample_rate, n_fft=sc.n_fft,
                                                   power=2.0)
    wave = librosa.griffinlim(stft_mag, n_iter=n_iter, hop_length=sc.hop_length,
                              win_length=sc.win_length, n_fft=sc.n_fft, init="random",
                              random_state=np.random.default_rng(seed))
    return wave.astype(np.float32)
