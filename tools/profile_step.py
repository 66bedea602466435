"""Where a pretraining step's time goes: the MindSpore profiler's CPU operator times per direction
(forward / backward / optimizer) and per operator type, the number of operator calls, and the
step's wall time.

    .venv/bin/python tools/profile_step.py [--config small] [--set KEY=VALUE ...]
        [--data cache/corpus/train.jsonl] [--steps 6] [--out runs/profile_step]

The step is the trainer's (same PretrainNet, optimizer, objective weights, global-norm clip and
real batches from the data pipeline) wrapped in one Cell, so that operators keep their scope
names (inside a function compiled by ``ms.jit`` even the backward ones lose them). It leaves out
the trainer's per-objective gradient norms. The VQ tokenizer is untrained (its encoder costs the
same). Compilation is not timed. Run it on an idle machine.

Not reported per model part: the compiler shares one compiled body among Cells of the same
structure, and the scope names follow the first of them (every LayerNorm gradient of the model
is named after the speech encoder's input LayerNorm), so a sum per scope would be wrong.

Writes OUT/profile.json and prints a table. Operator times are summed over calls; the runtime
adds launch and scheduling time between them, so their total is below the wall time.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def direction_of(scope: str) -> str:
    """forward, backward or optimizer, from an operator's full scope name."""
    if "/optimizer-" in scope or scope.startswith("optimizer-"):
        return "optimizer"
    return "backward" if scope.startswith("Gradients/") else "forward"


def aggregate(timestamp_file: str | Path, steps: int) -> dict:
    """Milliseconds per step by direction and by operator type, and operator calls per step,
    from the profiler's cpu_op_execute_timestamp file (one line per operator:
    'scope;type;start,ms,tid start,ms,tid ...')."""
    by_dir, by_type, calls_total = defaultdict(float), defaultdict(float), 0
    for line in Path(timestamp_file).read_text().splitlines():
        fields = line.strip().split(";")
        if len(fields) < 3:
            continue
        scope, calls = fields[0], fields[2].split()
        ms_total = sum(float(c.split(",")[1]) for c in calls) / steps
        calls_total += len(calls)
        by_dir[direction_of(scope)] += ms_total
        by_type[scope.rsplit("/", 1)[-1].split("-op")[0]] += ms_total

    def ordered(d):
        return {k: round(v, 1) for k, v in sorted(d.items(), key=lambda kv: -kv[1])}
    return {"ops_ms_per_step": round(sum(by_dir.values()), 1),
            "op_calls_per_step": round(calls_total / steps, 1), "direction": ordered(by_dir),
            "op_type": ordered(by_type)}


def build_step(trainer):
    """The trainer's update as one Cell, so that the profiler sees Cell scopes."""
    import mindspore as ms
    from mindspore import nn, ops

    class ScopedStep(nn.Cell):
        def __init__(self):
            super().__init__()
            self.net, self.optimizer = trainer.net, trainer.optimizer
            self.grad = ms.value_and_grad(self.net, None, self.optimizer.parameters,
                                          has_aux=True)
            self.clip = trainer.cfg.train.clip_norm

        def construct(self, *batch):
            out, grads = self.grad(*batch)
            grads = ops.clip_by_global_norm(grads, self.clip)
            self.optimizer(grads)
            return out[0]
    return ScopedStep()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="small")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    help="a config override (repeatable), e.g. train.objectives.mim=0")
    ap.add_argument("--data", default=None, help="training manifest (default: the built-in "
                    "corpus, built into the cache if missing)")
    ap.add_argument("--steps", type=int, default=6, help="steps timed, then as many profiled")
    ap.add_argument("--out", default="runs/profile_step")
    args = ap.parse_args(argv)

    from zidong.config import load_config
    from zidong.data.tokenizer import tokenizer_for
    from zidong.runtime import init_env
    from zidong.train.pretrain import default_corpus
    cfg = load_config(args.config, args.overrides)
    init_env(cfg.context)
    import mindspore as ms
    from mindspore import profiler

    from zidong.train.pretrain_net import BATCH
    from zidong.train.trainer import Trainer
    data = args.data or str(default_corpus() / "train.jsonl")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizer_for(data, cfg.model.text.vocab_size, cfg.data.tokenizer or None)
    trainer = Trainer(cfg, tempfile.mkdtemp(dir=out, prefix="trainer_"), data, tokenizer,
                      log=lambda *a: None)
    step, batches = build_step(trainer), trainer._batches()
    weights = ms.Tensor(trainer.step_weights())

    def run_one() -> float:
        batch = next(batches)
        t0 = time.perf_counter()
        step(*[ms.Tensor(batch[c]) for c in BATCH], weights).asnumpy()
        return time.perf_counter() - t0

    compile_s = run_one()
    # the median: on a shared machine single steps vary by 10-20%
    times = sorted(run_one() for _ in range(args.steps))
    wall = times[len(times) // 2]
    print(f"{cfg.name}: compile + first step {compile_s:.0f} s, then {wall:.2f} s per step "
          f"(median of {args.steps}, range {times[0]:.2f}-{times[-1]:.2f}; "
          f"{cfg.train.batch_size} rows, fusion batch {cfg.train.fused_rows})", flush=True)

    trace = out / "trace"
    prof = profiler.profile(activities=[profiler.ProfilerActivity.CPU],
                            schedule=profiler.schedule(wait=0, warmup=0, active=args.steps,
                                                       repeat=1, skip_first=0),
                            on_trace_ready=profiler.tensorboard_trace_handler(str(trace)))
    prof.start()
    profiled = []
    for _ in range(args.steps):
        profiled.append(run_one())
        prof.step()
    prof.stop()
    profiled = sorted(profiled)[len(profiled) // 2]
    found = sorted(glob.glob(str(trace / "*" / "FRAMEWORK" / "cpu_op_execute_timestamp_*.txt")),
                   key=lambda p: Path(p).stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"{trace}: the profiler wrote no cpu_op_execute_timestamp file")
    result = {"config": cfg.name, "overrides": args.overrides, "batch_size": cfg.train.batch_size,
              "fusion_batch": cfg.train.fused_rows, "compile_s": round(compile_s, 1),
              "graph_kernel_flags": os.environ.get("MS_DEV_GRAPH_KERNEL_FLAGS", ""),
              "wall_s_per_step": round(wall, 3), "wall_s_each": [round(t, 3) for t in times],
              "profiled_wall_s_per_step": round(profiled, 3),
              **aggregate(found[-1], args.steps)}
    (out / "profile.json").write_text(json.dumps(result, indent=1))
    total = result["ops_ms_per_step"]
    print(f"operators: {total / 1000:.2f} s per step in {result['op_calls_per_step']:.0f} calls "
          f"(wall {profiled:.2f} s while profiling)")
    for key in ("direction", "op_type"):
        print(f"\n| {key} | ms per step | share |\n| --- | ---: | ---: |")
        for name, v in list(result[key].items())[:15]:
            print(f"| {name} | {v:.0f} | {100 * v / max(total, 1e-9):.1f}% |")
    print(f"\nwrote {out / 'profile.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
