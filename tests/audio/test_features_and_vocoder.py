import numpy as np
import pytest

from zidong.audio import LOG_MEL_FLOOR, log_mel
from zidong.config import load_config
from zidong.models.vocoder import VOCODERS, create_vocoder


def test_griffin_lim_vocoder_inverts_log_mel():
    sc = load_config("tiny").model.speech
    t = np.arange(int(0.8 * sc.sample_rate)) / sc.sample_rate
    wave = 0.5 * np.sin(2 * np.pi * 440 * t) * np.minimum(1, 4 * t)  # a tone with an onset
    mel = log_mel(wave, sc)
    assert mel.shape == (1 + len(wave) // sc.hop_length, sc.n_mels)
    assert mel.min() >= LOG_MEL_FLOOR
    voc = create_vocoder("griffin_lim", sc, n_iter=32)
    out = voc(mel)
    assert out.dtype == np.float32 and abs(len(out) - len(wave)) <= sc.hop_length
    again = log_mel(out, sc)
    n = min(len(again), len(mel))
    # the resynthesised sound has the same spectral envelope (which mel band carries the tone)
    assert (again[:n].argmax(1) == mel[:n].argmax(1)).mean() > 0.9
    np.testing.assert_array_equal(voc(mel), out)  # deterministic


def test_vocoder_registry_names_what_exists():
    assert "griffin_lim" in VOCODERS
    with pytest.raises(ValueError, match="unknown vocoder 'hifigan'; registered: \\['griffin_lim'"):
        create_vocoder("hifigan", load_config("tiny").model.speech)
