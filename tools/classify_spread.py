"""Why a from-scratch classifier cannot take a larger learning rate: train the network of
``zidong finetune --task classify`` (images only, head on the fused CLS) and watch whether its
representation stays different from one image to the next.

    .venv/bin/python tools/classify_spread.py --data runs/labels35/fmnist/train.jsonl \
        [--lr 5e-4] [--steps 60] [--zero-head] [--freeze model.vision_encoder.patch_embed]

Every ``--every`` steps it prints the loss, each module's gradient norm (before the clip at 1.0
that ``finetune`` applies), and the *spread* of three things over the batch: the stem's patch
features, the vision encoder's tokens and the fused CLS (the standard deviation of each sample's
deviation from the batch mean, per element). A spread that falls towards 0 while the loss stays
at ln(classes) is a collapse: every image gives the same CLS, and the head can only learn the
class prior. Same data order, warm-up + cosine, AdamW and weight decay as ``finetune``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="a manifest with 'label' fields")
    ap.add_argument("--config", default="small")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--every", type=int, default=10, help="print every N steps")
    ap.add_argument("--zero-head", action="store_true", help="start the head's weights at 0")
    ap.add_argument("--freeze", action="append", default=[],
                    help="a parameter-name prefix left out of the update (repeatable)")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args(argv)

    import mindspore as ms
    from mindspore import nn, ops

    from zidong.config import load_config
    from zidong.data.manifest import read_manifest
    from zidong.data.pipeline import DataPipeline
    from zidong.data.tokenizer import tokenizer_for
    from zidong.models import create_model
    from zidong.models.fusion import IMAGE
    from zidong.models.patches import patchify
    from zidong.runtime import init_env
    from zidong.tasks.classify import COLS, TRAINED, _build
    from zidong.train.schedule import WarmupCosine

    cfg = load_config(args.config, args.overrides)
    init_env(cfg.context)
    ms.set_seed(0)
    samples, _ = read_manifest(args.data)
    classes = max(s.label for s in samples if s.label is not None) + 1
    tokenizer = tokenizer_for(args.data, cfg.model.text.vocab_size, cfg.data.tokenizer or None)
    net = _build(create_model(cfg.model), cfg, classes, ("image",))
    if args.zero_head:
        net.head.weight.set_data(ms.Tensor(np.zeros(net.head.weight.shape, np.float32)))
    params = [p for p in net.trainable_params() if p.name.startswith(TRAINED)
              and not any(p.name.startswith(f) for f in args.freeze)]
    modules = {}
    for i, p in enumerate(params):
        modules.setdefault("head" if p.name.startswith("head") else p.name.split(".")[1], []).append(i)
    names = list(modules)
    opt = nn.AdamWeightDecay(params, learning_rate=WarmupCosine(args.lr, max(args.steps // 10, 1),
                                                                args.steps), weight_decay=0.01)
    grad_fn = ms.value_and_grad(net, None, opt.parameters)

    @ms.jit
    def step(*batch):
        loss, grads = grad_fn(*batch)
        norms = ops.stack([ops.sqrt(sum((grads[i] ** 2).sum() for i in modules[k]))
                           for k in names])
        opt(ops.clip_by_global_norm(grads, 1.0))
        return loss, norms

    def spread(x):   # each sample's deviation from the batch mean, per element
        return (x - x.mean(0, keep_dims=True)).std()

    patch = cfg.model.vision.patch_size
    stem_reads_patches = not getattr(net.model.vision_encoder.patch_embed, "mixes_patches", False)

    @ms.jit
    def spreads(image, presence):
        enc = net.model.vision_encoder
        stem = enc.patch_embed(patchify(image, patch) if stem_reads_patches else image)
        tokens, mask, _ = enc(image)
        cls = net.model.fusion.fuse(((IMAGE, tokens, mask),), presence * net.want)[0][:, 0]
        return ops.stack([spread(stem), spread(tokens), spread(cls)])

    pipe = DataPipeline(args.data, cfg, tokenizer, min(args.batch, len(samples)), seed=0,
                        masking=False)
    n, epoch, losses, t0, rows = 0, 0, [], time.time(), []
    while n < args.steps:
        for b in pipe.iterate(epoch):
            batch = [ms.Tensor(b[c]) for c in COLS] + [ms.Tensor(b["label"].astype(np.int32))]
            loss, norms = step(*batch)
            losses.append(float(loss.asnumpy()))
            n += 1
            if n == 1 or n % args.every == 0 or n == args.steps:
                s = spreads(batch[COLS.index("image")], batch[COLS.index("presence")]).asnumpy()
                row = {"step": n, "loss": round(float(np.mean(losses[-args.every:])), 4),
                       "grad": {k: round(float(v), 4) for k, v in zip(names, norms.asnumpy())},
                       "spread": {"stem": round(float(s[0]), 4), "tokens": round(float(s[1]), 4),
                                  "fused_cls": round(float(s[2]), 4)},
                       "seconds": round(time.time() - t0)}
                rows.append(row)
                print(json.dumps(row), flush=True)
            if n >= args.steps:
                break
        epoch += 1
    print(json.dumps({"lr": args.lr, "steps": n, "zero_head": args.zero_head,
                      "frozen": args.freeze, "ln_classes": round(float(np.log(classes)), 4),
                      "final": rows[-1]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
