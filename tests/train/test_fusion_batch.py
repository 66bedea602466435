"""``train.fusion_batch``: the first F rows of a batch take the whole step, every row feeds the
contrastive objective."""
import re

import numpy as np
import mindspore as ms
import pytest
from mindspore import Tensor

from zidong.config import load_config
from zidong.config.schema import ConfigError
from zidong.data.pipeline import DataPipeline
from zidong.data.tokenizer import tokenizer_for
from zidong.models import create_model
from zidong.train.pretrain_net import BATCH, OBJECTIVES, PretrainNet

COMMON = ["data.masking.hide_per_batch=2", "data.masking.match_negatives=2"]


def _losses(net, batch, rows):
    weights = Tensor(np.ones(len(OBJECTIVES), np.float32))
    out = net(*[Tensor(batch[c][:rows]) for c in BATCH], weights)[1:]
    return {k: float(v.asnumpy()) for k, v in zip(OBJECTIVES, out)}


def test_only_the_contrastive_objective_sees_the_rows_past_the_fusion_batch(mini_corpus):
    split = load_config("tiny", COMMON + ["train.batch_size=12", "train.fusion_batch=8"])
    whole = load_config("tiny", COMMON + ["train.batch_size=12"])
    first = load_config("tiny", COMMON + ["train.batch_size=8"])
    tok = tokenizer_for(mini_corpus / "train.jsonl", split.model.text.vocab_size)
    batch = next(iter(DataPipeline(mini_corpus / "train.jsonl", split, tok, 12).iterate(0)))
    ms.set_seed(0)
    nets = [PretrainNet(create_model(split.model), c) for c in (split, whole, first)]
    state = {p.name: p for p in nets[0].get_parameters()}
    for net in nets[1:]:
        ms.load_param_into_net(net, {k: ms.Parameter(v.data.copy(), k) for k, v in state.items()},
                               strict_load=True)
    for net in nets:
        net.set_train(False)
    got, on_all, on_first = (_losses(n, batch, r) for n, r in zip(nets, (12, 12, 8)))
    for name in OBJECTIVES:
        if name == "contrastive":
            assert got[name] == pytest.approx(on_all[name], abs=1e-5)
            assert abs(got[name] - on_first[name]) > 1e-3
        else:
            assert got[name] == pytest.approx(on_first[name], abs=1e-5), name
    assert got["mlm"] > 0 and got["matching"] > 0


@pytest.mark.parametrize("overrides,expected", [
    (["train.batch_size=8", "train.fusion_batch=9"], "train.fusion_batch: must be in [0, batch_size=8]"),
    (["train.batch_size=8", "train.fusion_batch=4", "train.clean_contrastive=false"],
     "train.fusion_batch: 4 < batch_size needs train.clean_contrastive"),
    (["train.batch_size=16", "train.fusion_batch=4"] + COMMON,
     "3 decoders x hide_per_batch + match_negatives = 8 exceeds the 4 fused rows"),
])
def test_a_fusion_batch_that_cannot_work_is_refused(overrides, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_config("tiny", overrides)
