"""Audio features shared by the data pipeline (analysis) and the vocoders (synthesis)."""
from .features import LOG_MEL_FLOOR, log_mel, mel_to_audio

__all__ = ["LOG_MEL_FLOOR", "log_mel", "mel_to_audio"]
