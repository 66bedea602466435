"""Joining a distributed job started by ``msrun`` (``tools/launch.sh``) or by a rank table
(``tools/launch_rank_table.sh``), with MindSpore's own communication (HCCL on Ascend, MCCL on CPU).

A process started any other way is a single-process job (``DistInfo()``: rank 0 of 1) and nothing
here touches MindSpore.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from zidong.config.schema import Config, ConfigError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world: int = 1
    launcher: str = ""  # "msrun", "rank_table" or "" (a single process)

    @property
    def is_main(self) -> bool:
        """Rank 0 writes what the ranks share (run.json, tokenizer, metrics, curves, summary)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def launcher() -> str:
    """How this process was started: "msrun" (MS_ROLE set: a worker, or msrun's scheduler, which
    runs the same script and serves the cluster from inside ``init()``), "rank_table"
    (RANK_TABLE_FILE with RANK_SIZE > 1) or "" (a plain process)."""
    if os.environ.get("MS_ROLE") in ("MS_WORKER", "MS_SCHED"):
        return "msrun"
    if os.environ.get("RANK_TABLE_FILE") and int(os.environ.get("RANK_SIZE", "1")) > 1:
        return "rank_table"
    return ""


def init_distributed(cfg: Config) -> DistInfo:
    """Call after ``zidong.runtime.init_env``. Under msrun or a rank table: ``init()`` the
    communication, check the config's device mesh against the launched world and the plan's rules,
    and set the data-parallel context unless the layout needs semi-auto parallel (which the
    trainer's step sets up itself)."""
    how = launcher()
    if not how:
        return DistInfo()
    import mindspore as ms
    from mindspore.communication import get_group_size, get_rank, init

    from zidong.parallel.plan import make_plan, violation_text
    from zidong.parallel.semi_auto import needs_semi_auto

    init()
    rank, world = get_rank(), get_group_size()
    par = cfg.parallel
    if par.device_num != world:
        raise ConfigError(
            f"parallel: launched with {world} workers but the config describes nodes {par.nodes} x "
            f"devices_per_node {par.devices_per_node} = {par.device_num} devices; set e.g. "
            f"parallel.devices_per_node={world} parallel.data_parallel={world} for data parallel")
    plan = make_plan(cfg)
    if not plan.ok:
        raise ConfigError(f"parallel layout:\n{violation_text(plan)}")
    if not needs_semi_auto(cfg):
        # model parallel, pipelines and optimizer sharding are set up by the trainer's
        # AutoParallel step instead (zidong.parallel.semi_auto; the plan refuses them on CPU).
        # set_auto_parallel_context is marked for deprecation in 2.10, but AutoParallel has no
        # data-parallel mode and runs on Ascend only: this is still the CPU's one way
        ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL,
                                     gradients_mean=True, device_num=world)
    return DistInfo(rank, world, how)


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op in a single process). An AllReduce of one number: the Barrier
    operator has no CPU kernel in MindSpore 2.10 ("Unsupported op [Barrier] on CPU")."""
    mean_over_ranks(info, 1.0)


def mean_over_ranks(info: DistInfo, value: float) -> float:
    """The mean of a number over the ranks (the number itself in a single process): a value all
    ranks must agree on, such as the training time a budget-sized schedule is planned from."""
    if not info.distributed:
        return value
    import mindspore as ms
    from mindspore import ops
    total = ops.AllReduce()(ms.Tensor([value], ms.float32)).asnumpy()[0]
    return float(total) / info.world
