"""The one place that decides how MindSpore runs: device, execution mode, seed, compile cache and,
on the CPU, the instruction set oneDNN may use."""
from __future__ import annotations

import os
import warnings

from zidong.config.schema import ConfigError, ContextConfig

_initialised: dict = {}


def _cap_cpu_isa(isa: str) -> None:
    """oneDNN reads its ISA cap once, when the process runs its first convolution or matmul:
    the first ``init_env`` decides it. A later call asking for another cap is warned ("" asks for
    none: it runs under whatever cap is in effect)."""
    want = isa.upper()
    if not _initialised:
        if want:
            os.environ["ONEDNN_MAX_CPU_ISA"] = os.environ["DNNL_MAX_CPU_ISA"] = want
        _initialised["cpu_isa"] = os.environ.get("ONEDNN_MAX_CPU_ISA", "")
    elif want and want != _initialised["cpu_isa"]:
        warnings.warn(f"context.cpu_isa={isa!r} has no effect: this process already runs with "
                      f"oneDNN's cap {_initialised['cpu_isa'] or 'unset'!r} (read once per "
                      f"process)", RuntimeWarning, stacklevel=3)


def init_env(ctx: ContextConfig) -> None:
    """Set device (CPU or Ascend), graph/PyNative mode and seeds from the ``context`` section.

    Graph mode is the default path; PyNative is for debugging. Ascend-only settings (bf16, O2) were
    already rejected for CPU by config validation. Calling it again with the same context is a no-op;
    with another device it is an error, because MindSpore cannot switch device in one process.
    """
    import mindspore as ms

    ctx.check()
    if _initialised and _initialised["device"] != ctx.device:
        raise ConfigError(f"context.device: this process already runs on {_initialised['device']}; "
                          f"cannot switch to {ctx.device}")
    if ctx.compile_cache:
        # read by MindSpore when a graph is compiled, so it must be set before the first compile
        os.environ.setdefault("MS_COMPILER_CACHE_ENABLE", "1")
        os.environ.setdefault("MS_COMPILER_CACHE_PATH", ctx.compile_cache)
    if ctx.device == "CPU":
        _cap_cpu_isa(ctx.cpu_isa)
    if not _initialised:
        if ctx.device == "Ascend":
            # msrun and the rank-table launcher give each process its NPU in DEVICE_ID
            ms.set_device("Ascend", int(os.environ.get("DEVICE_ID", ctx.device_id)))
            if ctx.max_device_memory:
                ms.runtime.set_memory(max_size=ctx.max_device_memory)
        else:
            ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE if ctx.mode == "graph" else ms.PYNATIVE_MODE)
    # the optimizer's per-parameter loop unrolls into nested calls: ~600 parameters with group
    # learning rates exceed the default depth of 1000
    ms.set_recursion_limit(10000)
    ms.set_seed(ctx.seed)
    _initialised["device"] = ctx.device
