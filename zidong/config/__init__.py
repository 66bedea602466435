"""Typed, validated configuration loaded from YAML presets in ascend_configs/."""
from .loader import config_from_dict, config_to_dict, load_config, preset_names, resolve_path
from .schema import (Config, ConfigError, ContextConfig, ModelConfig, ParallelConfig,
                     TrainConfig, TransformerConfig)

__all__ = ["Config", "ConfigError", "ContextConfig", "ModelConfig", "ParallelConfig", "TrainConfig",
           "TransformerConfig", "config_from_dict", "config_to_dict", "load_config", "preset_names",
           "resolve_path"]
