"""Training checkpoints: one safetensors file holding the model, the optimizer, the step, the RNG
state, the data position, the config and the tokenizer; written atomically (temp file + rename),
the last K kept. A ``.sha256`` file beside each checkpoint lets a load detect a corrupted or
modified file (a truncated one MindSpore already refuses).

safetensors stores tensors only, so scalars and text travel as small tensors under a ``meta.``
prefix (JSON and tokenizer bytes as uint8).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import mindspore as ms

from zidong.integrity import sha256_file

META = "meta."


def save_state(path: str | Path, params, meta: dict, blobs: dict[str, bytes]) -> Path:
    """``params``: Parameters (names unique); ``meta``: JSON-able; ``blobs``: raw bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    extra = {META + "json": ms.Tensor(np.frombuffer(json.dumps(meta).encode(), np.uint8))}
    for name, data in blobs.items():
        extra[META + "blob." + name] = ms.Tensor(np.frombuffer(data, np.uint8))
    items = [{"name": p.name, "data": p} for p in params]
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)  # MindSpore insists on the suffix
    if tmp.exists():
        os.chmod(tmp, 0o600)
        tmp.unlink()
    ms.save_checkpoint(items, str(tmp), format="safetensors", append_dict=extra)
    os.chmod(tmp, 0o644)  # MindSpore writes 0400; a later run may need to replace it
    digest = tmp.with_name(tmp.name + ".sha256")
    digest.write_text(f"{sha256_file(tmp)}  {path.name}\n")
    os.replace(tmp, path)
    os.replace(digest, digest_path(path))
    return path


def digest_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def verify(path: Path) -> None:
    """Raise if ``path`` does not match the SHA-256 saved beside it (files written before the
    digests existed have none, and are not checked)."""
    digest = digest_path(path)
    if not digest.is_file():
        return
    want = digest.read_text().split()[0]
    got = sha256_file(path)
    if got != want:
        raise ValueError(f"{path}: SHA-256 {got[:16]}… does not match {digest.name} "
                         f"({want[:16]}…): the checkpoint is corrupted or was modified")


def load_state(path: str | Path) -> tuple[dict, dict, dict[str, bytes]]:
    """(parameters by name, meta, blobs)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    verify(path)
    try:
        data = ms.load_checkpoint(str(path), format="safetensors")
    except Exception as e:  # a truncated or foreign file: say which
        raise ValueError(f"{path}: not a readable checkpoint ({e})") from None
    meta = json.loads(bytes(data.pop(META + "json").asnumpy().astype(np.uint8)).decode())
    blobs = {k[len(META + "blob."):]: bytes(data.pop(k).asnumpy().astype(np.uint8))
             for k in list(data) if k.startswith(META + "blob.")}
    return data, meta, blobs


def read_meta(path: str | Path) -> dict:
    """The meta of a checkpoint without loading its tensors: safetensors starts with an 8-byte
    header length and a JSON header giving each tensor's byte range, so only ``meta.json``'s
    bytes are read (a process can then set up its runtime from the run's config first)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            size = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(size))
            start, end = header[META + "json"]["data_offsets"]
            f.seek(8 + size + start)
            return json.loads(f.read(end - start).decode())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: checkpoint not found") from None
    except (ValueError, KeyError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a zidong checkpoint (its header has no readable "
                         f"{META}json: {e})") from None


def checkpoints(run_dir: str | Path) -> list[Path]:
    """``step_XXXXXXX.safetensors`` files of a run, oldest first."""
    found = [p for p in Path(run_dir).glob("step_*.safetensors") if re.match(r"step_\d+\.", p.name)]
    return sorted(found, key=lambda p: int(p.name[5:].split(".")[0]))


def prune(run_dir: str | Path, keep: int) -> None:
    for p in checkpoints(run_dir)[:-keep] if keep > 0 else []:
        os.chmod(p, 0o600)
        p.unlink()
        digest_path(p).unlink(missing_ok=True)
