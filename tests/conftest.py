import os

os.environ.setdefault("GLOG_v", "3")  # MindSpore: errors only

import numpy as np
import pytest

from zidong.config import load_config
from zidong.runtime import init_env


@pytest.fixture(scope="session", autouse=True)
def graph_mode_cpu():
    init_env(load_config("tiny").context)


@pytest.fixture(scope="session")
def mini_corpus(tmp_path_factory):
    """A real built-in corpus, tiny: 48 training scenes with speech, 20 per evaluation split."""
    from zidong.data.corpus.build import build_corpus
    out = tmp_path_factory.mktemp("corpus")
    build_corpus(out, size=48, eval_size=20, photo_size=5, progress=False, workers=1)
    return out


# a short tiny-preset pretraining: small batches, frequent logs and checkpoints, a 4-step VQ stage
TINY_RUN = ["train.batch_size=8", "train.log_every=2", "train.ckpt_every=3", "train.keep_last=2",
            "train.vq.steps=4", "train.vq.batch_size=8", "train.warmup_steps=2"]


@pytest.fixture(scope="session")
def tiny_run(mini_corpus, tmp_path_factory):
    """(run folder, result) of 6 steps of tiny pretraining on the mini corpus, shared by the
    pretraining, evaluation and task tests (one compilation instead of one per module)."""
    from zidong.train.pretrain import run_pretrain
    run = tmp_path_factory.mktemp("straight") / "run"
    result = run_pretrain("tiny", TINY_RUN + ["train.max_steps=6"],
                          str(mini_corpus / "train.jsonl"), run_dir=str(run))
    return run, result


@pytest.fixture
def tiny():
    return load_config("tiny")


def make_batch(model_cfg, presence, seed=0, text_len=None, frames=None):
    """A random batch in the model's input format; ``presence`` is (B, 3) text/image/speech."""
    import mindspore as ms
    rng = np.random.default_rng(seed)
    presence = np.asarray(presence, np.float32)
    b = presence.shape[0]
    t, v, s = model_cfg.text, model_cfg.vision, model_cfg.speech
    text_len = t.max_len if text_len is None else text_len
    frames = s.max_frames if frames is None else frames
    ids = rng.integers(5, t.vocab_size, (b, t.max_len)).astype(np.int32)
    text_mask = np.zeros((b, t.max_len), np.float32)
    text_mask[:, :text_len] = 1
    ids[text_mask == 0] = 0
    images = rng.standard_normal((b, v.channels, v.image_size, v.image_size)).astype(np.float32)
    mel = rng.standard_normal((b, s.max_frames, s.n_mels)).astype(np.float32)
    mel_mask = np.zeros((b, s.max_frames), np.float32)
    mel_mask[:, :frames] = 1
    return tuple(ms.Tensor(x) for x in (ids, text_mask, images, mel, mel_mask, presence))
