"""Question-answer samples (``meta.answer``, as ``zidong data vqa`` writes them) in a pretraining
or fine-tuning batch: the question stays visible, the text decoder learns the answer, and the
sample level leaves them out (a question is not a caption of its image)."""
import numpy as np
import pytest
from mindspore import Tensor

from zidong.config import load_config
from zidong.data.corpus.vqa import make_vqa_manifest
from zidong.data.pipeline import DataPipeline
from zidong.data.tokenizer import tokenizer_for
from zidong.models import create_model
from zidong.train.pretrain_net import BATCH, OBJECTIVES, PretrainNet


@pytest.fixture(scope="module")
def vqa_batch(mini_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("vqa") / "vqa.jsonl"
    make_vqa_manifest(mini_corpus / "train.jsonl", out, 1, 0, None)
    cfg = load_config("tiny", ["train.batch_size=9", "data.masking.hide_per_batch=3",
                               "data.masking.match_negatives=0"])
    tok = tokenizer_for(mini_corpus / "train.jsonl", cfg.model.text.vocab_size)
    batch = next(iter(DataPipeline(out, cfg, tok, 9).iterate(0)))
    return cfg, tok, batch, out


def test_the_answer_is_the_decoder_target_and_nothing_is_hidden(vqa_batch):
    from zidong.data.manifest import read_manifest
    cfg, tok, b, out = vqa_batch
    samples = read_manifest(out)[0]
    assert (b["answer"] == 1).all() and (b["hidden"] == 0).all()
    for i, index in enumerate(b["index"]):
        s = samples[int(index)]
        assert b["dec_in"][i][0] == tok.start_id(s.lang)
        n = int(b["dec_mask"][i].sum())
        assert tok.decode(b["dec_target"][i][:n - 1]) == tok.decode(tok.encode(s.meta["answer"]))
        question = tok.encode(s.text)[:cfg.model.text.max_len - 1]     # tiny truncates
        assert tok.decode(b["text_ids"][i]) == tok.decode(question)


def test_answers_train_the_text_decoder_and_skip_the_sample_level(vqa_batch):
    cfg, _, b, _ = vqa_batch
    net = PretrainNet(create_model(cfg.model), cfg)
    net.set_train(False)
    weights = Tensor(np.ones(len(OBJECTIVES), np.float32))
    losses = dict(zip(OBJECTIVES, net(*[Tensor(b[c]) for c in BATCH], weights)[1:]))
    assert float(losses["text_gen"].asnumpy()) > 0
    for name in ("contrastive", "matching", "image_gen", "speech_gen"):
        assert float(losses[name].asnumpy()) == 0, name
    plain = {**b, "answer": np.zeros_like(b["answer"])}   # the same samples without answers
    losses = dict(zip(OBJECTIVES, net(*[Tensor(plain[c]) for c in BATCH], weights)[1:]))
    assert float(losses["text_gen"].asnumpy()) == 0        # no text is hidden: nothing to learn
    assert float(losses["contrastive"].asnumpy()) > 0


def test_a_spoken_question_is_heard_not_read(mini_corpus, tmp_path):
    out = tmp_path / "spoken.jsonl"
    make_vqa_manifest(mini_corpus / "train.jsonl", out, 1, 0, None, spoken=True, workers=2)
    cfg = load_config("tiny", ["train.batch_size=9", "data.masking.hide_per_batch=3",
                               "data.masking.match_negatives=0"])
    tok = tokenizer_for(mini_corpus / "train.jsonl", cfg.model.text.vocab_size)
    b = next(iter(DataPipeline(out, cfg, tok, 9).iterate(0)))
    assert (b["answer"] == 1).all() and (b["hidden"] == 0).all()
    # the fusion gets the image and the speech; the decoder still learns the answer
    assert (b["presence"] == np.array([0, 1, 1], np.float32)).all()
    assert (b["text_mask"] == 0).all() and (b["mel_mask"].sum(1) > 0).all()
    assert (b["dec_mask"].sum(1) >= 2).all()          # the answer's tokens and EOS
