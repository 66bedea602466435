"""Loading a VQ-stage checkpoint into a tokenizer (``vq_stage.load_vq_weights``): the pretraining
trainer and tools/vq_held_out.py share it."""
import numpy as np
import mindspore as ms
import pytest

from zidong.config import load_config
from zidong.models.image_tokenizer import ImageTokenizer
from zidong.train.checkpoint import save_state
from zidong.train.vq_stage import load_vq_weights


def _tokenizer(overrides=()):
    cfg = load_config("tiny", list(overrides))
    return ImageTokenizer(cfg.model.image_tokenizer, cfg.model.vision.image_size,
                          cfg.model.vision.channels)


def _save(tok, path, prefix="image_tokenizer."):
    params = [ms.Parameter(p.data.copy(), prefix + p.name) for p in tok.get_parameters()]
    return save_state(path, params, {"step": 1}, {})


def test_weights_load_frozen_and_bad_files_name_themselves(tmp_path):
    ms.set_seed(0)
    trained = _tokenizer()
    path = _save(trained, tmp_path / "vq.safetensors")
    ms.set_seed(1)
    fresh = _tokenizer()
    load_vq_weights(fresh, path, prefixed=False)
    for a, b in zip(trained.get_parameters(), fresh.get_parameters()):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy())
        assert not b.requires_grad
    other = _save(trained, tmp_path / "other.safetensors", prefix="model.")
    with pytest.raises(ValueError, match=r"other\.safetensors: no image_tokenizer"):
        load_vq_weights(_tokenizer(), other, prefixed=False)
    with pytest.raises(ValueError, match=r"vq\.safetensors: .*shape"):
        load_vq_weights(_tokenizer(["model.image_tokenizer.codebook_size=32"]), path,
                        prefixed=False)
