"""Audio features shared by the data pipeline (analysis) and the vocoders (synthesis)."""
from .features import (LOG_MEL_FLOOR, denormalize_log_mel, log_mel, mel_to_audio,
                       normalize_log_mel)

__all__ = ["LOG_MEL_FLOOR", "denormalize_log_mel", "log_mel", "mel_to_audio", "normalize_log_mel"]
