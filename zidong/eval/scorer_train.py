"""``zidong scorer train`` / ``scorer eval``: the image attribute scorer trained on scenes rendered
on the fly (``scorer_data``), then scored on fresh held-out renders and on the corpus test splits.
"""
from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np

from zidong.data.corpus import grammar as G
from zidong.eval.image_scorer import CELL_HEADS, N_CLASSES, Scorer, canonical
from zidong.eval.scene_parse import attribute_accuracy, attribute_report
from zidong.eval.scorer_data import HELDOUT_TAG, BatchStream

class ScorerTrainer:
    """A compiled AdamW step on the padded nine-head cross-entropy plus, with ``cell_weight`` > 0,
    the per-cell targets. The learning rate is a Parameter set between steps, so one graph follows
    any schedule."""

    def __init__(self, scorer: Scorer, lr: float = 4e-3, weight_decay: float = 1e-4,
                 cell_weight: float = 1.0):
        import mindspore as ms
        from mindspore import nn
        self.scorer, self.cells = scorer, cell_weight > 0
        net = scorer.net
        self.opt = nn.AdamWeightDecay(net.trainable_params(), learning_rate=lr,
                                      weight_decay=weight_decay)
        ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
        spans, lo = [], 0
        for i, n in enumerate(CELL_HEADS):
            spans.append((i, lo, lo + n))
            lo += n

        def loss_fn(x, y, cells):
            logits, cell_logits = net.train_outputs(x)
            loss = ce(logits.reshape(-1, N_CLASSES), y.reshape(-1))
            for i, a, b in spans:
                part = ce(cell_logits[..., a:b].reshape(-1, b - a), cells[..., i].reshape(-1))
                loss = loss + cell_weight / len(spans) * part
            return loss

        def plain_loss(x, y):
            return ce(net(x).reshape(-1, N_CLASSES), y.reshape(-1))
        grad_fn = ms.value_and_grad(loss_fn if self.cells else plain_loss, None,
                                    self.opt.parameters)
        opt = self.opt

        @ms.jit
        def step(*inputs):
            loss, grads = grad_fn(*inputs)
            opt(grads)
            return loss
        self._step = step

    def set_lr(self, lr: float) -> None:
        import mindspore as ms
        self.opt.learning_rate.set_data(ms.Tensor(lr, ms.float32))

    def step(self, images: np.ndarray, labels: np.ndarray, cells: np.ndarray | None = None):
        import mindspore as ms
        self.scorer.net.set_train(True)    # BatchNorm (conv scorer): batch statistics
        inputs = [ms.Tensor(images), ms.Tensor(labels.astype(np.int32))]
        if self.cells:
            inputs.append(ms.Tensor(cells.astype(np.int32)))
        return self._step(*inputs)


def lr_at(base: float, step: int, progress: float, warmup: int = 50, floor: float = 0.05) -> float:
    """Linear warm-up, then cosine to ``floor * base`` over ``progress`` (0..1, by steps or
    by time)."""
    warm = min(1.0, (step + 1) / warmup)
    return base * warm * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))


