"""``zidong data bench``: can the data pipeline keep the model fed on this machine?

Three rates in samples/s: the pipeline alone, the model's training step alone (on one cached
batch), and the model fed live by the pipeline (both sharing the cores, as in training).
"""
from __future__ import annotations

import time

from zidong.data.pipeline import DataPipeline


def _batches(pipeline: DataPipeline):
    epoch = 0
    while True:
        yield from pipeline.epoch(epoch).create_dict_iterator(num_epochs=1, output_numpy=True)
        epoch += 1


def bench_data(manifest, cfg, tokenizer, steps: int = 10, log=print) -> dict:
    import mindspore as ms

    from zidong.models import create_model
    from zidong.train.smoke import STEP_COLUMNS, build_step

    bs = cfg.train.batch_size
    pipeline = DataPipeline(manifest, cfg, tokenizer, bs, seed=cfg.context.seed)
    if pipeline.batches_per_epoch == 0:
        raise ValueError(f"{manifest}: fewer samples than one batch of {bs}")
    it = _batches(pipeline)
    next(it)  # start-up (threads, first decode) is not throughput
    t0 = time.time()
    n_batches = max(steps * 2, 10)
    for _ in range(n_batches):
        batch = next(it)
    pipe = n_batches * bs / (time.time() - t0)
    log(f"pipeline alone: {pipe:.1f} samples/s ({n_batches} batches of {bs}, "
        f"{cfg.data.workers} workers)")

    model = create_model(cfg.model)
    model.set_train(True)
    step = build_step(cfg, model)
    cached = [ms.Tensor(batch[c]) for c in STEP_COLUMNS]
    t0 = time.time()
    step(*cached).asnumpy()
    compile_s = time.time() - t0
    t0 = time.time()
    for _ in range(steps):
        step(*cached).asnumpy()
    alone = steps * bs / (time.time() - t0)
    log(f"model step alone: {alone:.1f} samples/s (compile {compile_s:.1f} s)")

    t0 = time.time()
    for _ in range(steps):
        b = next(it)
        step(*[ms.Tensor(b[c]) for c in STEP_COLUMNS]).asnumpy()
    fed = steps * bs / (time.time() - t0)
    log(f"model fed by the pipeline: {fed:.1f} samples/s")
    return {"config": cfg.name, "batch_size": bs, "workers": cfg.data.workers,
            "pipeline_samples_per_s": round(pipe, 1), "model_samples_per_s": round(alone, 2),
            "fed_samples_per_s": round(fed, 2), "compile_s": round(compile_s, 1),
            "pipeline_headroom": round(pipe / alone, 1)}
