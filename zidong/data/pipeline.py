"""The mindspore.dataset pipeline: reader -> SampleProcessor (map) -> drop invalid -> batch.

Order is decided here, not by the readers: every epoch is a permutation drawn from (seed, epoch),
split across ranks by striding (disjoint shards that together cover the epoch), so that a run can
resume at any batch of any epoch and every rank knows its samples without talking to the others.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from zidong.config.schema import Config
from zidong.data.manifest import DataError
from zidong.data.processor import COLUMNS, OPTIONAL_RAW, RAW_COLUMNS, SampleProcessor
from zidong.data.sources import ManifestSource, count_mindrecord, is_mindrecord


class DataPipeline:
    def __init__(self, path: str | Path, cfg: Config, tokenizer, batch_size: int, seed: int = 0,
                 shuffle: bool = True, num_shards: int = 1, shard_id: int = 0,
                 masking: bool = True, strict: bool = False, drop_remainder: bool = True,
                 layout_rows: int | None = None):
        if not 0 <= shard_id < num_shards:
            raise ValueError(f"shard_id {shard_id} is not in [0, {num_shards})")
        self.path, self.cfg = Path(path), cfg
        self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle
        # rows per repeat of the fixed batch layout: the network's input. A pipeline feeds it
        # micro-batches, so the layout repeats in each of them.
        self.layout_rows = layout_rows or batch_size
        if batch_size % self.layout_rows:
            raise ValueError(f"batch of {batch_size} is not a whole number of {self.layout_rows}-row "
                             f"micro-batches")
        self.num_shards, self.shard_id, self.drop_remainder = num_shards, shard_id, drop_remainder
        self.mindrecord = is_mindrecord(self.path)
        self.raw_columns = RAW_COLUMNS
        if self.mindrecord:
            self.source, self.size, self.manifest_problems = None, count_mindrecord(self.path), []
            import mindspore.dataset as ds
            # a file packed before a column existed lacks it; the processor's default stands in
            names = ds.MindDataset(str(self.path), shuffle=False).get_col_names()
            self.raw_columns = [c for c in RAW_COLUMNS if c in names or c not in OPTIONAL_RAW]
        else:
            self.source = ManifestSource(self.path, strict=strict)
            self.size, self.manifest_problems = len(self.source), self.source.problems
        if self.size < num_shards:
            raise ValueError(f"{self.path}: {self.size} samples cannot fill {num_shards} shards")
        self.processor = SampleProcessor(cfg, tokenizer, seed, masking, strict)
        # equal shard sizes, so every rank runs the same number of steps
        self.per_shard = self.size // num_shards

    @property
    def batches_per_epoch(self) -> int:
        n = self.per_shard / self.batch_size
        return math.floor(n) if self.drop_remainder else math.ceil(n)

    def order(self, epoch: int) -> np.ndarray:
        """This shard's sample indices for ``epoch``, in the order they are served."""
        if self.shuffle:
            perm = np.random.default_rng([self.seed, epoch, 0x5EED]).permutation(self.size)
        else:
            perm = np.arange(self.size)
        return perm[:self.per_shard * self.num_shards][self.shard_id::self.num_shards]

    def hide_slots(self, indices: list[int]) -> dict[int, int]:
        """Sample index -> modality it hides, by its position in its batch (or micro-batch:
        ``layout_rows``), with fixed counts."""
        hide = self.cfg.data.masking.hide_per_batch
        generated = self.cfg.train.objectives.generated
        slots = {}
        for pos, index in enumerate(indices):
            k = (pos % self.layout_rows) // hide if hide else len(generated)
            if k < len(generated):
                slots[index] = generated[k]
        return slots

    def epoch(self, epoch: int, start_batch: int = 0):
        """A mindspore.dataset of batches (dict of COLUMNS) for this epoch, from ``start_batch``
        (batches skipped by position: resuming gives exactly the batches not yet seen unless a
        sample was invalid, which is then reported)."""
        import mindspore.dataset as ds
        indices = self.order(epoch)[start_batch * self.batch_size:].tolist()
        sampler = ds.SubsetSampler(indices)
        self.processor.start_epoch(epoch, self.hide_slots(indices))
        workers = self.cfg.data.workers
        if self.mindrecord:
            data = ds.MindDataset(str(self.path), columns_list=self.raw_columns, sampler=sampler)
        else:
            data = ds.GeneratorDataset(self.source, column_names=RAW_COLUMNS, sampler=sampler,
                                       num_parallel_workers=1, python_multiprocessing=False)
        data = data.map(operations=self.processor, input_columns=self.raw_columns,
                        output_columns=COLUMNS + ["valid"], num_parallel_workers=workers,
                        python_multiprocessing=False)
        data = data.filter(predicate=_is_valid, input_columns=["valid"])
        data = data.project(COLUMNS)
        return data.batch(self.batch_size, drop_remainder=self.drop_remainder)

    def iterate(self, epoch: int, start_batch: int = 0, output_numpy: bool = True):
        """Yield batches as dicts, then print the epoch's problem summary to stderr if any."""
        data = self.epoch(epoch, start_batch)
        try:
            yield from data.create_dict_iterator(num_epochs=1, output_numpy=output_numpy)
        except RuntimeError:
            if self.processor.first_error:  # --strict: the problem, not the engine's wrapping
                raise DataError(self.processor.first_error) from None
            raise
        self.report_epoch(epoch)

    def report_epoch(self, epoch: int, stream=sys.stderr) -> str:
        log = self.processor.log
        text = ""
        if log.skipped or log.counts or (epoch == 0 and self.manifest_problems):
            lines = [f"data: epoch {epoch} of {self.path}: {log.summary()}"]
            if epoch == 0 and self.manifest_problems:
                lines.append(f"  {len(self.manifest_problems)} manifest line(s) unusable:")
                lines += [f"  {p}" for p in self.manifest_problems]
            text = "\n".join(lines)
            print(text, file=stream)
        return text


def _is_valid(valid) -> bool:
    return bool(valid)
