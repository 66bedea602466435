"""One pretraining objective alone on a real mini-corpus batch: its loss and the size of its
gradients per parameter prefix (what tells which parts of the model it trains)."""
import numpy as np
import mindspore as ms
from mindspore import Tensor

from zidong.data.pipeline import DataPipeline
from zidong.data.tokenizer import tokenizer_for
from zidong.models import create_model
from zidong.train.pretrain_net import BATCH, OBJECTIVES, PretrainNet


def first_batch(cfg, corpus) -> dict:
    tok = tokenizer_for(corpus / "train.jsonl", cfg.model.text.vocab_size)
    return next(iter(DataPipeline(corpus / "train.jsonl", cfg, tok,
                                  cfg.train.batch_size).iterate(0)))


def objective_gradients(cfg, batch: dict, objective: str, prefixes: tuple) -> tuple:
    """(loss, {prefix: sum of |gradient| over the parameters under it}) of ``objective`` alone."""
    ms.set_seed(0)
    net = PretrainNet(create_model(cfg.model), cfg)
    net.set_train(False)
    only = Tensor((np.array(OBJECTIVES) == objective).astype(np.float32))

    def loss_fn(*args):
        return net(*args, only)[0]
    params = [p for p in net.trainable_params() if p.name.startswith(prefixes)]
    loss, grads = ms.value_and_grad(loss_fn, None, params)(*[Tensor(batch[c]) for c in BATCH])
    sums = dict.fromkeys(prefixes, 0.0)
    for p, g in zip(params, grads):
        sums[next(k for k in prefixes if p.name.startswith(k))] += float(np.abs(g.asnumpy()).sum())
    return float(loss.asnumpy()), sums
