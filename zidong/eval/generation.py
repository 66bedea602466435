"""Scoring the generation tasks on a manifest: every sample that has what a task needs is run
through it, and the output is scored by something that is not the model.

    caption  image -> text   BLEU-4 and CER against the sample's text (per language); attribute
                             accuracy of the caption read back into a scene (scene_parse)
    asr      speech -> text  CER per language, WER for English
    vqa      question + image -> answer: exact match with meta.answer (a VQA manifest)
    t2i/s2i  -> images       written as PNG; attribute accuracy by the image scorer (if given)
    t2s/i2s  -> speech       written as WAV; WER of English speech by PocketSphinx (if given)

Scene-based scores need ``meta.scene`` (the built-in corpus has it); other manifests get the
text metrics only. Nothing here imports a model class: the engine is passed in.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from zidong.eval.scene_parse import ATTRIBUTES, attribute_report, parse_caption
from zidong.eval.text_metrics import bleu4, corpus_cer, corpus_wer
from zidong.tasks.spec import CONDITION, MODALITIES, OUTPUT, VQA_TASKS

GEN_TASKS = tuple(CONDITION)


def rows_with(batch: dict, mods) -> np.ndarray:
    want = np.array([m in mods for m in MODALITIES], bool)
    return np.flatnonzero((batch["presence"][:, want] > 0).all(1))


def subset_batch(batch: dict, rows) -> dict:
    return {k: np.asarray(v)[rows] for k, v in batch.items()}


class GenerationEval:
    def __init__(self, engine, manifest, out: Path, tasks, image_scorer=None,
                 speech_scorer=None, seed: int = 0, beam_size: int = 4,
                 temperature: float = 1.0, top_k: int = 0):
        from zidong.tasks.engine import manifest_samples
        self.engine, self.manifest, self.out = engine, Path(manifest), Path(out)
        self.tasks, self.seed, self.beam = list(tasks), seed, beam_size
        self.temperature, self.top_k = temperature, top_k  # image sampling (t2i / s2i)
        self.image_scorer, self.speech_scorer = image_scorer, speech_scorer
        self.samples = manifest_samples(manifest)
        self.records = defaultdict(list)  # task -> [{index, input, output, ...}]

    def _needs(self, task: str) -> tuple:
        # the reference a score needs, beyond the conditioning modalities
        if task in ("caption", "asr"):
            return CONDITION[task] + ("text",)
        if task == "i2s":
            return ("image", "text")
        return CONDITION[task]

    def run(self, limit: int | None = None) -> dict:
        done = defaultdict(int)
        for batch in self.engine.batches(self.manifest):
            for task in self.tasks:
                rows = rows_with(batch, self._needs(task))
                if task in VQA_TASKS:
                    rows = [r for r in rows if "answer" in self.samples[int(batch["index"][r])].meta]
                if limit is not None:
                    rows = rows[:max(limit - done[task], 0)]
                if len(rows):
                    self._run(task, subset_batch(batch, rows))
                    done[task] += len(rows)
            if limit is not None and all(done[t] >= limit for t in self.tasks):
                break
        m = self.metrics()
        if "asr" in self.records:   # how it was decoded: 0 is the text decoder alone
            m["asr.ctc_weight"] = self.engine.asr_ctc_weight()
        return m

    def _run(self, task: str, batch: dict) -> None:
        e, kind = self.engine, OUTPUT[task]
        samples = [self.samples[int(i)] for i in batch["index"]]
        if kind == "text":
            outs = e.text(batch, task, beam_size=self.beam)
            for s, o in zip(samples, outs):
                ref = s.meta.get("answer") if task in VQA_TASKS else s.text
                self.records[task].append({"id": s.id, "lang": s.lang, "output": o, "ref": ref,
                                           "scene": s.meta.get("scene"),
                                           "kind": s.meta.get("kind")})
        elif kind == "image":
            from zidong.tasks.generate import save_png
            folder = self.out / task
            folder.mkdir(parents=True, exist_ok=True)
            pixels = e.images(batch, task, self.temperature, self.top_k, self.seed)
            for s, p in zip(samples, pixels):
                path = save_png(folder / f"{s.id}.png", p)
                self.records[task].append({"id": s.id, "prompt": s.text, "output": str(path),
                                           "pixels": p, "scene": s.meta.get("scene")})
        else:
            from zidong.tasks.generate import save_wav
            folder = self.out / task
            folder.mkdir(parents=True, exist_ok=True)
            sr = e.cfg.model.speech.sample_rate
            said, mels = e.spoken(batch, task, beam_size=self.beam)
            for i, (s, m) in enumerate(zip(samples, mels)):
                path = save_wav(folder / f"{s.id}.wav", e.vocode(m), sr)
                # the recording's log-mel, where the sample has one, for the report's spectrograms
                n = int(batch["mel_len"][i])
                recorded = batch["mel"][i, :n] if s.audio is not None and n > 0 else None
                self.records[task].append({"id": s.id, "lang": s.lang, "ref": s.text,
                                           "output": str(path), "mel": m, "recorded": recorded,
                                           "said": said[i]})

    # ---- scores ---------------------------------------------------------------------------------
    def metrics(self) -> dict:
        m = {}
        for task, recs in self.records.items():
            m[f"{task}.n"] = len(recs)
            if task in ("caption", "asr"):
                m.update(self._text_scores(task, recs))
            elif task in VQA_TASKS:
                m.update(self._vqa_scores(task, recs))
            elif task in ("t2i", "s2i"):
                m.update(self._image_scores(task, recs))
                # the sampling settings are part of the figure: greedy and T=1 read differently
                m[f"{task}.temperature"], m[f"{task}.top_k"] = self.temperature, self.top_k
            else:
                m.update(self._speech_scores(task, recs))
        return m

    @staticmethod
    def _vqa_scores(task: str, recs: list) -> dict:
        """Exact-match accuracy, overall and per question kind (colour / count / shape /
        relation, from the question's ``meta.kind``): the kinds have different chance levels."""
        right = [r["output"].strip() == r["ref"] for r in recs]
        m = {f"{task}.acc": float(np.mean(right))}
        kinds = defaultdict(list)
        for r, ok in zip(recs, right):
            if r.get("kind"):
                kinds[r["kind"]].append(ok)
        for kind, oks in sorted(kinds.items()):
            m[f"{task}.acc.{kind}"], m[f"{task}.n.{kind}"] = float(np.mean(oks)), len(oks)
        return m

    @staticmethod
    def _text_scores(task: str, recs: list) -> dict:
        m = {}
        by_lang = defaultdict(list)
        for r in recs:
            by_lang[r["lang"] or "other"].append(r)
        for lang, rs in by_lang.items():
            hyps, refs = [r["output"] for r in rs], [r["ref"] for r in rs]
            m[f"{task}.{lang}.cer"] = corpus_cer(hyps, refs, lang if lang == "zh" else None)
            if lang != "zh":
                m[f"{task}.{lang}.wer"] = corpus_wer(hyps, refs)
            if task == "caption":
                m[f"{task}.{lang}.bleu4"] = bleu4(hyps, refs, lang if lang == "zh" else None)
        scenes = [r for r in recs if r["scene"]]
        if task == "caption" and scenes:
            # the image does not say which group the caption names first: either order scores
            rep = attribute_report([parse_caption(r["output"], r["lang"]) for r in scenes],
                                   [r["scene"] for r in scenes], symmetric=True)
            m["caption.attr_acc"] = rep["mean"]
            m["caption.exact"] = rep["exact"]
            # which attribute the captions miss (a.shape, relation, ...): the mean hides it
            m.update({f"caption.attr.{k}": rep[k] for k in ATTRIBUTES})
        return m

    def _image_scores(self, task: str, recs: list) -> dict:
        scored = [r for r in recs if r["scene"]]
        if self.image_scorer is None or not scored:
            return {}
        rep = self.image_scorer.attr_acc(np.stack([r["pixels"] for r in scored]),
                                         [r["scene"] for r in scored])
        return {f"{task}.attr_acc": rep["mean"], f"{task}.exact": rep.get("exact", 0.0)}

    def _speech_scores(self, task: str, recs: list) -> dict:
        english = [r for r in recs if r["lang"] == "en" and r["ref"]]
        if self.speech_scorer is None or not english:
            return {}
        hyps = [self.speech_scorer.transcribe(r["output"]) for r in english]
        for r, h in zip(english, hyps):
            r["heard"] = h
        return {f"{task}.wer": corpus_wer(hyps, [r["ref"] for r in english]),
                f"{task}.wer_n": len(english)}
