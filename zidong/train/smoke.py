"""A training step of the whole model with the generation losses (text, VQ image codes, speech)
and the VQ reconstruction: proves a config builds, compiles in graph mode and trains on this
machine, and measures how fast the model consumes samples. ``zidong pretrain`` supersedes it as
the main job.

    python -m zidong.train.smoke --config small
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from zidong.config import load_config
from zidong.config.special_tokens import BOS_ID
from zidong.runtime import init_env

STEP_COLUMNS = ["text_ids", "text_mask", "image", "mel", "mel_mask", "presence", "dec_in",
                "dec_target", "dec_mask"]


def synthetic_batch(m, batch_size: int, seed: int = 0) -> dict:
    """Random inputs of the model's static shapes, with every modality subset represented."""
    rng = np.random.default_rng(seed)
    b, t, v, s = batch_size, m.text, m.vision, m.speech
    presence = np.array([[1, 1, 1], [1, 1, 0], [0, 1, 1], [1, 0, 1]] * b, np.float32)[:b]
    ids = rng.integers(5, t.vocab_size, (b, t.max_len)).astype(np.int32)
    return {"text_ids": ids, "text_mask": np.ones((b, t.max_len), np.float32),
            "image": rng.standard_normal((b, v.channels, v.image_size, v.image_size),
                                         dtype=np.float32),
            "mel": rng.standard_normal((b, s.max_frames, s.n_mels), dtype=np.float32),
            "mel_mask": np.ones((b, s.max_frames), np.float32), "presence": presence,
            "dec_in": np.concatenate([np.full((b, 1), BOS_ID, np.int32), ids[:, :-1]], 1),
            "dec_target": ids, "dec_mask": np.ones((b, t.max_len), np.float32)}


def build_step(cfg, model):
    """A compiled step over STEP_COLUMNS returning the summed loss."""
    import mindspore as ms
    from mindspore import nn, ops

    from zidong.objectives.losses import masked_cross_entropy, masked_l1
    from zidong.train.step import make_train_step
    k = cfg.model.image_tokenizer.codebook_size

    def loss_fn(ids, tmask, images, mel, smask, presence, dec_in, dec_target, dec_mask):
        memory, mmask = model(ids, tmask, images, mel, smask, presence)[:2]
        text = masked_cross_entropy(model.text_decoder(dec_in, memory, mmask), dec_target,
                                    dec_mask * presence[:, 0:1])
        recon, codes, commit = model.image_tokenizer(images)
        vq = ((recon - images) ** 2).mean() + commit
        codes = ops.stop_gradient(codes)
        code_in = ops.concat((ops.full((codes.shape[0], 1), k, dtype=ms.int32), codes[:, :-1]), 1)
        image_mask = ops.broadcast_to(presence[:, 1:2], codes.shape)
        image = masked_cross_entropy(model.image_decoder(code_in, memory, mmask), codes, image_mask)
        pred, _ = model.speech_decoder(memory, mmask, smask.sum(1))
        speech = masked_l1(pred, mel, smask * presence[:, 2:3])
        return text + vq + image + speech

    opt = nn.AdamWeightDecay(model.trainable_params(), cfg.train.lr,
                             weight_decay=cfg.train.weight_decay)
    return make_train_step(loss_fn, opt, clip_norm=1.0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="small")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--steps", type=int, default=2)
    args = ap.parse_args(argv)
    cfg = load_config(args.config, args.overrides)
    init_env(cfg.context)

    import mindspore as ms

    from zidong.models import create_model

    model = create_model(cfg.model)
    model.set_train(True)
    print(f"built {cfg.name}: {sum(p.size for p in model.get_parameters()):,} parameters")
    step = build_step(cfg, model)
    batch = synthetic_batch(cfg.model, cfg.train.batch_size)
    inputs = [ms.Tensor(batch[c]) for c in STEP_COLUMNS]
    for i in range(args.steps):
        t0 = time.time()
        loss = float(step(*inputs).asnumpy())
        what = "compile + step" if i == 0 else "step"
        print(f"step {i + 1}: loss {loss:.4f}  ({what} {time.time() - t0:.2f} s, "
              f"batch {cfg.train.batch_size})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
