"""Which words does the fused memory of a text still carry?

The speech decoder (text -> speech) reads the fused memory at the text positions; if those vectors
no longer say which token stood there, no decoder can say the word. For text-only inputs of a
manifest, this probes the vectors at the text positions twice, after the text encoder and after
the fusion, with the same two readers:

- token accuracy: the nearest token mean (cosine, means from the first half of the samples,
  scored on the second half), against the best a reader of the position alone can do (the
  commonest token at that position in the first half);
- variance shares: the fraction of the vectors' variance around their overall mean that the
  per-position means explain, and that the per-token means explain.

    .venv/bin/python tools/probe_text_tokens.py --ckpt RUN [--data MANIFEST] [--batches 16]

Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter

import numpy as np


def nearest_mean_accuracy(x_fit, y_fit, x_test, y_test) -> float:
    """Accuracy of the nearest class mean (cosine) over the classes seen in fitting; a test
    vector of an unseen class counts as wrong."""
    classes = np.unique(y_fit)
    means = np.stack([x_fit[y_fit == c].mean(0) for c in classes])
    means /= np.linalg.norm(means, axis=1, keepdims=True) + 1e-12
    xt = x_test / (np.linalg.norm(x_test, axis=1, keepdims=True) + 1e-12)
    return float((classes[(xt @ means.T).argmax(1)] == y_test).mean())


def explained_share(x, groups) -> float:
    """Fraction of the variance of ``x`` around its mean that its group means explain."""
    centred = x - x.mean(0)
    total = float((centred ** 2).sum())
    between = 0.0
    for g in np.unique(groups):
        rows = centred[groups == g]
        between += len(rows) * float((rows.mean(0) ** 2).sum())
    return between / max(total, 1e-12)


def position_baseline(pos_fit, y_fit, pos_test, y_test) -> float:
    """Accuracy of saying the commonest fitting token at each position."""
    common = {p: Counter(y_fit[pos_fit == p]).most_common(1)[0][0] for p in np.unique(pos_fit)}
    guess = np.array([common.get(p, -1) for p in pos_test])
    return float((guess == y_test).mean())


def probe(x, tokens, positions, sample) -> dict:
    fit = sample < np.median(np.unique(sample))
    return {"token_acc": round(nearest_mean_accuracy(x[fit], tokens[fit], x[~fit], tokens[~fit]),
                               4),
            "position_share": round(explained_share(x, positions), 4),
            "token_share": round(explained_share(x, tokens), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, help="a run directory or checkpoint")
    ap.add_argument("--data", default="cache/corpus/test.jsonl")
    ap.add_argument("--batches", type=int, default=16, help="batches of 16 samples")
    args = ap.parse_args()

    import mindspore as ms
    from mindspore import Tensor

    from zidong.eval.generation import rows_with, subset_batch
    from zidong.tasks.cli import init_cpu
    from zidong.tasks.runner import pad_rows
    init_cpu(args.ckpt)  # under the run's oneDNN cap
    from zidong.models.speech_decoder import TEXT_START
    from zidong.tasks.engine import TaskEngine

    engine = TaskEngine(args.ckpt, batch_size=16)
    model, size = engine.model, engine.batch_size
    text_len = engine.cfg.model.text.max_len

    @ms.jit
    def encode(ids, mask):
        return model.text_encoder(ids, mask)[0]

    rows = {"encoder": [], "fused": []}
    tokens, positions, samples = [], [], []
    for i, batch in enumerate(engine.batches(args.data)):
        if i == args.batches:
            break
        keep = rows_with(batch, ("text",))
        if not len(keep):
            continue
        batch = subset_batch(batch, keep)
        n = len(keep)
        memory, _ = engine.memory(batch, ("text",))
        ids = pad_rows(np.asarray(batch["text_ids"]), size)
        mask = pad_rows(np.asarray(batch["text_mask"]), size)
        enc = encode(Tensor(ids.astype(np.int32)), Tensor(mask)).asnumpy()
        fused = memory.asnumpy()[:, TEXT_START:TEXT_START + text_len]
        enc = enc[:, enc.shape[1] - text_len:]   # the text encoder's CLS comes first
        for r in range(n):
            real = np.flatnonzero(mask[r] > 0)
            rows["encoder"].append(enc[r, real])
            rows["fused"].append(fused[r, real])
            tokens.append(ids[r, real])
            positions.append(real)
            samples.append(np.full(len(real), int(batch["index"][r])))
    tokens, positions, samples = (np.concatenate(a) for a in (tokens, positions, samples))
    fit = samples < np.median(np.unique(samples))
    out = {"ckpt": args.ckpt, "data": args.data, "vectors": int(len(tokens)),
           "distinct_tokens": int(len(np.unique(tokens))),
           "position_only_acc": round(position_baseline(positions[fit], tokens[fit],
                                                        positions[~fit], tokens[~fit]), 4)}
    for name, parts in rows.items():
        out[name] = probe(np.concatenate(parts), tokens, positions, samples)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
