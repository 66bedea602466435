"""The single-process reference for the data-parallel test: one process, the same global batch.

Data parallel over R ranks averages the gradients of R per-rank batches (each rank reads its strided
shard). The same global batch in one process is those R batches as R accumulated micro-batches
(``train.grad_accum = R``): the same mean gradient, then one clipped AdamW update. Run as a script:

    python dp_reference.py RUN_DIR DATA TOKENIZER VQ_CKPT RANKS KEY=VALUE...
"""
import sys

from zidong.config import load_config
from zidong.data.pipeline import DataPipeline
from zidong.data.tokenizer import Tokenizer
from zidong.runtime import init_env
from zidong.train.trainer import Trainer


class Interleaved:
    """Batch i of shard 0, batch i of shard 1, ...: the per-rank batches of data-parallel step i."""

    def __init__(self, pipelines):
        self.pipelines = pipelines
        self.batches_per_epoch = pipelines[0].batches_per_epoch * len(pipelines)

    def iterate(self, epoch, start_batch=0):
        assert start_batch == 0
        for batches in zip(*(p.iterate(epoch) for p in self.pipelines)):
            yield from batches


def main(run_dir, data, tokenizer, vq, ranks, *overrides):
    ranks = int(ranks)
    cfg = load_config("tiny", list(overrides) + [f"train.grad_accum={ranks}"])
    init_env(cfg.context)
    tok = Tokenizer.load(tokenizer)
    trainer = Trainer(cfg, run_dir, data, tok, vq, log=lambda *a: None)
    trainer.pipeline = Interleaved([
        DataPipeline(data, cfg, tok, cfg.train.batch_size, seed=cfg.context.seed,
                     shuffle=cfg.data.shuffle, num_shards=ranks, shard_id=r) for r in range(ranks)])
    print(trainer.fit()["checkpoint"])


if __name__ == "__main__":
    main(*sys.argv[1:])
