"""Re-ranking bi-encoder retrieval with the fusion as a cross-encoder: each query's top-k
candidates are fused with it (only the two modalities present) and re-ordered by the matching
head's probability that they belong together. Encoder outputs are computed once per sample; only
the fusion runs per pair."""
from __future__ import annotations

import itertools

import numpy as np
import mindspore as ms
from mindspore import Tensor, ops

from zidong.eval.retrieval import NAMES, SHORT

COLS = ("text_ids", "text_mask", "image", "mel", "mel_mask")


def encode_tokens(engine, manifest) -> dict:
    """Per-modality encoder tokens and masks of every sample, in manifest order."""
    model = engine.model

    @ms.jit
    def encode(text_ids, text_mask, image, mel, mel_mask):
        t, i, s = (model.text_encoder(text_ids, text_mask), model.vision_encoder(image),
                   model.speech_encoder(mel, mel_mask))
        return t[0], t[1], i[0], i[1], s[0], s[1]

    out = {k: [] for k in ("t", "tm", "i", "im", "s", "sm", "index")}
    bs = engine.batch_size
    for b in engine.batches(manifest):
        n = len(b["index"])
        pad = [np.concatenate([b[c], np.repeat(b[c][-1:], bs - n, 0)]) if n < bs else b[c]
               for c in COLS]
        for k, x in zip(("t", "tm", "i", "im", "s", "sm"), encode(*[Tensor(p) for p in pad])):
            out[k].append(x.asnumpy()[:n])
        out["index"].append(b["index"])
    res = {k: np.concatenate(v) for k, v in out.items()}
    order = np.argsort(res["index"])
    return {k: v[order] for k, v in res.items()}


def rerank_metrics(engine, manifest, emb: dict, matching, k: int = 10,
                   candidates: int = 500) -> dict:
    """``retrieval.<dir>.rerank.R@1`` for the six directions: R@1 after re-ranking each query's
    top ``k`` bi-encoder candidates by the matching head (a right answer outside the top k stays
    wrong)."""
    model, bs = engine.model, engine.batch_size
    tok = encode_tokens(engine, manifest)

    @ms.jit
    def match_prob(t, tm, i, im, s, sm, presence):
        memory, _ = model.fusion(t, tm, i, im, s, sm, presence)
        return ops.softmax(matching.logits(memory[:, 0]), -1)[:, 0]

    keys = {"text": ("t", "tm"), "image": ("i", "im"), "speech": ("s", "sm")}
    metrics = {}
    for a, b in itertools.permutations(NAMES, 2):
        ia, ib = NAMES.index(a), NAMES.index(b)
        both = np.flatnonzero(emb["presence"][:, ia] * emb["presence"][:, ib] > 0)[:candidates]
        if len(both) < 2:
            continue
        sims = emb[a][both] @ emb[b][both].T
        top = np.argsort(-sims, axis=1, kind="stable")[:, :k]
        pairs = [(q, c) for q in range(len(both)) for c in top[q]]
        scores = np.zeros(len(pairs), np.float32)
        for start in range(0, len(pairs), bs):
            chunk = pairs[start:start + bs]
            rows = {a: [both[q] for q, _ in chunk], b: [both[c] for _, c in chunk]}
            args = []
            for m in NAMES:
                src = rows.get(m, rows[a])           # an absent modality: any content, masked
                tk, mk = keys[m]
                args += [_pad(tok[tk][src], bs), _pad(tok[mk][src], bs)]
            presence = np.zeros((bs, 3), np.float32)
            presence[:, [ia, ib]] = 1
            p = match_prob(*[Tensor(x) for x in args], Tensor(presence)).asnumpy()
            scores[start:start + len(chunk)] = p[:len(chunk)]
        scores = scores.reshape(len(both), -1)
        best = top[np.arange(len(both)), scores.argmax(1)]
        key = f"retrieval.{SHORT[a]}2{SHORT[b]}.rerank"
        metrics[f"{key}.R@1"] = float((best == np.arange(len(both))).mean())
        metrics[f"{key}.k"] = k
    return metrics


def _pad(x: np.ndarray, n: int) -> np.ndarray:
    return x if len(x) == n else np.concatenate([x, np.repeat(x[-1:], n - len(x), 0)])
