"""The pretraining step under semi-auto parallel (Ascend only): model parallel, pipeline stages and
optimizer sharding, with MindSpore 2.10's ``AutoParallel`` wrapper around the functional step.

What runs where:
- ``strategy.attach_strategies`` puts the plan's tensor-parallel layout on the Cells; the step runs
  under ``sharding_propagation``, so the operators between them follow.
- ``pipeline_stage > 1``: ``parallel.nn.Pipeline`` cuts each batch into ``micro_batch_num``
  micro-batches and places the blocks on the plan's stages (``strategy.stage_config``);
  ``PipelineGradReducer`` accumulates and reduces their gradients.
- ``optimizer_shard``: ``AutoParallel.hsdp()`` splits the optimizer states over the data-parallel
  replicas.
- The graph is the global view: every rank reads the whole global batch (``full_batch``; the
  compiler hands each device its slice), the losses it returns are the global batch's, and
  data-parallel gradient reduction is inserted by the compiler (no ``DistributedGradReducer``).
  The fixed batch layout (decoder rows, matching negatives) is therefore per global batch, or per
  micro-batch with a pipeline, not per rank as in data parallel.
- Each rank saves its parameter slices to ``rank_N/`` and the strategy file beside them
  (``strategy.ckpt``); ``zidong merge-ckpt`` refuses those and names
  ``mindspore.parallel.transform_checkpoints``.

None of this can be compiled on the CPU: ``zidong plan`` refuses such layouts there
(rule ``cpu_data_parallel_only``), and the CPU tests cover what can be checked without hardware
(tests/parallel/test_strategy.py). docs/distributed.md says what is verified and what is not.
"""
from __future__ import annotations

from pathlib import Path

from mindspore import nn, ops

from zidong.config.schema import Config

STRATEGY_FILE = "strategy.ckpt"


def needs_semi_auto(cfg: Config) -> bool:
    """A layout the data-parallel mode cannot run."""
    par = cfg.parallel
    return par.model_parallel > 1 or par.pipeline_stage > 1 or par.optimizer_shard


class StackedLosses(nn.Cell):
    """PretrainNet's outputs as one vector, for ``parallel.nn.Pipeline``.

    The pipeline slices *every* input along its first axis into micro-batches and sums the
    micro-batches' outputs with one ``Add``: so the objective weights come as one row per sample
    (every row the same), and the losses leave as one (1 + objectives,) tensor, divided by the
    number of micro-batches so that the sum is their mean. Only the total carries gradient.
    """

    def __init__(self, net, micro_batches: int):
        super().__init__()
        self.net = net
        self.scale = 1.0 / micro_batches

    def construct(self, *inputs):
        out = self.net(*inputs[:-1], inputs[-1][0])
        parts = ops.stop_gradient(ops.stack(out[1:]))
        return ops.concat((out[0].reshape(1), parts)) * self.scale


def pipeline_net(net, cfg: Config):
    """``net`` wrapped for the pipeline; its forward takes the weights one row per sample."""
    from mindspore.parallel.nn import Pipeline

    from zidong.parallel.strategy import stage_config
    mb = cfg.parallel.micro_batch_num
    return Pipeline(StackedLosses(net, mb), mb, stage_config(cfg, prefix="net.model."))


def gradient_reducer(cfg: Config, optimizer):
    """The pipeline's gradient accumulation and reduction (None without a pipeline: semi-auto
    parallel then reduces data-parallel gradients by itself)."""
    if cfg.parallel.pipeline_stage == 1:
        return None
    from mindspore.parallel.nn import PipelineGradReducer
    return PipelineGradReducer(optimizer.parameters, opt_shard=cfg.parallel.optimizer_shard)


def wrap_step(step, cfg: Config, ckpt_dir: Path):
    """``step`` (the compiled training-step function) as one semi-auto-parallel graph."""
    from mindspore.parallel.auto_parallel import AutoParallel
    par = cfg.parallel
    parallel = AutoParallel(step, parallel_mode="sharding_propagation")
    parallel.dataset_strategy("full_batch")
    if par.pipeline_stage > 1:
        parallel.pipeline(stages=par.pipeline_stage)
    if par.optimizer_shard:
        parallel.hsdp()
    parallel.save_param_strategy_file(str(Path(ckpt_dir) / STRATEGY_FILE))
    return parallel
