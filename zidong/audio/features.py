"""Log-mel analysis and its Griffin-Lim inversion with one set of parameters (the config's
``model.speech`` section), so a mel frame means the same thing to the encoder, the decoder and the
vocoder."""
from __future__ import annotations

import numpy as np

MEL_FLOOR = 1e-5
LOG_MEL_FLOOR = float(np.log(MEL_FLOOR))  # value of silence; what padding frames hold


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
