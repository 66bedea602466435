"""``train.freeze``: the named components keep their weights, the rest trains. ``train.reinit``:
the named components start fresh when a run continues another."""
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


def test_reinit_starts_the_named_component_fresh_and_loads_the_rest(tiny_run, mini_corpus,
                                                                    tmp_path):
    from zidong.eval.load import resolve_checkpoint
    from zidong.train.checkpoint import load_state
    trained = load_state(resolve_checkpoint(tiny_run[0]))[0]
    cfg = load_config("tiny", TINY_RUN + ["train.reinit=speech_decoder", "context.seed=7"])
    tok = tokenizer_for(mini_corpus / "train.jsonl", cfg.model.text.vocab_size)
    trainer = Trainer(cfg, tmp_path, mini_corpus / "train.jsonl", tok, log=lambda *a: None)

    def snapshot():
        return {p.name: p.asnumpy().copy() for p in trainer.net.get_parameters()}
    own = snapshot()
    trainer.init_from(tiny_run[0])
    now = snapshot()
    decoder = [k for k in now if k.startswith("model.speech_decoder.")]
    assert decoder and all(np.array_equal(now[k], own[k]) for k in decoder)
    # its own initial values, not the run's (which trained, from another seed)
    assert any(not np.array_equal(now[k], trained[k]) for k in decoder)
    rest = [k for k in now if k.startswith("model.") and k not in decoder]
    assert rest and all(np.array_equal(now[k], trained[k]) for k in rest)


def test_a_run_continuing_one_that_reinitialised_does_not_inherit_it(tiny_run, monkeypatch):
    import zidong.train.checkpoint as checkpoint
    from zidong.train.pretrain import _from_run
    real = checkpoint.load_state

    def with_reinit(path):
        params, meta, blobs = real(path)
        meta = {**meta, "config": {**meta["config"], "train": {**meta["config"]["train"],
                                                               "reinit": "speech_decoder"}}}
        return params, meta, blobs
    monkeypatch.setattr(checkpoint, "load_state", with_reinit)
    cfg = _from_run(tiny_run[0], [], None, lambda *a: None)[0]
    assert cfg.train.fresh == ()
    cfg = _from_run(tiny_run[0], ["train.reinit=fusion"], None, lambda *a: None)[0]
    assert cfg.train.fresh == ("fusion",)


def test_a_component_both_frozen_and_reinitialised_is_refused():
    with pytest.raises(ConfigError, match=re.escape("train.reinit: ['fusion'] also in "
                                                    "train.freeze")):
        load_config("tiny", ["train.freeze=fusion", "train.reinit=fusion,speech_decoder"])
    with pytest.raises(ConfigError, match=re.escape("train.reinit: unknown component(s) "
                                                    "['speech']")):
        load_config("tiny", ["train.reinit=speech"])


def test_batchnorm_statistics_train_with_their_component_and_stay_when_it_is_frozen(
        mini_corpus, tmp_path):
    # the conv stem's BatchNorm updates its moving statistics inside the compiled training step;
    # a frozen vision encoder keeps them, as it keeps its weights
    # (and re-estimates them on clean images at the end of the run, unless frozen)
    def moving_means(freeze, out):
        extra = ["train.freeze=vision_encoder"] if freeze else []
        cfg = load_config("tiny", TINY_RUN + ["train.max_steps=2", "train.ckpt_every=100",
                                              "train.bn_recalibrate=3",
                                              "model.vision.stem=conv"] + extra)
        tok = tokenizer_for(mini_corpus / "train.jsonl", cfg.model.text.vocab_size)
        logs = []
        trainer = Trainer(cfg, out, mini_corpus / "train.jsonl", tok, log=logs.append)
        trainer.fit()
        return [p.asnumpy() for p in trainer.model.vision_encoder.get_parameters()
                if p.name.endswith("moving_mean")], logs

    trained, logs = moving_means(False, tmp_path / "trained")
    assert trained and all(np.abs(m).max() > 1e-4 for m in trained)
    assert "BatchNorm statistics of 3 layer(s) re-estimated on 3 clean batches of 8 images" in logs
    frozen, logs = moving_means(True, tmp_path / "frozen")
    assert frozen and all(np.abs(m).max() == 0.0 for m in frozen)
    assert not any("re-estimated" in line for line in logs)
