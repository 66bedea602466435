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
from zidong.data.media import image_to_uint8
from zidong.data.pipeline import DataPipeline
from zidong.models import create_model
from zidong.train.checkpoint import load_state, save_state
from zidong.train.progress import now
from zidong.train.schedule import BudgetPlan, WarmupCosine
from zidong.train.step import make_train_step


def save_grid(originals: np.ndarray, recons: np.ndarray, path: Path, mean: float, std: float):
    """Two rows: originals above reconstructions (normalised (B, C, H, W) inputs)."""
    from PIL import Image
    a, b = image_to_uint8(originals, mean, std), image_to_uint8(recons, mean, std)
    n, h, w = a.shape[0], a.shape[1], a.shape[2]
    grid = np.zeros((2 * h + 2, n * (w + 2), 3), np.uint8)
    for i in range(n):
        grid[:h, i * (w + 2):i * (w + 2) + w] = a[i]
        grid[h + 2:, i * (w + 2):i * (w + 2) + w] = b[i]
    Image.fromarray(grid).resize((grid.shape[1] * 2, grid.shape[0] * 2), Image.NEAREST).save(path)
    return path


def load_vq_weights(tok, path, prefixed: bool = True) -> None:
    """Load a VQ-stage checkpoint's ``image_tokenizer.*`` tensors into ``tok`` and freeze them:
    the model's tokenizer (``prefixed``: its parameter names keep the prefix) or a standalone
    ``ImageTokenizer``. A file without such tensors, or lacking one of ``tok``'s, is an error."""
    params, _, _ = load_state(path)
    cut = 0 if prefixed else len("image_tokenizer.")
    own = {k[cut:]: v for k, v in params.items() if k.startswith("image_tokenizer.")}
    if not own:
        raise ValueError(f"{path}: no image_tokenizer.* tensors (is it a VQ-stage checkpoint?)")
    # into the tokenizer alone: loading into the whole model would warn about every other
    # parameter (hundreds of names) not being in the file
    try:
        left, _ = ms.load_param_into_net(tok, own, strict_load=False)
    except RuntimeError as e:  # a tensor of another shape: another tokenizer config
        raise ValueError(f"{path}: {str(e).splitlines()[0]}") from None
    if left:
        raise ValueError(f"{path}: VQ checkpoint lacks {left[:3]}... (does its config match?)")
    for p in tok.get_parameters():
        p.requires_grad = False


def held_out_manifest(cfg: Config, train_data) -> Path | None:
    """``data.val``, else the ``val.jsonl`` next to the training manifest (the built-in corpus)."""
    if cfg.data.val:
        return Path(cfg.data.val)
    sibling = Path(train_data).with_name("val.jsonl")
    return sibling if sibling.is_file() and sibling != Path(train_data) else None


def in_batches(fn, x: np.ndarray, batch_size: int) -> np.ndarray:
    """``fn`` (Tensor -> Tensor) over (N, ...) ``x``, ``batch_size`` rows at a time (the last
    chunk padded: the graph keeps one shape); the N rows of the results, concatenated."""
    out = []
    for i in range(0, len(x), batch_size):
        chunk = x[i:i + batch_size]
        padded = np.concatenate([chunk, np.zeros((batch_size - len(chunk),) + chunk.shape[1:],
                                                 chunk.dtype)])
        out.append(fn(ms.Tensor(padded)).asnumpy()[:len(chunk)])
    return np.concatenate(out)


def reconstruct(tok, x: np.ndarray, batch_size: int) -> np.ndarray:
    """decode(encode(x)) of normalised (N, C, H, W) images, ``batch_size`` at a time."""
    if not len(x):
        return np.zeros_like(x)
    return in_batches(lambda t: tok.decode(tok.encode(t)), x, batch_size)


def patch_mean_colour(x: np.ndarray, patch: int) -> np.ndarray:
    """The flat-patch reference: each ``patch``-pixel square of (N, C, H, W) images in its mean
    colour (with the tokenizer's patch size: what a code that only knew its patch's colour shows)."""
    g = x.shape[-1] // patch
    cells = x.reshape(len(x), x.shape[1], g, patch, g, patch)
    return np.broadcast_to(cells.mean(axis=(3, 5), keepdims=True), cells.shape).reshape(x.shape)


def reconstruction_error(tok, path: Path, cfg: Config, tokenizer, limit: int = 256) -> dict:
    """Mean squared error (normalised pixels) of decode(encode(x)) on up to ``limit`` held-out
    images, next to the error of painting each code's patch in its true mean colour: a tokenizer
    that does not beat that reference does worse, on average, than flat patches, so its
    reconstructions (and generated images) do not show shapes smaller than a patch reliably."""
    batch_size = cfg.train.vq.batch_size
    images, kept = [], 0
    # the remainder kept: a held-out split smaller than one batch is still measured
    for batch in DataPipeline(path, cfg, tokenizer, batch_size, seed=0, masking=False,
                              drop_remainder=False).iterate(0):
        real = batch["image"][batch["presence"][:, 1] > 0]
        images.append(real)
        kept += len(real)
        if kept >= limit:
            break
    x = np.concatenate(images)[:limit] if images else np.zeros(0)
    if not len(x):
        raise ValueError(f"{path}: no sample with an image to measure the VQ tokenizer on")
    err = ((reconstruct(tok, x, batch_size) - x) ** 2).mean(axis=(1, 2, 3))
    flat = ((patch_mean_colour(x, cfg.model.image_tokenizer.patch_size) - x) ** 2).mean()
    return {"held_out": str(path), "held_out_images": int(len(x)),
            "held_out_mse": round(float(err.mean()), 5),
            "patch_mean_colour_mse": round(float(flat), 5)}


def train_vq(cfg: Config, run_dir: str | Path, train_data, tokenizer, log=print) -> dict:
    v = cfg.train.vq
    held_out = held_out_manifest(cfg, train_data)
    if held_out is not None and not held_out.is_file():  # before training, not after
        raise FileNotFoundError(f"data.val: {held_out} not found")
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
    if held_out is not None:
        summary.update(reconstruction_error(tok, held_out, cfg, tokenizer))
        log(f"vq held-out reconstruction MSE {summary['held_out_mse']:.4f} on "
            f"{summary['held_out_images']} images of {held_out} (each patch in its mean colour: "
            f"{summary['patch_mean_colour_mse']:.4f})")
    (run_dir / "vq_summary.json").write_text(json.dumps(summary, indent=1))
    return summary
