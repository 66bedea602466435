"""``train.objectives.ctc``: off by default (not in the graph), and when on it trains the speech
encoder from the sample's own transcript."""
import numpy as np
from mindspore import Tensor

from tests.objective_grads import first_batch, objective_gradients
from zidong.config import load_config
from zidong.models import create_model
from zidong.train.pretrain_net import BATCH, OBJECTIVES, PretrainNet

COMMON = ["data.masking.hide_per_batch=2", "data.masking.match_negatives=2", "train.batch_size=8"]


def test_ctc_is_off_by_default_and_trains_the_speech_encoder_when_on(mini_corpus):
    off = load_config("tiny", COMMON)
    on = load_config("tiny", COMMON + ["train.objectives.ctc=1"])
    assert off.train.objectives.ctc == 0
    batch = first_batch(on, mini_corpus)
    pairs = batch["presence"][:, 0] * batch["presence"][:, 2] * (1 - batch["answer"])
    assert pairs.sum() >= 2, "the mini corpus batch needs rows with speech and text"
    loss, norms = objective_gradients(on, batch, "ctc", ("model.speech_encoder.",
                                                         "model.text_encoder.", "ctc."))
    # CTC per transcript token: well above 0 at the start, finite
    assert np.isfinite(loss) and loss > 1.0
    assert norms["model.speech_encoder."] > 0 and norms["ctc."] > 0
    # the transcript is a target, not an input: the text encoder gets nothing from CTC
    assert norms["model.text_encoder."] == 0

    net_off = PretrainNet(create_model(off.model), off)
    net_off.set_train(False)
    inputs = [Tensor(batch[c]) for c in BATCH]
    losses = net_off(*inputs, Tensor(np.ones(len(OBJECTIVES), np.float32)))
    assert float(losses[1 + OBJECTIVES.index("ctc")].asnumpy()) == 0.0
