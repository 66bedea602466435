"""The MINDIR runtime: every task served from an export folder alone (its graphs, tokenizer and
config), without the model classes: nothing here imports ``zidong.models`` or the run loader, so
a deployment needs neither (tested with ``zidong.models`` made unimportable).

What the tasks do around the graphs (preprocessing, batch padding, languages, search) is
``zidong.tasks.runner.TaskRunner``, shared with the checkpoint's ``TaskEngine``; this class
supplies the exported graphs, plus retrieval from the embedder graphs. The parity tests in
``tests/export`` hold the two paths to the same outputs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from mindspore import Tensor

from zidong.audio import mel_to_audio
from zidong.config import config_from_dict
from zidong.data.tokenizer import Tokenizer
from zidong.export.bundle import MANIFEST, Bundle
from zidong.tasks.runner import BATCH_COLUMNS, TaskRunner
from zidong.tasks.spec import MODALITIES

EMBED_INPUTS = {"text": ("text_ids", "text_mask"), "image": ("image",),
                "speech": ("mel", "mel_mask")}
GRIFFIN_LIM_ITERATIONS = 32  # as zidong.models.vocoder.GriffinLimVocoder


class MindirEngine(TaskRunner):
    def __init__(self, folder, batch_size: int = 16):
        self.bundle = Bundle(folder)
        self.cfg = config_from_dict(self.bundle.info["config"],
                                    f"{Path(folder) / MANIFEST} (config)")
        self.tokenizer = Tokenizer.load(self.bundle.tokenizer_path())
        self.batch_size = batch_size

    # ---- the graphs the shared runner calls -----------------------------------------------------
    def _require(self, task: str) -> None:
        self.bundle.require(task)

    def _fuse(self, cols, presence):
        return self.bundle.graph("memory")(*cols, presence)

    def _decoder(self, kind: str):
        return self.bundle.graph(f"{kind}_step")

    def _pixels(self, codes):
        return self.bundle.graph("vq_decode")(Tensor(codes)).asnumpy()

    def _speech_decoder(self):
        return self.bundle.graph("speech_decoder")

    def _has_ctc(self) -> bool:
        return "ctc" in self.bundle.graphs_info

    def _ctc(self, mel, mel_mask):
        return self.bundle.graph("ctc")(mel, mel_mask)

    def _vocode(self, logmel):
        return mel_to_audio(logmel, self.cfg.model.speech, GRIFFIN_LIM_ITERATIONS, 0)

    # ---- retrieval ------------------------------------------------------------------------------
    def embed(self, batch: dict, modality: str) -> np.ndarray:
        """(N, D) unified-space embeddings of one modality of a batch (no padding: the batch
        dimension is dynamic)."""
        graph = self.bundle.graph(f"{modality}_embed")
        return graph(*[Tensor(np.asarray(batch[c])) for c in EMBED_INPUTS[modality]]).asnumpy()

    def embed_manifest(self, manifest, batch_size: int = 50) -> dict:
        """As ``zidong.eval.retrieval.embed_manifest``: (N, D) per modality, presence, index."""
        out = {k: [] for k in MODALITIES + ("presence", "index")}
        for b in self.batches(manifest, batch_size):
            for m in MODALITIES:
                out[m].append(self.embed(b, m))
            out["presence"].append(b["presence"])
            out["index"].append(b["index"])
        res = {k: np.concatenate(v) for k, v in out.items()}
        order = np.argsort(res["index"])
        return {k: v[order] for k, v in res.items()}

    def match(self, batch: dict, use: tuple[str, ...]) -> np.ndarray:
        """(N,) matching-head probability that the modalities in ``use`` belong together."""
        want = np.array([m in use for m in MODALITIES], np.float32)
        want = np.tile(want, (len(batch["index"]), 1))
        cols = [Tensor(np.asarray(batch[c])) for c in BATCH_COLUMNS]
        return self.bundle.graph("match")(*cols, Tensor(want)).asnumpy()

    def retrieve(self, query: dict, source: str, manifest, target: str, top: int = 10,
                 rerank: int = 0) -> list[dict]:
        """Rank the samples of ``manifest`` that have ``target`` by cosine similarity to the
        ``source`` modality of the one-sample batch ``query``; ``rerank`` > 0 re-orders the first
        ``rerank`` by the matching head (needs the ``match`` graph). Ties keep manifest order."""
        from zidong.data.manifest import read_manifest
        for name, m in (("source", source), ("target", target)):
            if m not in MODALITIES:
                raise ValueError(f"{name} modality {m!r}; one of {', '.join(MODALITIES)}")
        if source == target:
            raise ValueError(f"query and candidates are both {source}: choose another --target")
        self.bundle.require("retrieve")
        q = self.embed(query, source)[0]
        emb = self.embed_manifest(manifest)
        have = np.flatnonzero(emb["presence"][:, MODALITIES.index(target)] > 0)
        if not len(have):
            raise ValueError(f"{manifest}: no sample has the {target} modality")
        scores = emb[target][have] @ q
        order = have[np.argsort(-scores, kind="stable")]
        samples = read_manifest(manifest)[0]
        ranked = [{"id": samples[i].id, "index": int(i), "score": float(emb[target][i] @ q)}
                  for i in order]
        if rerank > 0:
            ranked[:rerank] = self._rerank(query, source, manifest, target, ranked[:rerank])
        return ranked[:top]

    def _rerank(self, query, source, manifest, target, ranked):
        wanted = {r["index"] for r in ranked}
        probs = {}
        for b in self.batches(manifest, 50):
            rows = [k for k, i in enumerate(b["index"]) if int(i) in wanted]
            if not rows:
                continue
            pair = {c: np.asarray(b[c])[rows] for c in BATCH_COLUMNS}
            for c in EMBED_INPUTS[source]:  # the query's modality replaces the candidate's
                pair[c] = np.repeat(np.asarray(query[c])[:1], len(rows), 0)
            pair["index"] = np.asarray(b["index"])[rows]
            for i, p in zip(pair["index"], self.match(pair, (source, target))):
                probs[int(i)] = float(p)
        for r in ranked:
            r["match_prob"] = probs[r["index"]]
        return sorted(ranked, key=lambda r: -r["match_prob"])
