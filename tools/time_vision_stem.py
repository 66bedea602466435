"""Time the vision encoder's forward + backward for each patch stem (docs/architecture.md).

    .venv/bin/python tools/time_vision_stem.py [--config small] [--batch 32] [--repeats 10]
        [--set context.cpu_isa=avx2] [--stems linear,conv]

Graph mode, random normalised images, gradients of every trainable parameter; the first call
(compilation) is not timed. Run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def time_stem(config: str, stem: str, batch: int, repeats: int, overrides=()) -> float:
    import numpy as np
    import mindspore as ms
    from zidong.config.loader import load_config
    from zidong.models.vision_encoder import VisionEncoder
    from zidong.runtime import init_env

    cfg = load_config(config, [f"model.vision.stem={stem}", *overrides])
    init_env(cfg.context)
    v = cfg.model.vision
    enc = VisionEncoder(v, cfg.model.unified_dim)

    def loss(x):
        return enc(x)[2].sum()

    grad = ms.value_and_grad(loss, None, enc.trainable_params())

    @ms.jit
    def step(x):
        return grad(x)

    x = ms.Tensor(np.random.default_rng(0).normal(
        size=(batch, v.channels, v.image_size, v.image_size)).astype(np.float32))
    step(x)[0].asnumpy()
    t0 = time.time()
    for _ in range(repeats):
        step(x)[0].asnumpy()
    return (time.time() - t0) / repeats


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="small")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    help="a config override, e.g. context.cpu_isa=avx2 (repeatable)")
    ap.add_argument("--stems", default="", help="comma-separated (default: every stem)")
    args = ap.parse_args(argv)
    from zidong.config.schema import STEMS
    stems = args.stems.split(",") if args.stems else STEMS
    unknown = sorted(set(stems) - set(STEMS))
    if unknown:
        ap.error(f"--stems: {unknown} not in {list(STEMS)}")
    for stem in stems:
        s = time_stem(args.config, stem, args.batch, args.repeats, args.overrides)
        print(f"stem {stem}: {s:.3f} s per forward + backward at batch {args.batch}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
