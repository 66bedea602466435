"""Load a pretraining run (a checkpoint file or a run folder) into a ZidongModel for inference."""
from __future__ import annotations

from pathlib import Path

import mindspore as ms

from zidong.config import config_from_dict
from zidong.data.tokenizer import Tokenizer
from zidong.models import create_model
from zidong.train.checkpoint import checkpoints, load_state


def resolve_checkpoint(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        found = checkpoints(path)
        if not found:
            raise FileNotFoundError(f"{path}: no step_*.safetensors checkpoint in this run folder")
        return found[-1]
    return path


def load_run(path: str | Path):
    """(model in inference mode, config, tokenizer, checkpoint meta)."""
    ckpt = resolve_checkpoint(path)
    params, meta, blobs = load_state(ckpt)
    cfg = config_from_dict(meta["config"], f"{ckpt} (embedded config)")
    model = create_model(cfg.model)
    own = {k[len("model."):]: v for k, v in params.items() if k.startswith("model.")}
    missing, _ = ms.load_param_into_net(model, own, strict_load=True)
    if missing:
        raise ValueError(f"{ckpt}: checkpoint lacks {len(missing)} model tensors, e.g. {missing[:3]}")
    model.set_train(False)
    return model, cfg, Tokenizer(blobs["tokenizer"]), meta
