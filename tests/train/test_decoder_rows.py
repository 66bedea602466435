"""A disabled decoder gets no rows of the batch: the enabled decoders' slices move up."""
import numpy as np
import mindspore as ms
import pytest
from mindspore import Tensor

from zidong.config import load_config
from zidong.data.pipeline import DataPipeline
from zidong.data.tokenizer import tokenizer_for
from zidong.models import create_model
from zidong.train.pretrain_net import BATCH, OBJECTIVES, PretrainNet

COMMON = ["data.masking.hide_per_batch=4", "data.masking.match_negatives=0"]


def _losses(net, batch):
    weights = Tensor(np.ones(len(OBJECTIVES), np.float32))
    out = net(*[Tensor(batch[c]) for c in BATCH], weights)[1:]
    return {k: float(v.asnumpy()) for k, v in zip(OBJECTIVES, out)}


def test_without_image_generation_speech_generation_takes_the_image_slice(mini_corpus):
    # text and speech decoders only: rows 0-3 hide text, 4-7 speech
    two = load_config("tiny", COMMON + ["train.batch_size=8", "train.objectives.image_gen=0"])
    three = load_config("tiny", COMMON + ["train.batch_size=12"])
    tok = tokenizer_for(mini_corpus / "train.jsonl", two.model.text.vocab_size)
    batch = next(iter(DataPipeline(mini_corpus / "train.jsonl", two, tok, 8).iterate(0)))
    assert batch["hidden"][:4, 0].sum() > 0 and batch["hidden"][4:8, 2].sum() > 0
    # the same rows laid out for three decoders (the image slice repeats the text rows)
    order = np.r_[0:4, 0:4, 4:8]
    laid_out = {c: batch[c][order] for c in BATCH}
    ms.set_seed(0)
    nets = [PretrainNet(create_model(c.model), c) for c in (two, three)]
    state = {p.name: p for p in nets[0].get_parameters()}
    ms.load_param_into_net(nets[1], {k: ms.Parameter(v.data.copy(), k) for k, v in state.items()},
                           strict_load=True)
    for net in nets:
        net.set_train(False)
    got, ref = _losses(nets[0], batch), _losses(nets[1], laid_out)
    assert got["image_gen"] == 0.0 and got["speech_gen"] > 0 and got["text_gen"] > 0
    for name in ("text_gen", "speech_gen"):
        assert got[name] == pytest.approx(ref[name], abs=1e-5), name
