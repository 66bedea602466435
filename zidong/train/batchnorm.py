"""Precise BatchNorm statistics for the vision encoder at the end of a run.

The conv stem's BatchNorms (zidong/models/patch_embed.py) update their moving statistics in every
training pass, the masked-image-modelling pass included, whose images have 24 of their 64 patches
blanked to the mean. At the end of runs/bench36 the first layer's moving variance was two thirds
of what clean test images give (their ratio's median over the 32 channels 1.52), so in inference
mode a clean image was normalised with the statistics of another input distribution. Running the
encoder over clean training images in training mode, without gradients, re-estimates them
("precise BN"; Wu & Johnson, "Rethinking 'Batch' in BatchNorm", 2021). MindSpore's moving
statistics are an exponential average (momentum 0.9): after n batches what they were before
weighs 0.9**n (0.005 after 50).
"""
from __future__ import annotations

import numpy as np


def batchnorm_cells(cell) -> list:
    from mindspore import nn
    return [c for _, c in cell.cells_and_names() if isinstance(c, nn.BatchNorm2d)]


def clean_image_batches(pipeline, rows: int):
    """(rows, C, H, W) float32 batches of the images of ``pipeline``'s samples that have one,
    unmasked, in a fixed order (the training run's own data position is not touched)."""
    buf, epoch = [], 0
    while True:
        for batch in pipeline.iterate(epoch):
            buf.extend(batch["image"][batch["presence"][:, 1] > 0])
            while len(buf) >= rows:
                yield np.stack(buf[:rows]).astype(np.float32)
                buf = buf[rows:]
        epoch += 1


def recalibrate(encoder, batches, count: int) -> int:
    """Runs ``encoder`` (the vision encoder) on ``count`` of ``batches`` in training mode, no
    gradients; returns how many BatchNorm cells were re-estimated (0: none, nothing ran)."""
    import mindspore as ms
    cells = batchnorm_cells(encoder)
    if not cells or count < 1:
        return 0
    was = encoder.training
    encoder.set_train(True)   # before the graph compiles: it keeps this mode

    @ms.jit
    def forward(images):
        return encoder(images)[0]

    for _, images in zip(range(count), batches):
        forward(ms.Tensor(images))
    encoder.set_train(was)
    return len(cells)


def recalibrate_on(encoder, data, cfg, tokenizer, count: int, num_shards: int = 1,
                   shard_id: int = 0) -> int:
    """``recalibrate`` on the unmasked images of the manifest ``data`` (this rank's shard), in
    batches of ``cfg.train.batch_size``."""
    from zidong.data.pipeline import DataPipeline
    rows = cfg.train.batch_size
    pipe = DataPipeline(data, cfg, tokenizer, rows, seed=cfg.context.seed, masking=False,
                        num_shards=num_shards, shard_id=shard_id)
    return recalibrate(encoder, clean_image_batches(pipe, rows), count)
