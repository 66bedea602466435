"""Stage 0 of pretraining: the VQ image tokenizer learns to reconstruct the training images; the
main stage then loads it frozen (its codes are the targets of masked image modelling and image
generation). Writes a PNG grid of originals above their reconstructions."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import mindspore as ms
from mindspore import nn, ops

from zidong.config.schema import Config
from zidong.data.pipeline import DataPipeline
from zidong.models import create_model
from zidong.train.checkpoint import save_state
from zidong.train.progress import now
from zidong.train.schedule import BudgetPlan, WarmupCosine
from zidong.train.step import make_train_step


def _to_uint8(images: np.ndarray, mean: float, std: float) -> np.ndarray:
    return np.clip((images * std + mean) * 255.0, 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def save_grid(originals: np.ndarray, recons: np.ndarray, path: Path, mean: float, std: float):
    """Two rows: originals above reconstructions (normalised (B, C, H, W) inputs)."""
    from PIL import Image
    a, b = _to_uint8(originals, mean, std), _to_uint8(recons, mean, std)
    n, h, w = a.shape[0], a.shape[1], a.shape[2]
    grid = np.zeros((2 * h + 2, n * (w + 2), 3), np.uint8)
    for i in range(n):
        grid[:h, i * (w + 2):i * (w + 2) + w] = a[i]
        grid[h + 2:, i * (w + 2):i * (w + 2) + w] = b[i]
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(path)
    return path


def train_vq(cfg: Config, run_dir: str | Path, train_data, tokenizer, log=print) -> dict:
    v = cfg.train.vq
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    pipeline = DataPipeline(train_data, cfg, tokenizer, v.batch_size, seed=cfg.context.seed,
                            masking=False)
    ms.set_seed(cfg.context.seed)
    model = create_model(cfg.model)
    tok = model.image_tokenizer
    tok.set_train(True)

    def loss_fn(images, weight):
        recon, _, commit = tok(images)
        err = ((recon - images) ** 2).mean(axis=(1, 2, 3))
        return (err * weight).sum() / ops.maximum(weight.sum(), 1.0) + commit

    schedule = WarmupCosine(v.lr, 50, v.steps, 0.1)
    opt = nn.AdamWeightDecay(tok.trainable_params(), schedule, weight_decay=0.0)
    step = make_train_step(loss_fn, opt, clip_norm=1.0)
    budget, t_train, compile_s, epoch, losses = v.max_minutes * 60, 0.0, 0.0, 0, []
    plan = BudgetPlan([schedule], v.steps, budget, sized=cfg.train.budget_schedule)
    done, last = 0, None
    log_path = (run_dir / "metrics.jsonl").open("w")
    while not plan.done(done, t_train):
        for batch in pipeline.iterate(epoch):
            t0 = now()
            loss = float(step(ms.Tensor(batch["image"]), ms.Tensor(batch["presence"][:, 1])).asnumpy())
            dt = now() - t0
            if done == 0:
                compile_s = dt
            else:
                t_train += dt
            done += 1
            plan.update(done, done - 1, t_train)
            losses.append(loss)
            last = batch
            if done % 50 == 0 or done == plan.total:
                row = {"step": done, "loss.vq": float(np.mean(losses[-50:])),
                       "train_seconds": round(t_train, 1)}
                log_path.write(json.dumps(row) + "\n")
                log_path.flush()
                log(f"vq step {done}/{plan.total}  recon+commit {row['loss.vq']:.4f}  "
                    f"{v.batch_size * min(50, done) / max(dt * min(50, done), 1e-9):.0f} samples/s")
            if plan.done(done, t_train):
                break
        epoch += 1
    log_path.close()
    tok.set_train(False)
    keep = last["presence"][:, 1] > 0
    shown = last["image"][keep][:8]
    recon = tok.decode(tok.encode(ms.Tensor(shown))).asnumpy()
    grid = save_grid(shown, recon, run_dir / "vq_reconstructions.png", cfg.data.image_mean,
                     cfg.data.image_std)
    codes = tok.encode(ms.Tensor(shown)).asnumpy()
    ckpt = save_state(run_dir / "vq.safetensors", list(tok.get_parameters()),
                      {"stage": "vq", "steps": done, "config": cfg.model.image_tokenizer.__dict__},
                      {})
    summary = {"checkpoint": str(ckpt), "grid": str(grid), "steps": done,
               "train_seconds": round(t_train, 1), "compile_seconds": round(compile_s, 1),
               "first_loss": losses[0], "final_loss": float(np.mean(losses[-20:])),
               "codes_used_in_grid": int(len(np.unique(codes)))}
    (run_dir / "vq_summary.json").write_text(json.dumps(summary, indent=1))
    return summary
