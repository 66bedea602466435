"""What a run keeps of a scene, stage by stage: a linear probe (ridge regression onto one-hot
labels) of the nine scene attributes the image scorer reads (two groups' count, size, colour and
shape, and their relation, in canonical form), fitted on ``train`` samples and scored on ``test``:

    embedding      the vision encoder's pooled embedding in the unified space (retrieval uses it)
    vision_tokens  the vision encoder's tokens, every position
    memory         the fusion's memory of the image alone, every position (what the text and
                   image decoders attend to when captioning)

If the memory scores far below the vision tokens, the fusion loses the scene before any decoder
sees it. Chance is the most frequent class of each attribute in the probe's training labels.

    .venv/bin/python tools/probe_memory.py --ckpt RUN [--train 1024] [--test 500]

Prints one JSON line: per representation, the test accuracy per attribute and their mean.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

LAMBDAS = (1e-2, 1e-1, 1.0, 10.0, 100.0)


def ridge_fit_predict(x_fit, y_fit, x_new, lam):
    """Dual-form ridge (features far outnumber samples): scores of ``x_new`` for each class."""
    k = x_fit @ x_fit.T
    alpha = np.linalg.solve(k + lam * np.trace(k) / len(k) * np.eye(len(k)), y_fit)
    return (x_new @ x_fit.T) @ alpha


def probe(x_train, labels_train, x_test, labels_test, heads) -> dict:
    """Per attribute test accuracy; the ridge strength is chosen on a fifth of the train rows."""
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_test = (x_train - mu) / sd, (x_test - mu) / sd
    onehot = [np.eye(n)[labels_train[:, j]] for j, n in enumerate(heads)]
    y = np.concatenate(onehot, 1)
    cut = len(x_train) * 4 // 5
    edges = np.cumsum([0] + list(heads))

    def accuracy(scores, labels):
        return [float((scores[:, edges[j]:edges[j + 1]].argmax(1) == labels[:, j]).mean())
                for j in range(len(heads))]
    val = {lam: np.mean(accuracy(ridge_fit_predict(x_train[:cut], y[:cut], x_train[cut:], lam),
                                 labels_train[cut:])) for lam in LAMBDAS}
    best = max(val, key=val.get)
    return {"acc": accuracy(ridge_fit_predict(x_train, y, x_test, best), labels_test),
            "lambda": best}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, help="a run directory or checkpoint")
    ap.add_argument("--corpus", default="cache/corpus")
    ap.add_argument("--train", type=int, default=1024, help="train samples the probe fits")
    ap.add_argument("--test", type=int, default=500, help="test samples it is scored on")
    args = ap.parse_args()

    from mindspore import Tensor

    from zidong.eval.generation import rows_with, subset_batch
    from zidong.eval.image_scorer import ATTRIBUTES, HEADS, encode
    from zidong.tasks.cli import init_cpu
    init_cpu(args.ckpt)  # under the run's oneDNN cap
    from zidong.tasks.engine import TaskEngine, manifest_samples

    engine = TaskEngine(args.ckpt, batch_size=16)
    model = engine.model

    def features(manifest, limit):
        samples = manifest_samples(manifest)
        feats, labels = {"embedding": [], "vision_tokens": [], "memory": []}, []
        for batch in engine.batches(manifest):
            rows = rows_with(batch, ("image",))
            rows = [r for r in rows if samples[int(batch["index"][r])].meta.get("scene")]
            rows = rows[:limit - len(labels)]
            if not rows:
                continue
            b = subset_batch(batch, rows)
            n = len(rows)
            memory, mask = engine.memory(b, ("image",))
            keep = mask.asnumpy()[0] > 0  # one presence for every row: the same positions
            feats["memory"].append(memory.asnumpy()[:n][:, keep].reshape(n, -1))
            tok, _, emb = model.vision_encoder(Tensor(b["image"]))
            feats["vision_tokens"].append(tok.asnumpy().reshape(n, -1))
            feats["embedding"].append(emb.asnumpy())
            labels += [encode(samples[int(i)].meta["scene"]) for i in b["index"]]
            if len(labels) >= limit:
                break
        return {k: np.concatenate(v).astype(np.float64) for k, v in feats.items()}, \
            np.stack(labels)

    corpus = Path(args.corpus)
    x_train, y_train = features(corpus / "train.jsonl", args.train)
    x_test, y_test = features(corpus / "test.jsonl", args.test)
    heads = [len(h) for h in HEADS]
    chance = [float((y_test[:, j] == np.bincount(y_train[:, j], minlength=n).argmax()).mean())
              for j, n in enumerate(heads)]
    out = {"ckpt": args.ckpt, "train": len(y_train), "test": len(y_test),
           "chance": {"mean": round(float(np.mean(chance)), 4)}}
    for name in ("embedding", "vision_tokens", "memory"):
        r = probe(x_train[name], y_train, x_test[name], y_test, heads)
        out[name] = {a: round(v, 4) for a, v in zip(ATTRIBUTES, r["acc"])}
        out[name].update(mean=round(float(np.mean(r["acc"])), 4), dims=x_train[name].shape[1],
                         ridge=r["lambda"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
