"""The contrastive temperature is capped CLIP's way: clamped after each update, so its gradient
(the contrastive objective's own gradient norm, which tells a dead objective) is not zeroed by the
cap."""
import math

import mindspore as ms
import numpy as np

from tests.conftest import TINY_RUN
from zidong.config import load_config
from zidong.data.tokenizer import tokenizer_for
from zidong.objectives.contrastive import MAX_LOGIT_SCALE
from zidong.train.trainer import Trainer


def test_the_temperature_is_clamped_after_the_update_and_its_gradient_stays(mini_corpus,
                                                                            tmp_path):
    cfg = load_config("tiny", TINY_RUN + ["train.max_steps=2", "train.ckpt_every=100"])
    tok = tokenizer_for(mini_corpus / "train.jsonl", cfg.model.text.vocab_size)
    trainer = Trainer(cfg, tmp_path, mini_corpus / "train.jsonl", tok, log=lambda *a: None)
    cap = math.log(MAX_LOGIT_SCALE)
    # above the cap: an update moves it by about lr x temperature_lr_scale (3e-3), not by 0.5
    trainer.contrastive.logit_scale.set_data(ms.Tensor([cap + 0.5], ms.float32))
    summary = trainer.fit()
    assert float(trainer.contrastive.logit_scale.asnumpy()[0]) <= cap + 1e-6
    # a minimum in the loss would give the temperature no gradient at all above the cap
    assert summary["min_grad_norm"]["contrastive"] > 0
    assert np.isfinite(summary["min_grad_norm"]["contrastive"])
