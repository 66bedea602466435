"""MindSpore Cells of the tri-modal model; ``create_model`` is the one way to build them."""
from __future__ import annotations

from typing import Callable, Dict

from zidong.config.schema import ModelConfig

from .zidong_model import ZidongModel

MODELS: Dict[str, Callable[[ModelConfig], ZidongModel]] = {"zidong": ZidongModel}


def create_model(cfg: ModelConfig, name: str = "zidong") -> ZidongModel:
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; registered: {sorted(MODELS)}")
    return MODELS[name](cfg)


__all__ = ["MODELS", "ZidongModel", "create_model"]
