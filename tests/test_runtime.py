import os
import subprocess
import sys

import mindspore as ms
import numpy as np
import pytest

from zidong.config import ConfigError, load_config
from zidong.runtime import init_env
from zidong.train.checkpoint import save_state


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


def test_cpu_isa_is_checked_and_capped_by_the_first_init_only():
    with pytest.raises(ConfigError, match=r"context.cpu_isa.*'avx9'"):
        load_config("tiny", ["context.cpu_isa=avx9"])
    # this process was initialised (conftest) without a cap: a cap asked for now cannot apply
    with pytest.warns(RuntimeWarning, match="cpu_isa='avx2' has no effect"):
        init_env(load_config("tiny", ["context.cpu_isa=avx2"]).context)
    # a fresh process takes it, before its first convolution or matmul
    code = ("import os; from zidong.config import load_config; from zidong.runtime import init_env;"
            "init_env(load_config('tiny', ['context.cpu_isa=avx2']).context);"
            "print(os.environ['ONEDNN_MAX_CPU_ISA'], os.environ['DNNL_MAX_CPU_ISA'])")
    env = {k: v for k, v in os.environ.items() if "CPU_ISA" not in k}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout
    assert out.split() == ["AVX2", "AVX2"]


def test_commands_on_a_run_take_its_cpu_isa_cap(tmp_path):
    """eval / generate / export set oneDNN's cap from the run's config before anything runs (a
    conv-stem run trained under avx2 would otherwise take the slow AVX-512 convolution path)."""
    p = ms.Parameter(ms.Tensor(np.zeros(2, np.float32)), name="w")
    for isa in ("avx2", ""):
        run = tmp_path / (isa or "none")
        save_state(run / "step_0000001.safetensors", [p],
                   {"config": {"context": {"cpu_isa": isa}}}, {})
        code = ("import os; from zidong.tasks.cli import init_cpu; "
                f"init_cpu({str(run)!r}); print(os.environ.get('ONEDNN_MAX_CPU_ISA', '-'))")
        env = {k: v for k, v in os.environ.items() if "CPU_ISA" not in k}
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=env, check=True).stdout
        assert out.split() == [isa.upper() or "-"]
