"""Cross-modal retrieval with the bi-encoder embeddings of the unified space: for each direction,
queries of one modality rank N candidates of another (the same samples), R@1/5/10."""
from __future__ import annotations

import itertools

import numpy as np
import mindspore as ms

from zidong.data.pipeline import DataPipeline

NAMES = ("text", "image", "speech")
SHORT = {"text": "t", "image": "i", "speech": "s"}


def embed_manifest(model, cfg, tokenizer, manifest, batch_size: int = 50) -> dict:
    """Unified-space embeddings of every sample (no masking): arrays (N, D) per modality plus
    presence (N, 3), in manifest order."""
    pipe = DataPipeline(manifest, cfg, tokenizer, batch_size, shuffle=False, masking=False,
                        drop_remainder=False)

    @ms.jit
    def encode(text_ids, text_mask, image, mel, mel_mask):
        return (model.text_encoder(text_ids, text_mask)[2], model.vision_encoder(image)[2],
                model.speech_encoder(mel, mel_mask)[2])

    out = {k: [] for k in NAMES + ("presence", "index")}
    for b in pipe.iterate(0):
        embs = encode(*[ms.Tensor(b[c]) for c in ("text_ids", "text_mask", "image", "mel",
                                                   "mel_mask")])
        for k, e in zip(NAMES, embs):
            out[k].append(e.asnumpy())
        out["presence"].append(b["presence"])
        out["index"].append(b["index"])
    res = {k: np.concatenate(v) for k, v in out.items()}
    order = np.argsort(res["index"])
    return {k: v[order] for k, v in res.items()}


def recall_at(query: np.ndarray, cand: np.ndarray, ks=(1, 5, 10)) -> dict:
    """Query i's correct candidate is candidate i."""
    sims = query @ cand.T
    # candidates scoring at least as high as the right one (ties count against the model)
    rank = (sims >= np.diag(sims)[:, None]).sum(1) - 1
    return {f"R@{k}": float((rank < k).mean()) for k in ks}


def retrieval_metrics(emb: dict, candidates: int = 500) -> dict:
    """Flat metrics ``retrieval.t2i.R@1`` ... over the first ``candidates`` samples that have
    both modalities of a direction."""
    metrics = {}
    for a, b in itertools.permutations(NAMES, 2):
        both = np.flatnonzero(emb["presence"][:, NAMES.index(a)] *
                              emb["presence"][:, NAMES.index(b)] > 0)[:candidates]
        if len(both) < 2:
            continue
        key = f"retrieval.{SHORT[a]}2{SHORT[b]}"
        for k, v in recall_at(emb[a][both], emb[b][both]).items():
            metrics[f"{key}.{k}"] = v
        metrics[f"{key}.candidates"] = len(both)
    metrics.update(combined_metrics(emb, candidates))
    return metrics


def combined_metrics(emb: dict, candidates: int = 500) -> dict:
    """Text + speech -> image: the query is the normalised sum of the two embeddings (one point
    between them in the unified space), over samples that have all three."""
    all3 = np.flatnonzero(emb["presence"].min(1) > 0)[:candidates]
    if len(all3) < 2:
        return {}
    q = emb["text"][all3] + emb["speech"][all3]
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    out = {f"retrieval.ts2i.{k}": v for k, v in recall_at(q, emb["image"][all3]).items()}
    out["retrieval.ts2i.candidates"] = len(all3)
    return out
