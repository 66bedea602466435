"""The MINDIR runtime: every task served from an export folder alone (its graphs, tokenizer and
config), without the model classes: nothing here imports ``zidong.models`` or the run loader, so
a deployment needs neither (tested with ``zidong.models`` made unimportable).

It mirrors ``zidong.tasks.engine.TaskEngine`` step for step (same preprocessing, same batch
padding, same search functions), so that the same inputs and seed give the same outputs; the
parity tests in ``tests/export`` hold the two to that.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from mindspore import Tensor

from zidong.audio import denormalize_log_mel, mel_to_audio
from zidong.config import config_from_dict
from zidong.config.special_tokens import EOS_ID, LANG_INDEX, PAD_ID
from zidong.data.manifest import Sample, write_manifest
from zidong.data.pipeline import DataPipeline
from zidong.data.tokenizer import Tokenizer
from zidong.decoding import beam_search, greedy_search, sample_search
from zidong.export.bundle import MANIFEST, Bundle
from zidong.tasks.spec import CONDITION, MODALITIES, OUTPUT

LANG_NAMES = tuple(LANG_INDEX)
BATCH_COLUMNS = ("text_ids", "text_mask", "image", "mel", "mel_mask")
EMBED_INPUTS = {"text": ("text_ids", "text_mask"), "image": ("image",),
                "speech": ("mel", "mel_mask")}
GRIFFIN_LIM_ITERATIONS = 32  # as zidong.models.vocoder.GriffinLimVocoder


def _pad_rows(x: np.ndarray, n: int) -> np.ndarray:
    return x if len(x) == n else np.concatenate([x, np.repeat(x[-1:], n - len(x), 0)])


def _graph_step(graph, memory: Tensor, mask: Tensor):
    def step(ids: np.ndarray) -> np.ndarray:
        return graph(Tensor(np.asarray(ids, np.int32)), memory, mask).asnumpy()
    return step


class MindirEngine:
    def __init__(self, folder, batch_size: int = 16):
        self.bundle = Bundle(folder)
        self.cfg = config_from_dict(self.bundle.info["config"],
                                    f"{Path(folder) / MANIFEST} (config)")
        self.tokenizer = Tokenizer.load(self.bundle.tokenizer_path())
        self.batch_size = batch_size

    # ---- inputs (as TaskEngine: the training pipeline without masking) ------------------------
    def batches(self, manifest, batch_size: int | None = None):
        pipe = DataPipeline(manifest, self.cfg, self.tokenizer, batch_size or self.batch_size,
                            shuffle=False, masking=False, drop_remainder=False)
        yield from pipe.iterate(0)

    def batch_of(self, text: str | None = None, image: str | None = None,
                 audio: str | None = None, lang: str = "en") -> dict:
        sample = Sample(id="input", text=text, lang=lang if text or audio else None,
                        image=str(Path(image).resolve()) if image else None,
                        audio=str(Path(audio).resolve()) if audio else None)
        with tempfile.TemporaryDirectory() as tmp:
            manifest = Path(tmp) / "input.jsonl"
            write_manifest(manifest, [sample])
            pipe = DataPipeline(manifest, self.cfg, self.tokenizer, 1, shuffle=False,
                                masking=False, drop_remainder=False, strict=True)
            return next(iter(pipe.iterate(0)))

    # ---- graphs ---------------------------------------------------------------------------------
    def memory(self, batch: dict, use: tuple[str, ...]):
        want = np.array([m in use for m in MODALITIES], np.float32)
        lacking = np.flatnonzero(((batch["presence"] * want) != want).any(1))
        if len(lacking):
            raise ValueError(f"sample index {int(batch['index'][lacking[0]])} lacks a modality the "
                             f"task needs ({', '.join(use)})")
        n = self.batch_size
        cols = [Tensor(_pad_rows(np.asarray(batch[c]), n)) for c in BATCH_COLUMNS]
        memory, mask = self.bundle.graph("memory")(*cols, Tensor(np.tile(want, (n, 1))))
        return memory, mask

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

    # ---- tasks ----------------------------------------------------------------------------------
    def text(self, batch: dict, task: str, lang: str | None = None, beam_size: int = 4,
             method: str = "beam") -> list[str]:
        self.bundle.require(task)
        memory, mask = self.memory(batch, CONDITION[task])
        n = len(batch["index"])
        langs = [lang or (LANG_NAMES[int(i)] if int(i) < len(LANG_NAMES) else LANG_NAMES[0])
                 for i in batch["lang_id"]]
        starts = _pad_rows(np.array([self.tokenizer.start_id(x) for x in langs], np.int32),
                           self.batch_size)
        graph, max_len = self.bundle.graph("text_step"), self.cfg.model.text.max_len
        rows = self.batch_size
        if method == "greedy":
            ids = greedy_search(_graph_step(graph, memory, mask), rows, max_len, starts, EOS_ID,
                                PAD_ID)
        elif method == "beam":
            mem = Tensor(np.repeat(memory.asnumpy(), beam_size, 0))
            msk = Tensor(np.repeat(mask.asnumpy(), beam_size, 0))
            ids = beam_search(_graph_step(graph, mem, msk), rows, max_len, starts, EOS_ID,
                              beam_size, 1.0, PAD_ID)
        else:
            raise ValueError(f"method must be 'greedy' or 'beam', got {method!r}")
        return [self.tokenizer.decode(row) for row in ids[:n]]

    def image_codes(self, batch: dict, task: str, temperature: float = 1.0, top_k: int = 0,
                    seed: int = 0) -> np.ndarray:
        """(batch_size, grid*grid) VQ codes, padding rows included (they draw from the same
        random stream, so they are part of what makes a seed reproducible)."""
        self.bundle.require(task)
        memory, mask = self.memory(batch, CONDITION[task])
        m = self.cfg.model
        rows = sample_search(_graph_step(self.bundle.graph("image_step"), memory, mask),
                             self.batch_size, m.image_tokens, m.image_tokenizer.codebook_size,
                             None, temperature, top_k, seed, pad=0)
        return np.asarray(rows, np.int32)

    def images(self, batch: dict, task: str, temperature: float = 1.0, top_k: int = 0,
               seed: int = 0) -> np.ndarray:
        """(N, H, W, 3) uint8."""
        codes = self.image_codes(batch, task, temperature, top_k, seed)
        x = self.bundle.graph("vq_decode")(Tensor(codes)).asnumpy()[:len(batch["index"])]
        d = self.cfg.data
        x = np.clip(x * d.image_std + d.image_mean, 0.0, 1.0)
        return (x.transpose(0, 2, 3, 1) * 255 + 0.5).astype(np.uint8)

    def mels(self, batch: dict, task: str, lang: str | None = None) -> list[np.ndarray]:
        """Normalised log-mel (frames, n_mels) per sample, as long as the length predictor says."""
        self.bundle.require(task)
        memory, mask = self.memory(batch, CONDITION[task])
        if lang is not None and lang not in LANG_INDEX:
            raise ValueError(f"no speech language {lang!r}; known: {', '.join(LANG_INDEX)}")
        ids = np.array([LANG_INDEX[lang] if lang else
                        (int(i) if int(i) < len(LANG_NAMES) else LANG_INDEX["en"])
                        for i in batch["lang_id"]], np.int32)
        lang_t = Tensor(_pad_rows(ids, self.batch_size))
        graph, max_frames = self.bundle.graph("speech_decoder"), self.cfg.model.speech.max_frames
        dummy = Tensor(np.full((self.batch_size,), max_frames, np.float32))
        _, frac = graph(memory, mask, dummy, lang_t)
        lengths = np.clip(np.rint(frac.asnumpy() * max_frames), 1, max_frames).astype(np.float32)
        mel = graph(memory, mask, Tensor(lengths), lang_t)[0].asnumpy()
        return [mel[i, :int(lengths[i])] for i in range(len(batch["index"]))]

    def speech(self, batch: dict, task: str, lang: str | None = None) -> list[np.ndarray]:
        sc = self.cfg.model.speech
        return [mel_to_audio(denormalize_log_mel(m), sc, GRIFFIN_LIM_ITERATIONS, 0)
                for m in self.mels(batch, task, lang)]

    def run(self, batch: dict, task: str, **kw):
        if task not in CONDITION:
            raise ValueError(f"unknown task {task!r}; available: {', '.join(CONDITION)}")
        kind = OUTPUT[task]
        return (self.text if kind == "text" else self.images if kind == "image"
                else self.speech)(batch, task, **kw)
