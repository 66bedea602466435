"""Precise BatchNorm statistics (zidong/train/batchnorm.py): the vision encoder's moving
statistics become those of the images it is recalibrated on, whatever they were before."""
import numpy as np
import pytest

from zidong.config import load_config
from zidong.models.vision_encoder import VisionEncoder
from zidong.train.batchnorm import batchnorm_cells, clean_image_batches, recalibrate


def test_recalibration_replaces_stale_statistics_with_those_of_the_images():
    cfg = load_config("tiny", ["model.vision.stem=conv"]).model
    enc = VisionEncoder(cfg.vision, cfg.unified_dim)
    first = batchnorm_cells(enc)[0]
    first.moving_mean.set_data(first.moving_mean.value() + 5.0)      # stale, far off
    rng = np.random.default_rng(0)

    def batches():
        while True:
            yield rng.normal(0.5, 2.0, (16, 3, 32, 32)).astype(np.float32)

    assert recalibrate(enc, batches(), 60) == len(batchnorm_cells(enc)) == 3
    assert not enc.training                       # the mode it had before
    conv = enc.patch_embed.layers[0].conv
    import mindspore as ms
    out = conv(ms.Tensor(next(batches()))).asnumpy()
    np.testing.assert_allclose(first.moving_mean.asnumpy(), out.mean((0, 2, 3)), atol=0.05)
    np.testing.assert_allclose(first.moving_variance.asnumpy(), out.var((0, 2, 3)), rtol=0.1)


def test_nothing_runs_without_batchnorm_or_batches():
    cfg = load_config("tiny", ["model.vision.stem=hmlp"]).model
    assert recalibrate(VisionEncoder(cfg.vision, cfg.unified_dim), iter(()), 50) == 0


def test_clean_batches_hold_only_samples_with_an_image():
    class Pipe:
        def iterate(self, epoch):
            presence = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1]], np.int32)
            image = np.arange(3, dtype=np.float32).reshape(3, 1, 1, 1) + 10 * epoch
            yield {"image": image, "presence": presence}

    got = clean_image_batches(Pipe(), rows=3)
    first, second = next(got), next(got)
    assert first.ravel().tolist() == [0, 2, 10] and second.ravel().tolist() == [12, 20, 22]


def test_a_negative_count_is_refused():
    from zidong.config.schema import ConfigError
    with pytest.raises(ConfigError, match=r"train.bn_recalibrate: must be >= 0 \(0: off\), got -1"):
        load_config("tiny", ["train.bn_recalibrate=-1"])
