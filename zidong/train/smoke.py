"""One training step of the whole model on a synthetic batch: proves a config builds, compiles in
graph mode and trains on this machine. ``zidong pretrain`` supersedes it as the main job.

    python -m zidong.train.smoke --config small
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from zidong.config import load_config
from zidong.config.special_tokens import BOS_ID
from zidong.runtime import init_env


def synthetic_batch(m, batch_size: int, seed: int = 0):
    """Random inputs of the model's static shapes, with every modality subset represented."""
    rng = np.random.default_rng(seed)
    b, t, v, s = batch_size, m.text, m.vision, m.speech
    presence = np.array([[1, 1, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]] * b, np.float32)[:b]
    ids = rng.integers(5, t.vocab_size, (b, t.max_len)).astype(np.int32)
    images = rng.standard_normal((b, v.channels, v.image_size, v.image_size)).astype(np.float32)
    mel = rng.standard_normal((b, s.max_frames, s.n_mels)).astype(np.float32)
    ones_t = np.ones((b, t.max_len), np.float32)
    ones_s = np.ones((b, s.max_frames), np.float32)
    dec_in = np.concatenate([np.full((b, 1), BOS_ID, np.int32), ids[:, :-1]], 1)
    return (ids, ones_t, images, mel, ones_s, presence, dec_in)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="small")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    init_env(cfg.context)

    import mindspore as ms
    from mindspore import nn

    from zidong.models import create_model
    from zidong.objectives.losses import masked_cross_entropy, masked_l1
    from zidong.train.step import make_train_step

    model = create_model(cfg.model)
    model.set_train(True)
    n_params = sum(p.size for p in model.get_parameters())
    print(f"built {cfg.name}: {n_params:,} parameters")
    m = cfg.model
    k = m.image_tokenizer.codebook_size

    def loss_fn(ids, tmask, images, mel, smask, presence, dec_in):
        memory, mmask = model(ids, tmask, images, mel, smask, presence)[:2]
        text = masked_cross_entropy(model.text_decoder(dec_in, memory, mmask), ids, tmask)
        recon, codes, commit = model.image_tokenizer(images)
        vq = ((recon - images) ** 2).mean() + commit
        codes = ms.ops.stop_gradient(codes)
        code_in = ms.ops.concat((ms.ops.full((codes.shape[0], 1), k, dtype=ms.int32),
                                 codes[:, :-1]), 1)
        image = masked_cross_entropy(model.image_decoder(code_in, memory, mmask), codes,
                                     ms.ops.ones_like(codes).astype(ms.float32))
        lengths = smask.sum(1)
        pred, _ = model.speech_decoder(memory, mmask, lengths)
        speech = masked_l1(pred, mel, smask)
        return text + vq + image + speech

    opt = nn.AdamWeightDecay(model.trainable_params(), cfg.train.lr,
                             weight_decay=cfg.train.weight_decay)
    step = make_train_step(loss_fn, opt, clip_norm=1.0)
    batch = [ms.Tensor(x) for x in synthetic_batch(m, cfg.train.batch_size)]
    for i in range(max(cfg.train.max_steps, 2)):
        t0 = time.time()
        loss = float(step(*batch).asnumpy())
        what = "compile + step" if i == 0 else "step"
        print(f"step {i + 1}: loss {loss:.4f}  ({what} {time.time() - t0:.2f} s, "
              f"batch {cfg.train.batch_size})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
