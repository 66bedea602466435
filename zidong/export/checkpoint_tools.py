"""Checkpoint tools: list a checkpoint's tensors, convert between MindSpore ``.ckpt`` and
safetensors, and load one into a different-but-compatible model config with a report of what
did not match (never a silent partial load).

Run checkpoints carry their config, tokenizer and step as ``meta.*`` uint8 tensors
(``zidong.train.checkpoint``); conversion keeps them, so a converted file is the same run.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import mindspore as ms

from zidong.integrity import sha256_file
from zidong.train.checkpoint import digest_path, verify

FORMATS = {".ckpt": "ckpt", ".safetensors": "safetensors"}
META = "meta."


def _format(path: Path) -> str:
    if path.suffix not in FORMATS:
        raise ValueError(f"{path}: unknown checkpoint format {path.suffix!r}; use "
                         f"{' or '.join(FORMATS)}")
    return FORMATS[path.suffix]


def read_tensors(path) -> dict:
    """Every tensor of a checkpoint by name (meta.* included), as numpy arrays."""
    path = Path(path)
    fmt = _format(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    verify(path)
    try:
        data = ms.load_checkpoint(str(path), format=fmt)
    except Exception as e:  # MindSpore raises several types for a truncated or foreign file
        raise ValueError(f"{path}: not a readable {fmt} checkpoint ({e})") from None
    return {k: v.asnumpy() for k, v in data.items()}


def list_tensors(path) -> dict:
    """{"tensors": [(name, shape, dtype)], "meta": step/config name, "parameters": count}."""
    tensors = read_tensors(path)
    rows = [(k, list(v.shape), str(v.dtype)) for k, v in sorted(tensors.items())
            if not k.startswith(META)]
    meta = {}
    if META + "json" in tensors:
        info = json.loads(bytes(tensors[META + "json"].astype(np.uint8)).decode())
        meta = {"step": info.get("step"), "config": info.get("config", {}).get("name")}
    meta["blobs"] = {k[len(META):]: int(v.size) for k, v in tensors.items()
                     if k.startswith(META) and k != META + "json"}
    count = int(sum(np.prod(s) for _, s, _ in rows))
    return {"tensors": rows, "meta": meta, "parameters": count}


def convert(src, dst) -> dict:
    """Write ``src``'s tensors in ``dst``'s format (from its suffix), then read ``dst`` back and
    check every tensor is bit-identical; returns counts."""
    src, dst = Path(src), Path(dst)
    _format(dst)
    if src.resolve() == dst.resolve():
        raise ValueError(f"{dst}: same file as the source")
    tensors = read_tensors(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.stem + ".tmp" + dst.suffix)  # MindSpore insists on the suffix
    for p in (tmp, dst):
        if p.exists():
            os.chmod(p, 0o600)
            p.unlink()
    items = [{"name": k, "data": ms.Tensor(v)} for k, v in tensors.items()]
    ms.save_checkpoint(items, str(tmp), format=_format(dst))
    back = read_tensors(tmp)
    bad = [k for k in tensors if k not in back or back[k].dtype != tensors[k].dtype
           or not np.array_equal(back[k], tensors[k])]
    if bad or set(back) != set(tensors):
        tmp.unlink()
        raise ValueError(f"{dst}: conversion did not round-trip ({len(bad)} tensors differ, "
                         f"e.g. {bad[:3]})")
    os.chmod(tmp, 0o644)
    os.replace(tmp, dst)
    digest_path(dst).write_text(f"{sha256_file(dst)}  {dst.name}\n")
    return {"tensors": len(tensors), "from": str(src), "to": str(dst)}


@dataclass
class LoadReport:
    loaded: list = field(default_factory=list)
    missing: list = field(default_factory=list)      # in the model, not in the checkpoint
    unexpected: list = field(default_factory=list)   # in the checkpoint, not in the model
    mismatched: list = field(default_factory=list)   # (name, checkpoint shape, model shape)

    @property
    def exact(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def text(self, limit: int = 20) -> str:
        lines = [f"loaded {len(self.loaded)} tensors; missing {len(self.missing)}, unexpected "
                 f"{len(self.unexpected)}, shape mismatches {len(self.mismatched)}"]
        for title, items in (("missing (keep their initial values)", self.missing),
                             ("unexpected (ignored)", self.unexpected),
                             ("shape mismatch (checkpoint vs model)", self.mismatched)):
            if items:
                lines.append(f"  {title}:")
                lines += [f"    {x}" if isinstance(x, str) else
                          f"    {x[0]}: checkpoint {x[1]}, model {x[2]}" for x in items[:limit]]
                if len(items) > limit:
                    lines.append(f"    ... and {len(items) - limit} more")
        return "\n".join(lines)


def load_into(model, path, allow_partial: bool = False) -> LoadReport:
    """Load the ``model.*`` tensors of a run checkpoint into ``model`` (built from any config).
    Tensors that match by name and shape are loaded only if everything matches, or if
    ``allow_partial``; otherwise ValueError with the report."""
    tensors = read_tensors(path)
    own = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    if not own:
        raise ValueError(f"{path}: no model.* tensors (not a zidong run checkpoint?)")
    params = {p.name: p for p in model.get_parameters()}
    report = LoadReport()
    report.missing = sorted(set(params) - set(own))
    report.unexpected = sorted(set(own) - set(params))
    for name in sorted(set(own) & set(params)):
        if tuple(own[name].shape) != tuple(params[name].shape):
            report.mismatched.append((name, list(own[name].shape), list(params[name].shape)))
        else:
            report.loaded.append(name)
    if not report.exact and not allow_partial:
        raise ValueError(f"{path}: does not fit this model exactly; nothing loaded "
                         f"(allow a partial load to load the {len(report.loaded)} that fit)\n"
                         f"{report.text()}")
    for name in report.loaded:
        params[name].set_data(ms.Tensor(own[name]))
    return report
