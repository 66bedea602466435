"""``train.freeze``: the named components keep their weights, the rest trains."""
import re

import numpy as np
import pytest

from tests.conftest import TINY_RUN
from zidong.config import load_config
from zidong.config.schema import ConfigError
from zidong.data.tokenizer import tokenizer_for
from zidong.train.trainer import Trainer


def test_frozen_components_keep_their_weights_and_the_rest_trains(mini_corpus, tmp_path):
    cfg = load_config("tiny", TINY_RUN + ["train.max_steps=2", "train.ckpt_every=100",
                                          "train.freeze=vision_encoder, fusion"])
    tok = tokenizer_for(mini_corpus / "train.jsonl", cfg.model.text.vocab_size)
    trainer = Trainer(cfg, tmp_path, mini_corpus / "train.jsonl", tok, log=lambda *a: None)
    # names as the training net sees them ("model." + the component's own name)
    before = {p.name.removeprefix("model."): p.asnumpy().copy()
              for p in trainer.model.get_parameters()}
    trainer.fit()
    after = {p.name.removeprefix("model."): p.asnumpy() for p in trainer.model.get_parameters()}

    def changed(prefix):
        return [k for k in before if k.startswith(prefix)
                and not np.array_equal(before[k], after[k])]

    assert changed("vision_encoder.") == [] and changed("fusion.") == []
    assert changed("text_encoder.") and changed("text_decoder.") and changed("speech_encoder.")


def test_an_unknown_component_to_freeze_is_refused():
    with pytest.raises(ConfigError, match=re.escape("train.freeze: unknown component(s) "
                                                    "['vision']; known: text_encoder")):
        load_config("tiny", ["train.freeze=vision,fusion"])
