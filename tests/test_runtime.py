import pytest

from zidong.config import ConfigError, load_config
from zidong.runtime import init_env


def test_init_env_is_idempotent_and_refuses_to_switch_device():
    ctx = load_config("tiny").context
    init_env(ctx)
    init_env(ctx)
    ascend = load_config("tiny", ["context.device=Ascend"]).context
    with pytest.raises(ConfigError, match="already runs on CPU; cannot switch to Ascend"):
        init_env(ascend)


def test_ascend_only_precision_fails_before_anything_runs():
    with pytest.raises(ConfigError, match="bf16 is Ascend-only"):
        load_config("tiny", ["context.precision=bf16"])
