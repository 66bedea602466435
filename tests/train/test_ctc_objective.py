"""``train.objectives.ctc``: off by default (not in the graph), and when on it trains the speech
encoder from the sample's own transcript."""
import numpy as np
import mindspore as ms
from mindspore import Tensor

from zidong.config import load_config
from zidong.data.pipeline import DataPipeline
from zidong.data.tokenizer import tokenizer_for
from zidong.models import create_model
from zidong.train.pretrain_net import BATCH, OBJECTIVES, PretrainNet

COMMON = ["data.masking.hide_per_batch=2", "data.masking.match_negatives=2", "train.batch_size=8"]


def test_ctc_is_off_by_default_and_trains_the_speech_encoder_when_on(mini_corpus):
    off = load_config("tiny", COMMON)
    on = load_config("tiny", COMMON + ["train.objectives.ctc=1"])
    assert off.train.objectives.ctc == 0
    tok = tokenizer_for(mini_corpus / "train.jsonl", on.model.text.vocab_size)
    batch = next(iter(DataPipeline(mini_corpus / "train.jsonl", on, tok, 8).iterate(0)))
    pairs = batch["presence"][:, 0] * batch["presence"][:, 2] * (1 - batch["answer"])
    assert pairs.sum() >= 2, "the mini corpus batch needs rows with speech and text"
    inputs = [Tensor(batch[c]) for c in BATCH]
    ms.set_seed(0)
    net = PretrainNet(create_model(on.model), on)
    net.set_train(False)
    only_ctc = Tensor((np.array(OBJECTIVES) == "ctc").astype(np.float32))

    def loss_fn(*args):
        return net(*args, only_ctc)[0]
    params = [p for p in net.trainable_params()
              if p.name.startswith(("model.speech_encoder.", "model.text_encoder.", "ctc."))]
    loss, grads = ms.value_and_grad(loss_fn, None, params)(*inputs)
    norms = {p.name: float(np.abs(g.asnumpy()).sum()) for p, g in zip(params, grads)}
    # CTC per transcript token: well above 0 at the start, finite
    assert np.isfinite(float(loss.asnumpy())) and float(loss.asnumpy()) > 1.0
    assert sum(v for k, v in norms.items() if k.startswith("model.speech_encoder.")) > 0
    assert sum(v for k, v in norms.items() if k.startswith("ctc.")) > 0
    # the transcript is a target, not an input: the text encoder gets nothing from CTC
    assert sum(v for k, v in norms.items() if k.startswith("model.text_encoder.")) == 0

    net_off = PretrainNet(create_model(off.model), off)
    net_off.set_train(False)
    losses = net_off(*inputs, Tensor(np.ones(len(OBJECTIVES), np.float32)))
    assert float(losses[1 + OBJECTIVES.index("ctc")].asnumpy()) == 0.0
