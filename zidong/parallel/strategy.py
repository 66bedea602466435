"""The plan's layout (``zidong.parallel.plan``) attached to the built Cells, for semi-auto parallel on
Ascend: ``.shard()`` strategies on every matmul, attention and embedding, the pipeline stage of
every transformer block, and recompute.

Tensor parallelism is the Megatron layout the plan's memory model assumes: inside each block the
q/k/v and first feed-forward matmuls are split by output columns and the attention output and
second feed-forward matmuls by input rows, so one block costs two all-reduces; attention is split
by heads; vocabulary-sized output heads are split by vocabulary; embedding tables are replicated
(``vocab_emb_dp``) or split by vocabulary rows. Everything else is data parallel. Operators without
a strategy (LayerNorm, GELU, residual adds, losses) take theirs from their neighbours: the step runs
under ``sharding_propagation``.

The frozen VQ tokenizer is left data parallel: it is small and the plan counts it replicated.

Pipeline stages: the plan cuts the blocks into contiguous stages (``plan.stages``); the glue between
blocks (embeddings, pooling, heads, losses) carries no stage and MindSpore's pipeline pass places it
with the blocks it feeds or reads, as in the ``PipelineCell`` examples.

None of this can be compiled on the CPU (semi-auto parallel needs Ascend); the tests check that the
strategies are attached where the plan says, that they divide the tensors they split and that the
stages follow the plan (tests/parallel/test_strategy.py).
"""
from __future__ import annotations

from zidong.config.schema import Config
from zidong.models.layers import Attention, FeedForward, Linear, TransformerStack

FROZEN = "model.image_tokenizer"
# vocabulary-sized output heads: the logits are split by vocabulary
VOCAB_HEADS = ("model.text_decoder.head", "model.image_decoder.head", "mlm.head.out",
               "mim.head.out")
# Cells whose own ``gather`` looks rows up in a vocabulary-sized table
EMBEDDINGS = ("model.text_encoder", "model.text_decoder", "model.image_decoder")


def _column(lin: Linear, dp: int, mp: int) -> None:
    lin.shard(((dp, 1), (mp, 1)), ((dp, mp), (mp,)))


def _row(lin: Linear, dp: int, mp: int) -> None:
    lin.shard(((dp, mp), (1, mp)), ((dp, 1), (1,)))


def _data(lin: Linear, dp: int) -> None:
    lin.shard(((dp, 1), (1, 1)), ((dp, 1), (1,)))


def _attention(attn: Attention, dp: int, mp: int) -> None:
    for lin in (attn.q, attn.k, attn.v):
        _column(lin, dp, mp)
    _row(attn.o, dp, mp)
    heads = ((dp, mp, 1, 1), (dp, mp, 1, 1))
    attn.qk.shard(heads)
    attn.av.shard(heads)
    attn.softmax.shard(((dp, mp, 1, 1),))


def attach_strategies(net, cfg: Config) -> dict[str, tuple]:
    """Attach the layout to ``net`` (a PretrainNet or the bare model; names are matched by their
    ending) and return {cell name: matmul strategy} of every Linear, for the record and the tests."""
    par = cfg.parallel
    dp, mp = par.data_parallel, par.model_parallel
    frozen = set()
    for name, cell in net.cells_and_names():
        if name.endswith(FROZEN):
            frozen.update(n for n, _ in cell.cells_and_names(name_prefix=name))
    done: set[str] = set()
    for name, cell in net.cells_and_names():
        if name in frozen:
            continue
        if isinstance(cell, Attention):
            _attention(cell, dp, mp)
            done.update(f"{name}.{p}" for p in ("q", "k", "v", "o"))
        elif isinstance(cell, FeedForward):
            _column(cell.fc1, dp, mp)
            _row(cell.fc2, dp, mp)
            done.update((f"{name}.fc1", f"{name}.fc2"))
        elif name.endswith(EMBEDDINGS) and hasattr(cell, "gather"):
            table = (1, 1) if par.vocab_emb_dp else (mp, 1)
            cell.gather.shard((table, (dp, 1)))
    out = {}
    for name, cell in net.cells_and_names():
        if not isinstance(cell, Linear):
            continue
        if name not in done:
            if name.endswith(VOCAB_HEADS) and name not in frozen:
                _column(cell, dp, mp)
            else:
                _data(cell, dp)
        out[name] = cell.matmul.in_strategy
    return out


def stage_config(cfg: Config, plan=None, prefix: str = "model.") -> dict[str, int]:
    """{block Cell name: pipeline stage} from the plan's partition, for ``parallel.nn.Pipeline``."""
    from zidong.parallel.plan import make_plan
    plan = plan or make_plan(cfg)
    out, seen = {}, {}
    for k, stage in enumerate(plan.stages):
        for unit in stage.units:
            i = seen.get(unit.component, 0)
            seen[unit.component] = i + 1
            out[f"{prefix}{unit.component}.stack.blocks.{i}"] = k
    return out


def apply_recompute(net) -> int:
    """Recompute every trainable transformer block in the backward pass (keep only its input);
    returns how many blocks."""
    n = 0
    for name, cell in net.cells_and_names():
        if isinstance(cell, TransformerStack) and FROZEN not in name:
            for block in cell.blocks:
                block.recompute()
                n += 1
    return n
