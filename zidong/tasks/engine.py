"""One loaded run serving every task: the encoders and the fusion make a memory from whichever
modalities a task conditions on, and a decoder generates from it.

    caption  image  -> text    (text decoder, beam search, in the language asked for)
    asr      speech -> text    (text decoder, in the utterance's language)
    vqa      image + question (text) -> answer (text decoder)
    t2i/s2i  text / speech -> VQ codes -> pixels (image decoder + frozen VQ tokenizer)
    t2s/i2s  text / image  -> log-mel -> waveform (speech decoder + vocoder)

Inputs come through the same data pipeline as training (no masking), so preprocessing has one
place. Batches are padded to a fixed size: every graph compiles once.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import mindspore as ms
from mindspore import Tensor

from zidong.audio import denormalize_log_mel
from zidong.config.special_tokens import LANG_INDEX
from zidong.data.manifest import Sample, read_manifest, write_manifest
from zidong.data.pipeline import DataPipeline
from zidong.eval.load import load_run
from zidong.models.generation import generate_image_codes, generate_speech, generate_text
from zidong.models.vocoder import create_vocoder
from zidong.tasks.spec import CONDITION, MODALITIES, OUTPUT, TASKS

LANG_NAMES = tuple(LANG_INDEX)  # a batch's lang_id 0, 1, ... (the last index: other languages)
BATCH_COLUMNS = ("text_ids", "text_mask", "image", "mel", "mel_mask")


def _pad_rows(x: np.ndarray, n: int) -> np.ndarray:
    """Repeat the last row up to ``n`` rows: a short final batch runs the same graph."""
    return x if len(x) == n else np.concatenate([x, np.repeat(x[-1:], n - len(x), 0)])


class TaskEngine:
    def __init__(self, run, batch_size: int = 16, vocoder: str = "griffin_lim"):
        self.model, self.cfg, self.tokenizer, self.meta = load_run(run)
        self.batch_size = batch_size
        self.vocoder = create_vocoder(vocoder, self.cfg.model.speech)
        model = self.model

        @ms.jit
        def fuse(text_ids, text_mask, image, mel, mel_mask, presence):
            return model(text_ids, text_mask, image, mel, mel_mask, presence)

        @ms.jit
        def pixels(codes):
            return model.image_tokenizer.decode(codes)

        self._fuse, self._pixels = fuse, pixels

    # ---- inputs ---------------------------------------------------------------------------------
    def batches(self, manifest):
        """Preprocessed batches of a manifest, in manifest order (``index`` says which sample)."""
        pipe = DataPipeline(manifest, self.cfg, self.tokenizer, self.batch_size, shuffle=False,
                            masking=False, drop_remainder=False)
        yield from pipe.iterate(0)

    def batch_of(self, text: str | None = None, image: str | None = None,
                 audio: str | None = None, lang: str = "en") -> dict:
        """One preprocessed sample from a text and/or an image / WAV file (``zidong generate``)."""
        sample = Sample(id="input", text=text, lang=lang if text or audio else None,
                        image=str(Path(image).resolve()) if image else None,
                        audio=str(Path(audio).resolve()) if audio else None)
        with tempfile.TemporaryDirectory() as tmp:
            manifest = Path(tmp) / "input.jsonl"
            write_manifest(manifest, [sample])
            pipe = DataPipeline(manifest, self.cfg, self.tokenizer, 1, shuffle=False,
                                masking=False, drop_remainder=False, strict=True)
            return next(iter(pipe.iterate(0)))

    # ---- the shared part: a memory from the conditioning modalities ----------------------------
    def memory(self, batch: dict, use: tuple[str, ...]):
        """Fused memory and mask (padded to ``batch_size`` rows) from the modalities in ``use``;
        a sample lacking one of them raises, naming the sample."""
        want = np.array([m in use for m in MODALITIES], np.float32)
        lacking = np.flatnonzero(((batch["presence"] * want) != want).any(1))
        if len(lacking):
            raise ValueError(f"sample index {int(batch['index'][lacking[0]])} lacks a modality the "
                             f"task needs ({', '.join(use)})")
        n = self.batch_size
        cols = [Tensor(_pad_rows(np.asarray(batch[c]), n)) for c in BATCH_COLUMNS]
        presence = Tensor(np.tile(want, (n, 1)))
        memory, mask = self._fuse(*cols, presence)[:2]
        return memory, mask

    # ---- tasks ----------------------------------------------------------------------------------
    def text(self, batch: dict, task: str, lang: str | None = None, beam_size: int = 4,
             method: str = "beam") -> list[str]:
        """caption / asr / vqa. The output language is ``lang`` if given (captioning in a chosen
        language), else each sample's own (the utterance's for ASR, the question's for VQA)."""
        memory, mask = self.memory(batch, CONDITION[task])
        n = len(batch["index"])
        # a sample without a language of its own (an image alone) gets English unless asked
        langs = [lang or (LANG_NAMES[int(i)] if int(i) < len(LANG_NAMES) else LANG_NAMES[0])
                 for i in batch["lang_id"]]
        starts = _pad_rows(np.array([self.tokenizer.start_id(x) for x in langs], np.int32),
                           self.batch_size)
        ids = generate_text(self.model, memory, mask, method, beam_size, start=starts)
        return [self.tokenizer.decode(row) for row in ids[:n]]

    def images(self, batch: dict, task: str, temperature: float = 1.0, top_k: int = 0,
               seed: int = 0) -> np.ndarray:
        """t2i / s2i: (N, H, W, 3) uint8; the same seed gives the same images."""
        memory, mask = self.memory(batch, CONDITION[task])
        codes = generate_image_codes(self.model, memory, mask, temperature, top_k, seed)
        x = self._pixels(Tensor(codes, ms.int32)).asnumpy()[:len(batch["index"])]
        d = self.cfg.data
        x = np.clip(x * d.image_std + d.image_mean, 0.0, 1.0)
        return (x.transpose(0, 2, 3, 1) * 255 + 0.5).astype(np.uint8)

    def speech(self, batch: dict, task: str, lang: str | None = None) -> list[np.ndarray]:
        """t2s / i2s: one waveform (float32 at the config's sample rate) per sample, spoken in
        ``lang`` if given, else in each sample's language (English for a sample without one)."""
        memory, mask = self.memory(batch, CONDITION[task])
        if lang is not None and lang not in LANG_INDEX:
            raise ValueError(f"no speech language {lang!r}; known: {', '.join(LANG_INDEX)}")
        ids = np.array([LANG_INDEX[lang] if lang else
                        (int(i) if int(i) < len(LANG_NAMES) else LANG_INDEX["en"])
                        for i in batch["lang_id"]], np.int32)
        mels = generate_speech(self.model, memory, mask,
                               _pad_rows(ids, self.batch_size))[:len(batch["index"])]
        return [self.vocoder(denormalize_log_mel(m)) for m in mels]

    def run(self, batch: dict, task: str, **kw):
        if task not in CONDITION:
            raise ValueError(f"unknown task {task!r}; available: {', '.join(TASKS)}")
        kind = OUTPUT[task]
        return (self.text if kind == "text" else self.images if kind == "image"
                else self.speech)(batch, task, **kw)


def manifest_samples(manifest) -> list[Sample]:
    """The manifest's samples, indexable by a batch's ``index`` column."""
    return read_manifest(manifest)[0]
