"""Decoding images and audio from bytes into the model's fixed formats, refusing what is unusable.

Convertible input is converted and the conversion reported (greyscale / 16-bit / palette / RGBA
images; stereo or other-rate audio); unusable input (corrupt, truncated, empty, silent) raises
DataError. Callers name the file.
"""
from __future__ import annotations

import io

import numpy as np

from zidong.data.manifest import DataError

SILENCE_PEAK = 1e-4  # a recording whose loudest sample is below this holds nothing to learn from


def decode_image(data: bytes, size: int, mean: float, std: float) -> tuple[np.ndarray, list[str]]:
    """Image bytes -> (3, size, size) float32 normalised, and the conversions applied."""
    from PIL import Image, UnidentifiedImageError
    notes = []
    if not data:
        raise DataError("empty image file")
    try:
        img = Image.open(io.BytesIO(data))
        img.load()  # decodes fully: truncated files fail here, not later
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DataError(f"corrupt or truncated image ({e})") from None
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, np.float32)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        img = Image.fromarray(np.clip(arr / hi * 255.0, 0, 255).astype(np.uint8), "L")
        notes.append("16-bit image scaled to 8 bits")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
        notes.append("transparent image composited on white")
    if img.mode != "RGB":
        notes.append(f"{img.mode} image converted to RGB")
        img = img.convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.BICUBIC)
    arr = np.asarray(img, np.float32).transpose(2, 0, 1) / 255.0
    return ((arr - mean) / std).astype(np.float32), notes


def image_to_uint8(images: np.ndarray, mean: float, std: float) -> np.ndarray:
    """The inverse of ``decode_image``'s normalisation: (N, 3, H, W) float -> (N, H, W, 3) uint8,
    rounded, out-of-range values clipped (generated and reconstructed images overshoot)."""
    x = np.clip(np.asarray(images) * std + mean, 0.0, 1.0)
    return (x.transpose(0, 2, 3, 1) * 255 + 0.5).astype(np.uint8)


def _check_wav_complete(data: bytes) -> None:
    """libsndfile quietly reads what is left of a truncated WAV; compare its 'data' chunk's
    declared size with what the file holds."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return
    pos = 12
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if chunk == b"data":
            held = len(data) - pos - 8
            if size > held and size != 0xFFFFFFFF:  # 0xFFFFFFFF: streamed, size unknown
                raise DataError(f"truncated WAV: header declares {size} bytes of audio, "
                                f"the file holds {held}")
            return
        pos += 8 + size + (size & 1)


def decode_audio(data: bytes, sample_rate: int) -> tuple[np.ndarray, list[str]]:
    """Audio file bytes -> mono float32 waveform at ``sample_rate``, and the conversions applied."""
    import soundfile as sf
    notes = []
    if not data:
        raise DataError("empty audio file")
    _check_wav_complete(data)
    try:
        wave, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, ValueError) as e:
        raise DataError(f"corrupt or truncated audio ({e})") from None
    if wave.shape[0] == 0:
        raise DataError("audio has no samples")
    if wave.shape[1] > 1:
        notes.append(f"{wave.shape[1]}-channel audio mixed down to mono")
    wave = wave.mean(axis=1)
    if sr != sample_rate:
        import librosa
        wave = librosa.resample(wave, orig_sr=sr, target_sr=sample_rate, res_type="soxr_hq")
        notes.append(f"audio resampled from {sr} Hz to {sample_rate} Hz")
    if not np.isfinite(wave).all():
        raise DataError("audio holds NaN or infinite samples")
    if np.abs(wave).max() < SILENCE_PEAK:
        raise DataError("audio is silent")
    return wave.astype(np.float32), notes
