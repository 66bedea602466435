"""Latency of every task from the MINDIR export vs from the checkpoint, on this machine.

Both paths get the same preprocessed batch (the first ``B`` samples of a manifest, each with all
three modalities) and run the same search; what differs is only who computes the graphs
(``nn.GraphCell`` over the exported files vs the loaded Cells under ``ms.jit`` / graph mode).
Speech is timed up to the log-mel frames (the Griffin-Lim vocoder is the same NumPy code on both
paths); retrieval is the three embedders on the batch. Reported: the first call (graph
compilation, or MINDIR loading) and the median of ``--repeats`` further calls, the two paths taking
turns.

    .venv/bin/python tools/bench_export.py --ckpt runs/<run> --data cache/corpus/test.jsonl \
        --batches 1,16 --out bench_export.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TASKS = ("retrieve", "caption", "asr", "vqa", "t2i", "s2i", "t2s", "i2s")


def full_batch(engine, manifest, n: int) -> dict:
    """The first ``n`` samples having text, image and speech (a manifest's weakly paired
    samples are skipped)."""
    import numpy as np
    rows = []
    for b in engine.batches(manifest):
        for i in np.flatnonzero(b["presence"].min(1) > 0):
            rows.append({k: v[i] for k, v in b.items()})
        if len(rows) >= n:
            break
    if len(rows) < n:
        raise ValueError(f"{manifest}: only {len(rows)} samples with all three modalities, "
                         f"need {n}")
    return {k: np.stack([r[k] for r in rows[:n]]) for k in rows[0]}


def checkpoint_calls(engine):
    import mindspore as ms
    from mindspore import Tensor
    from zidong.models.generation import generate_speech
    model = engine.model

    @ms.jit
    def embed(text_ids, text_mask, image, mel, mel_mask):
        return (model.text_encoder(text_ids, text_mask)[2], model.vision_encoder(image)[2],
                model.speech_encoder(mel, mel_mask)[2])

    def retrieve(b):
        cols = ("text_ids", "text_mask", "image", "mel", "mel_mask")
        return [e.asnumpy() for e in embed(*[Tensor(b[c]) for c in cols])]

    def mels(b, task):
        memory, mask = engine.memory(b, ("text",) if task == "t2s" else ("image",))
        return generate_speech(model, memory, mask, b["lang_id"].clip(0, 2).astype("int32"))
    return retrieve, mels


def mindir_calls(rt):
    # the speech decoder alone, as the checkpoint side times it (by default i2s also captions)
    rt.i2s_via = "direct"
    def retrieve(b):
        return [rt.embed(b, m) for m in ("text", "image", "speech")]

    def mels(b, task):
        return rt.mels(b, task)
    return retrieve, mels


def task_call(engine, retrieve, mels, batch, task):
    calls = {"retrieve": lambda: retrieve(batch), "t2s": lambda: mels(batch, "t2s"),
             "i2s": lambda: mels(batch, "i2s"),
             "t2i": lambda: engine.images(batch, "t2i", seed=0),
             "s2i": lambda: engine.images(batch, "s2i", seed=0)}
    return calls.get(task) or (lambda: engine.text(batch, task, beam_size=4))


def time_paths(calls: dict, repeats: int) -> dict:
    """First call and median of ``repeats`` calls per path; the paths take turns within each
    repeat, so that load from other processes on a shared machine falls on both alike."""
    first, times = {}, {name: [] for name in calls}
    for name, call in calls.items():
        t = time.perf_counter()
        call()
        first[name] = time.perf_counter() - t
    for _ in range(repeats):
        for name, call in calls.items():
            t = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - t)
    return {name: (first[name], statistics.median(times[name])) for name in calls}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", required=True, help="run folder or checkpoint file")
    ap.add_argument("--data", required=True, help="manifest the inputs come from")
    ap.add_argument("--mindir", default=None, help="export folder (default: export to a "
                    "temporary folder first)")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None, help="JSON file for the figures")
    args = ap.parse_args(argv)
    os.environ.setdefault("GLOG_v", "3")
    from zidong.tasks.cli import init_cpu
    init_cpu(args.ckpt)  # under the run's oneDNN cap
    from zidong.export.exporter import export_run
    from zidong.export.infer import MindirEngine
    from zidong.tasks.engine import TaskEngine
    tmp = None
    mindir = args.mindir
    if mindir is None or not (Path(mindir) / "export.json").is_file():
        if mindir is None:
            tmp = tempfile.TemporaryDirectory()
            mindir = tmp.name
        t = time.perf_counter()
        export_run(args.ckpt, mindir)
        print(f"export: {time.perf_counter() - t:.1f} s", file=sys.stderr)
    tasks = args.tasks.split(",")
    rows = []
    for bs in [int(x) for x in args.batches.split(",")]:
        engine = TaskEngine(args.ckpt, batch_size=bs)
        rt = MindirEngine(mindir, batch_size=bs)
        batch = full_batch(engine, args.data, bs)
        paths = {"checkpoint": (engine, *checkpoint_calls(engine)),
                 "mindir": (rt, *mindir_calls(rt))}
        for task in tasks:
            row = {"task": task, "batch": bs}
            calls = {name: task_call(*p, batch, task) for name, p in paths.items()}
            for name, (first, median) in time_paths(calls, args.repeats).items():
                row[f"{name}_first_s"], row[f"{name}_s"] = round(first, 4), round(median, 4)
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    result = {"checkpoint": str(args.ckpt), "data": str(args.data), "repeats": args.repeats,
              "cpu_count": os.cpu_count(), "rows": rows}
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    print("| task | batch | checkpoint (s) | MINDIR (s) | MINDIR / checkpoint | first call: "
          "checkpoint / MINDIR (s) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['task']} | {r['batch']} | {r['checkpoint_s']:.3f} | {r['mindir_s']:.3f} | "
              f"{r['mindir_s'] / r['checkpoint_s']:.2f} | {r['checkpoint_first_s']:.2f} / "
              f"{r['mindir_first_s']:.2f} |")
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
