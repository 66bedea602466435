"""Time one training step of each image scorer net (zidong/eval/scorer_net.py).

    .venv/bin/python tools/time_scorer.py [--batch 64] [--repeats 10] [--kinds merge,conv]

Graph mode on the CPU, the scorer's own AdamW step on random renders-sized uint8 images with the
per-cell targets; the first call (compilation) is not timed. Run it on an otherwise idle machine.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def time_kind(config: dict, batch: int, repeats: int) -> tuple[float, float, float, float]:
    """(parameters, compile s, train step s, eval forward s) of one config."""
    import numpy as np
    from zidong.eval.image_scorer import CELL_GRID, CELL_HEADS, HEADS, Scorer
    from zidong.eval.scorer_train import ScorerTrainer
    rng = np.random.default_rng(0)
    size = config["image_size"]
    x = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    y = np.stack([rng.integers(0, len(h), batch) for h in HEADS], 1)
    cells = np.stack([rng.integers(0, n, (batch, CELL_GRID, CELL_GRID)) for n in CELL_HEADS], -1)
    scorer = Scorer(config=config, batch=batch)
    trainer = ScorerTrainer(scorer)
    t0 = time.perf_counter()
    trainer.step(x, y, cells).asnumpy()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(repeats):
        loss = trainer.step(x, y, cells)
    loss.asnumpy()
    step_s = (time.perf_counter() - t0) / repeats
    scorer.predict(x)
    t0 = time.perf_counter()
    for _ in range(repeats):
        scorer.predict(x)
    params = sum(p.size for p in scorer.net.trainable_params())
    return params, compile_s, step_s, (time.perf_counter() - t0) / repeats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--kinds", default="merge,conv")
    ap.add_argument("--convs", action="append", default=[],
                    help='another conv layout to time, as JSON: "[[32, 2], [64, 2], ...]"')
    ap.add_argument("--cpu-isa", default=None, help="oneDNN's cap (context.cpu_isa; default: "
                    "the scorer commands' own; '' for none)")
    args = ap.parse_args()
    from zidong.config import ContextConfig
    from zidong.eval.scorer_net import CONV_CONFIG, NET_CONFIGS, SCORER_CPU_ISA
    from zidong.runtime import init_env
    init_env(ContextConfig(cpu_isa=SCORER_CPU_ISA if args.cpu_isa is None else args.cpu_isa))
    configs = dict(NET_CONFIGS)
    kinds = args.kinds.split(",") if args.kinds else []
    for layout in args.convs:
        configs[layout] = {**CONV_CONFIG, "convs": json.loads(layout)}
        kinds.append(layout)
    for kind in kinds:
        params, c, s, f = time_kind(configs[kind], args.batch, args.repeats)
        print(f"{kind} {params / 1e6:.2f}M params  compile {c:.0f} s  train step {s:.3f} s  "
              f"({args.batch / s:.0f} samples/s)  eval forward {f:.3f} s", flush=True)


if __name__ == "__main__":
    main()