def heldout_report(scorer: Scorer, n: int, seed: int, workers: int, augment: bool) -> dict:
    """Accuracy on ``n`` fresh renders from the held-out stream (never a training batch)."""
    stream = BatchStream(seed, scorer.batch, workers, augment, HELDOUT_TAG,
                         count=-(-n // scorer.batch))
    images, scenes = [], []
    try:
        for x, _, _, s in stream:
            images.append(x)
            scenes += s
    finally:
        stream.close()
    images, scenes = np.concatenate(images)[:n], scenes[:n]
    preds = scorer.read(images)
    rep = attribute_report(preds, [canonical(s) for s in scenes]) | {"n": n}
    by_bg: dict = {}
    for p, s in zip(preds, scenes):
        by_bg.setdefault(s["background"], []).append(attribute_accuracy(p, canonical(s)))
    rep["mean_by_background"] = {k: float(np.mean(v)) for k, v in sorted(by_bg.items())}
    return rep


def manifest_report(scorer: Scorer, manifest) -> dict:
    """Accuracy on a manifest's images that carry ``meta.scene``."""
    from zidong.data.manifest import read_manifest, resolve
    samples, _ = read_manifest(manifest)
    rows = [s for s in samples if s.image and isinstance(s.meta.get("scene"), dict)]
    if not rows:
        raise ValueError(f"{manifest}: no sample has both an image and meta.scene to score")
    rep = scorer.attr_acc([resolve(manifest, s.image) for s in rows],
                          [s.meta["scene"] for s in rows])
    return rep | {"n": len(rows), "skipped": len(samples) - len(rows)}


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s"


def train_scorer(out, steps: int | None = None, minutes: float | None = None, seed: int = 0,
                 batch: int = 64, workers: int | None = None, lr: float = 4e-3,
                 corpus: str | Path | None = None, heldout: int = 2000, config: dict | None = None,
                 cell_weight: float = 1.0, log=None) -> dict:
    """Train until ``steps`` or ``minutes`` (whichever comes first; neither: 10 minutes), then
    score 2,000 fresh renders (clean and degraded) and the corpus's test splits, and save."""
    import mindspore as ms
    log = log or (lambda msg: print(msg, flush=True))   # progress lines also reach a log file
    if steps is None and minutes is None:
        minutes = 10.0
    workers = max(1, (os.cpu_count() or 2) - 1) if workers is None else workers
    ms.set_seed(seed)
    # the pool forks before any graph runs: the workers never touch MindSpore
    stream = BatchStream(seed, batch, workers)
    scorer = Scorer(config=config, batch=batch)
    trainer = ScorerTrainer(scorer, lr, cell_weight=cell_weight)
    total = steps or math.inf
    budget = minutes * 60 if minutes is not None else math.inf
    log(f"scorer: {sum(p.size for p in scorer.net.trainable_params()) / 1e6:.2f}M parameters, "
        f"batch {batch}, {workers} render worker(s), "
        f"until {steps or '-'} steps / {minutes or '-'} minutes")
    t0 = last = time.time()
    step, waited, loss = 0, 0.0, float("nan")
    try:
        while step < total and time.time() - t0 < budget:
            tw = time.time()
            x, y, cells, _ = next(stream)
            waited += time.time() - tw
            elapsed = time.time() - t0
            trainer.set_lr(lr_at(lr, step, max(step / total, elapsed / budget)))
            out_loss = trainer.step(x, y, cells)
            step += 1
            if time.time() - last >= 15 or step == total or step == 1:
                loss, now = float(out_loss.asnumpy()), time.time()
                rate = step * batch / (now - t0)
                eta = min(budget - (now - t0), (total - step) * batch / rate)
                log(f"step {step}  loss {loss:.4f}  {rate:.0f} samples/s  "
                    f"waiting for renders {100 * waited / (now - t0):.0f}%  ETA {_clock(eta)}")
                last = now
    finally:
        stream.close()
    seconds = time.time() - t0
    loss = float(out_loss.asnumpy()) if step else loss
    trained = {"steps": step, "samples": step * batch, "seconds": round(seconds, 1),
               "samples_per_s": round(step * batch / seconds, 1), "final_loss": loss,
               "seed": seed, "batch": batch, "workers": workers, "lr": lr,
               "cell_weight": cell_weight,
               "render_wait_fraction": round(waited / seconds, 3)}
    log(f"trained {step} steps in {_clock(seconds)}; scoring {heldout} held-out renders")
    info = {"trained": trained, "heldout_stream": HELDOUT_TAG,
            "heldout": {"clean": heldout_report(scorer, heldout, seed, workers, False),
                        "degraded": heldout_report(scorer, heldout, seed, workers, True)},
            "corpus": {}}
    for split in ("test", G.COMPOSITIONAL):
        manifest = Path(corpus) / f"{split}.jsonl" if corpus else None
        if manifest is not None and manifest.is_file():
            info["corpus"][split] = manifest_report(scorer, manifest)
    info["path"] = str(scorer.save(out, info))
    return info


def format_reports(reports: dict) -> str:
    """A table: one row per attribute (plus mean, exact), one column per named report."""
    from zidong.eval.scene_parse import ATTRIBUTES
    names = list(reports)
    lines = [f"{'attribute':<10}" + "".join(f"{n:>20}" for n in names)]
    for key in (*ATTRIBUTES, "mean", "exact"):
        lines.append(f"{key:<10}" + "".join(f"{reports[n][key]:>20.3f}" for n in names))
    lines.append(f"{'images':<10}" + "".join(f"{reports[n]['n']:>20}" for n in names))
    return "\n".join(lines)
