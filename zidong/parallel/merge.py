"""One checkpoint from a distributed run's per-rank checkpoints (``rank_N/step_*.safetensors``),
for export, evaluation, ``--init-from`` or a run on a different number of devices.

Data parallel (what the trainer runs): every rank holds the whole model, so merging means checking
that the ranks agree and writing one copy whose metadata says it is a single-device checkpoint.
Sliced checkpoints (model/pipeline parallel or optimizer sharding on Ascend, with a strategy file
beside each rank's checkpoint) are refused with a message naming MindSpore's
``transform_checkpoints``: no such checkpoint has been written on this CPU-only machine, so that
path would be a guess.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from zidong.train.checkpoint import checkpoints, load_state, save_state


def rank_dirs(run_dir: Path) -> list[Path]:
    found = [p for p in Path(run_dir).glob("rank_*") if re.fullmatch(r"rank_\d+", p.name)]
    return sorted(found, key=lambda p: int(p.name[5:]))


def merge_run(run_dir: str | Path, out: str | Path | None = None, step: int | None = None,
              atol: float = 0.0) -> dict:
    """Merge the latest step every rank saved (or ``step``); ranks whose tensors differ by more
    than ``atol`` are an error naming the tensor. Returns what was written."""
    run_dir = Path(run_dir)
    ranks = rank_dirs(run_dir)
    if not ranks:
        raise FileNotFoundError(f"{run_dir}: no rank_N/ folders (not a distributed run)")
    if list(run_dir.glob("rank_*/strategy*.ckpt")) or list(run_dir.glob("strategy*.ckpt")):
        raise NotImplementedError(f"{run_dir}: strategy files found (sliced model-parallel "
                                  "checkpoints): merge them with mindspore.transform_checkpoints")
    steps = [{int(p.name[5:].split(".")[0]): p for p in checkpoints(r)} for r in ranks]
    common = set.intersection(*(set(s) for s in steps))
    if not common:
        raise FileNotFoundError(f"{run_dir}: no step saved by every rank")
    step = max(common) if step is None else step
    if step not in common:
        raise FileNotFoundError(f"{run_dir}: step {step} not saved by every rank; common: "
                                f"{sorted(common)}")
    params, meta, blobs = load_state(steps[0][step])
    if meta.get("world", 1) != len(ranks):
        raise ValueError(f"{steps[0][step]}: saved by a run of {meta.get('world', 1)} ranks, "
                         f"{len(ranks)} rank folders found")
    worst = 0.0
    for r, s in enumerate(steps[1:], 1):
        other, other_meta, _ = load_state(s[step])
        if set(other) != set(params):
            raise ValueError(f"{s[step]}: other tensors than rank 0's")
        for k, v in params.items():
            d = float(np.abs(v.asnumpy().astype(np.float64)
                             - other[k].asnumpy().astype(np.float64)).max(initial=0.0))
            if d > atol:
                raise ValueError(f"rank {r} differs from rank 0 in {k} by {d:g} (> {atol:g}): "
                                 f"data-parallel replicas must be identical")
            worst = max(worst, d)
    cfg = meta["config"]
    par = cfg["parallel"]
    meta = dict(meta, world=1, rank=0, merged_from_world=len(ranks))
    cfg["parallel"] = dict(par, data_parallel=1, model_parallel=1, pipeline_stage=1,
                           micro_batch_num=1, nodes=1, devices_per_node=1, optimizer_shard=False)
    out = Path(out) if out else run_dir / "merged" / f"step_{step:07d}.safetensors"
    for name, p in params.items():
        p.name = name
    save_state(out, list(params.values()), meta, blobs)
    return {"out": str(out), "step": step, "ranks": len(ranks), "max_rank_difference": worst}
