"""Can the vision encoder learn to see shapes at all? Train it supervised on the nine scene
attributes the image scorer reads (two groups' count, size, colour and shape, and the relation),
on fresh clean renders, and score it on held-out renders. The pretraining teaches the encoder
only what its objectives ask for; this asks directly, so a stem or patch layout that cannot
represent an attribute shows here in minutes (docs/architecture.md, "Shapes, asked directly").

    .venv/bin/python tools/probe_vision_supervised.py [--minutes 6] [--batch 64]
        [--set model.vision.stem=conv] [--test 1000]

Heads on the encoder's tokens in the unified space (mean and max over the real positions, then
one Linear per attribute); AdamW, linear warm-up then cosine over the time budget. Prints one JSON
line: steps, seconds, held-out accuracy per attribute and their mean (and, with
``--shape-presence``, how often the predicted set of shapes in the scene is exactly right: that
needs no binding of a shape to group A or B, which the per-group heads do). ``--cells`` adds
the image scorer's dense targets: every patch token learns the colour, shape and group of what
covers its cell (an 8 x 8 patch grid only). ``--head flat`` reads the patch tokens where they
are instead of pooling them: each token projected to 32 values, the grid flattened in raster
order, then a 256-wide hidden layer, as the image scorer's head reads its grid. Pooling drops
where a token sits, which the relation and the group a / b binding need; the decoders, which
attend over every token, do not lose it.
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
    ap.add_argument("--config", default="small")
    ap.add_argument("--minutes", type=float, default=6.0, help="training budget")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--test", type=int, default=1000, help="held-out renders scored")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shape-presence", action="store_true",
                    help="also learn which shapes the scene holds (six yes/no outputs, no group "
                         "to bind them to) and report how often the whole set is right")
    ap.add_argument("--cells", action="store_true",
                    help="also train every patch token on what covers its cell (colour, shape, "
                         "group; the image scorer's dense targets): do dense local labels teach "
                         "the ViT shapes faster than nine labels per image?")
    ap.add_argument("--head", choices=("pool", "flat"), default="pool",
                    help="pool: mean and max over the tokens; flat: every patch token in place "
                         "(32 values each) -> 256 hidden -> the heads")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    help="a config override, e.g. model.vision.stem=conv (repeatable)")
    args = ap.parse_args(argv)

    import mindspore as ms
    from mindspore import nn, ops

    from zidong.config.loader import load_config
    from zidong.eval.image_scorer import ATTRIBUTES, CELL_GRID, CELL_HEADS, HEADS
    from zidong.eval.scorer_data import HELDOUT_TAG, BatchStream
    from zidong.models.layers import Linear
    from zidong.models.vision_encoder import VisionEncoder
    from zidong.runtime import init_env

    SIZES = [len(h) for h in HEADS]
    cfg = load_config(args.config, args.overrides)
    init_env(cfg.context)
    ms.set_seed(args.seed)
    mean, std = cfg.data.image_mean, cfg.data.image_std

    class Probe(nn.Cell):
        def __init__(self):
            super().__init__()
            self.enc = VisionEncoder(cfg.model.vision, cfg.model.unified_dim)
            out = sum(SIZES) + n_shapes
            if flat:
                self.squeeze = Linear(cfg.model.unified_dim, 32)
                self.hidden = Linear(32 * grid * grid, 256)
                self.act = nn.GELU()
                self.head = Linear(256, out)
            else:
                self.head = Linear(2 * cfg.model.unified_dim, out)
            self.cell_head = Linear(cfg.model.unified_dim, sum(CELL_HEADS))

        def read(self, tokens):
            if flat:   # the patch tokens (after the CLS) where they are, in raster order
                cells = self.squeeze(tokens[:, 1:])
                return self.head(self.act(self.hidden(cells.reshape(cells.shape[0], -1))))
            return self.head(ops.concat((tokens.mean(1), tokens.max(1)), 1))

        def construct(self, x):
            return self.read(self.enc(x)[0])

        def with_cells(self, x):
            tokens = self.enc(x)[0]
            # the patch tokens (after the CLS) in raster order: one per cell of the grid
            return self.read(tokens), self.cell_head(tokens[:, 1:])

    shape_cols = [ATTRIBUTES.index("a.shape"), ATTRIBUTES.index("b.shape")]
    n_shapes = len(HEADS[shape_cols[0]]) if args.shape_presence else 0
    flat = args.head == "flat"
    grid = cfg.model.vision.image_size // cfg.model.vision.patch_size
    net = Probe()
    edges = np.cumsum([0, *SIZES]).tolist()
    ce = nn.CrossEntropyLoss()
    bce = nn.BCEWithLogitsLoss()

    cell_edges = np.cumsum([0, *CELL_HEADS]).tolist()
    use_cells = bool(args.cells)
    if use_cells and grid != CELL_GRID:
        raise SystemExit(f"--cells needs a {CELL_GRID} x {CELL_GRID} patch grid (the scorer's "
                         f"cells); model.vision gives {grid} x {grid}")

    def loss_fn(x, y, present, cells):
        # both outputs always (graph mode wants every variable defined on every branch); the
        # cell head is unused, and untrained, without --cells
        logits, cell_logits = net.with_cells(x)
        loss = sum(ce(logits[:, edges[j]:edges[j + 1]], y[:, j]) for j in range(len(SIZES)))
        if n_shapes:
            loss = loss + n_shapes * bce(logits[:, edges[-1]:], present)
        if use_cells:   # every cell's colour, shape and group, weighted as the scorer does
            flat = cell_logits.reshape(-1, cell_logits.shape[-1])
            target = cells.reshape(-1, len(CELL_HEADS))
            loss = loss + sum(ce(flat[:, cell_edges[j]:cell_edges[j + 1]], target[:, j])
                              for j in range(len(CELL_HEADS)))
        return loss

    def presence(labels):
        out = np.zeros((len(labels), max(n_shapes, 1)), np.float32)
        for col in shape_cols if n_shapes else ():   # a dummy column, unread, without them
            out[np.arange(len(labels)), labels[:, col]] = 1.0
        return out

    opt = nn.AdamWeightDecay(net.trainable_params(), learning_rate=args.lr, weight_decay=0.01)
    grad = ms.value_and_grad(loss_fn, None, opt.parameters)

    @ms.jit
    def step(x, y, present, cells):
        loss, grads = grad(x, y, present, cells)
        opt(grads)
        return loss

    size = cfg.model.vision.image_size

    def prepare(images):
        if images.shape[1] != size:   # renders come at the scorer's size; resized as media does
            from PIL import Image
            images = np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BICUBIC))
                               for im in images])
        x = images.astype(np.float32).transpose(0, 3, 1, 2) / 255.0
        return ms.Tensor(((x - mean) / std).astype(np.float32))

    # both graphs compile now: MindSpore parses the Cells' source when it compiles, so a source
    # file edited during a long run would break a compilation left to its end. A jit graph keeps
    # the training mode it was compiled in (set_train afterwards does not reach it), so predict
    # compiles in inference mode (BatchNorm reads its moving statistics) and the step in
    # training mode (batch statistics, moving ones updated)
    net.set_train(False)
    predict = ms.jit(net)
    predict(ms.Tensor(np.zeros((100, 3, cfg.model.vision.image_size,
                                cfg.model.vision.image_size), np.float32)))
    net.set_train(True)
    stream = BatchStream(args.seed, args.batch, workers=1, augment=False)
    budget, warmup = args.minutes * 60.0, 50
    n, t0, elapsed = 0, None, 0.0
    try:
        for images, labels, cells, _ in stream:
            progress = min(elapsed / budget, 1.0)
            scale = min(1.0, (n + 1) / warmup) * 0.5 * (1 + np.cos(np.pi * progress))
            opt.learning_rate.set_data(ms.Tensor(args.lr * max(scale, 0.02), ms.float32))
            loss = float(step(prepare(images), ms.Tensor(labels.astype(np.int32)),
                              ms.Tensor(presence(labels)),
                              ms.Tensor(cells.astype(np.int32))).asnumpy())
            n += 1
            if t0 is None:
                t0 = time.time()   # the first step compiles: not counted
            elapsed = time.time() - t0
            if n % 25 == 0:
                print(f"step {n} loss {loss:.3f} {elapsed:.0f}s", file=sys.stderr, flush=True)
            if elapsed >= budget:
                break
    finally:
        stream.close()

    held = BatchStream(args.seed, 100, workers=1, augment=False, tag=HELDOUT_TAG,
                       count=max(1, args.test // 100))
    hits, total, sets = np.zeros(len(SIZES)), 0, 0
    try:
        for images, labels, _, _ in held:
            logits = predict(prepare(images)).asnumpy()
            pred = np.stack([logits[:, edges[j]:edges[j + 1]].argmax(1)
                             for j in range(len(SIZES))], 1)
            hits += (pred == labels).sum(0)
            if n_shapes:
                sets += int(((logits[:, edges[-1]:] > 0) == (presence(labels) > 0)).all(1).sum())
            total += len(labels)
    finally:
        held.close()
    acc = {name: round(float(h / total), 4) for name, h in zip(ATTRIBUTES, hits)}
    extra = {"shape_set": round(sets / total, 4)} if n_shapes else {}
    print(json.dumps({"overrides": args.overrides, "cells": use_cells, "head": args.head,
                      "steps": n,
                      "seconds": round(elapsed),
                      "test": total, "mean": round(float(np.mean(list(acc.values()))), 4),
                      "acc": acc, **extra}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
