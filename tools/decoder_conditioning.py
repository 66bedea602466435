"""Does the text decoder use what it is conditioned on?

Teacher-forced negative log-likelihood per token of each sample's reference text, given the fused
memory of its own inputs and given another sample's memory (the batch rolled by one). A decoder
that reads its memory scores its own sample better; one that has learnt only the language (the
templates of the built-in corpus) scores both the same. Captions and ASR are generated from this
decoder, so a gap of ~0 means their scores are those of a language model.

    .venv/bin/python tools/decoder_conditioning.py --ckpt RUN [--use image] [--data MANIFEST]

Prints one JSON line: nll_own, nll_other, gap (nats per token), how many tokens were scored, and
memory_cosine: the mean cosine between two samples' fused memories (mean over their positions).
A memory_cosine near 1 means the memory no longer tells the inputs apart: no decoder could
read anything from it.
"""
from __future__ import annotations

import argparse
import json

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, help="a run directory or checkpoint")
    ap.add_argument("--data", default="cache/corpus/test.jsonl")
    ap.add_argument("--use", default="image", help="conditioning modalities, e.g. image or speech")
    ap.add_argument("--batches", type=int, default=4, help="batches of 16 samples to score")
    args = ap.parse_args()

    import mindspore as ms
    from mindspore import Tensor

    from zidong.config.schema import ContextConfig
    from zidong.decoding.search import log_softmax
    from zidong.eval.generation import rows_with, subset_batch
    from zidong.runtime import init_env
    from zidong.tasks.runner import pad_rows
    init_env(ContextConfig())
    from zidong.tasks.engine import TaskEngine

    use = tuple(args.use.split(","))
    engine = TaskEngine(args.ckpt, batch_size=16)
    size = engine.batch_size  # the engine's graphs take full batches: padding rows added
    decoder = engine.model.text_decoder
    nll = {"own": 0.0, "other": 0.0}
    tokens, cosines = 0.0, []
    for i, batch in enumerate(engine.batches(args.data)):
        if i == args.batches:
            break
        # samples with the conditioning modalities and a reference text
        rows = rows_with(batch, use + ("text",))
        if len(rows) < 2:
            continue
        batch = subset_batch(batch, rows)
        memory, mask = engine.memory(batch, use)
        n = len(rows)
        m, w = memory.asnumpy()[:n], mask.asnumpy()[:n, :, None]
        pooled = (m * w).sum(1) / w.sum(1)
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
        cosines.append((pooled @ pooled.T)[~np.eye(n, dtype=bool)].mean())
        din, target, dmask = (pad_rows(np.asarray(batch[k]), size)
                              for k in ("dec_in", "dec_target", "dec_mask"))
        dmask = dmask * (np.arange(size) < n).reshape(-1, 1)  # padding rows are not scored
        for name, roll in (("own", 0), ("other", 1)):
            # rolled within the real rows, so "other" is always a different sample
            order = np.concatenate([np.roll(np.arange(n), roll), np.arange(n, size)])
            idx = Tensor(order, ms.int32)
            logits = decoder(Tensor(din.astype(np.int32)), memory[idx], mask[idx]).asnumpy()
            lp = np.take_along_axis(log_softmax(logits), target[..., None].astype(np.int64), -1)
            nll[name] += float((-lp[..., 0] * dmask).sum())
        tokens += float(dmask.sum())
    own, other = nll["own"] / tokens, nll["other"] / tokens
    print(json.dumps({"ckpt": args.ckpt, "use": args.use, "nll_own": round(own, 4),
                      "nll_other": round(other, 4), "gap": round(other - own, 4),
                      "tokens": int(tokens), "memory_cosine": round(float(np.mean(cosines)), 7)}))


if __name__ == "__main__":
    main()
