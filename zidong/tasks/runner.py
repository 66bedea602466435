"""Every task around the graphs, whoever provides them: a memory from exactly the modalities a task
conditions on, then a decoder. ``TaskEngine`` (a checkpoint's Cells) and ``MindirEngine``
(exported graphs, no model classes) subclass ``TaskRunner`` and supply only the calls below, so
preprocessing, batch padding, languages and search are one piece of code for both.

    _fuse(cols, presence) -> (memory, mask)      encoders + fusion over BATCH_COLUMNS
    _decoder(kind)        -> decoder(ids, memory, mask) -> logits, kind "text" or "image"
    _pixels(codes)        -> (B, C, H, W) normalised pixels (numpy)
    _speech_decoder()     -> fn(memory, mask, lengths, lang) -> (mel, length fraction)
    _vocode(logmel)       -> waveform
    _require(task)        -> raise if this runner cannot serve ``task``
    _has_ctc()            -> whether the run has a trained ctc head (else ASR is the text
                             decoder's alone and ``_ctc`` is never called)
    _ctc(mel, mel_mask)   -> CTC log-probs (B, T, V) and the speech tokens' mask (B, T)

Inputs go through the training data pipeline without masking (one place for resize,
normalisation, log-mel, tokenisation); batches are padded to a fixed size, so each graph sees one
shape.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from mindspore import Tensor

from zidong.audio import denormalize_log_mel
from zidong.config.special_tokens import EOS_ID, LANG_INDEX, PAD_ID
from zidong.data.manifest import Sample, write_manifest
from zidong.data.pipeline import DataPipeline
from zidong.decoding.ctc_prefix import CTCPrefixScorer
from zidong.decoding.generate import decode_image_codes, decode_speech, decode_text, step_over
from zidong.tasks.spec import ASR_CTC_WEIGHT, CONDITION, I2S_VIA, MODALITIES, OUTPUT, TASKS

LANG_NAMES = tuple(LANG_INDEX)  # a batch's lang_id 0, 1, ... (the last index: other languages)
BATCH_COLUMNS = ("text_ids", "text_mask", "image", "mel", "mel_mask")


def pad_rows(x: np.ndarray, n: int) -> np.ndarray:
    """Repeat the last row up to ``n`` rows: a short final batch runs the same graph."""
    return x if len(x) == n else np.concatenate([x, np.repeat(x[-1:], n - len(x), 0)])


class TaskRunner:
    cfg = tokenizer = None
    batch_size = 16
    # how image -> speech is said: "caption", the text decoder describes the image and the
    # speech decoder says that description from its text (t2s), or "direct", the speech decoder
    # reads the image's fused memory itself
    i2s_via = I2S_VIA[0]
    # speech recognition's joint CTC/attention decoding: the weight of the speech encoder's CTC
    # prefix scores beside the text decoder's (0: the text decoder alone). Used only when the
    # run has a trained ctc head (``_ctc``)
    ctc_weight = ASR_CTC_WEIGHT

    # ---- what a subclass provides ---------------------------------------------------------------
    def _fuse(self, cols, presence):
        raise NotImplementedError

    def _decoder(self, kind: str):
        raise NotImplementedError

    def _pixels(self, codes: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _speech_decoder(self):
        raise NotImplementedError

    def _vocode(self, logmel: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _require(self, task: str) -> None:
        pass

    def _has_ctc(self) -> bool:
        return False

    def _ctc(self, mel, mel_mask):
        raise NotImplementedError

    def asr_ctc_weight(self) -> float:
        """The CTC weight speech recognition runs with here: 0 without a trained ctc head."""
        return self.ctc_weight if self.ctc_weight > 0 and self._has_ctc() else 0.0

    # ---- inputs ---------------------------------------------------------------------------------
    def batches(self, manifest, batch_size: int | None = None):
        """Preprocessed batches of a manifest, in manifest order (``index`` says which sample)."""
        pipe = DataPipeline(manifest, self.cfg, self.tokenizer, batch_size or self.batch_size,
                            shuffle=False, masking=False, drop_remainder=False)
        yield from pipe.iterate(0)

    def batch_of(self, text: str | None = None, image: str | None = None,
                 audio: str | None = None, lang: str = "en") -> dict:
        """One preprocessed sample from a text and/or an image / WAV file (single inputs)."""
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
        cols = [Tensor(pad_rows(np.asarray(batch[c]), n)) for c in BATCH_COLUMNS]
        return self._fuse(cols, Tensor(np.tile(want, (n, 1))))

    # ---- tasks ----------------------------------------------------------------------------------
    def text(self, batch: dict, task: str, lang: str | None = None, beam_size: int = 4,
             method: str = "beam") -> list[str]:
        """caption / asr / vqa / vqa_speech. The output language is ``lang`` if given (captioning
        in a chosen language), else each sample's own (the utterance's for ASR, the question's
        for VQA)."""
        self._require(task)
        memory, mask = self.memory(batch, CONDITION[task])
        n = len(batch["index"])
        # a sample without a language of its own (an image alone) gets English unless asked
        langs = [lang or (LANG_NAMES[int(i)] if int(i) < len(LANG_NAMES) else LANG_NAMES[0])
                 for i in batch["lang_id"]]
        starts = pad_rows(np.array([self.tokenizer.start_id(x) for x in langs], np.int32),
                          self.batch_size)
        ctc = None
        if task == "asr" and method == "beam" and self.asr_ctc_weight() > 0:
            n_pad = self.batch_size
            logp, tokens = self._ctc(Tensor(pad_rows(np.asarray(batch["mel"]), n_pad)),
                                     Tensor(pad_rows(np.asarray(batch["mel_mask"]), n_pad)))
            ctc = CTCPrefixScorer(logp.asnumpy(), tokens.asnumpy().sum(1), PAD_ID, EOS_ID)
        ids = decode_text(step_over(self._decoder("text")), memory, mask,
                          self.cfg.model.text.max_len, starts, method, beam_size,
                          ctc=ctc, ctc_weight=self.ctc_weight)
        return [self.tokenizer.decode(row) for row in ids[:n]]

    def image_codes(self, batch: dict, task: str, temperature: float = 1.0, top_k: int = 0,
                    seed: int = 0) -> np.ndarray:
        """(batch_size, grid*grid) VQ codes, padding rows included (they draw from the same
        random stream, so they are part of what makes a seed reproducible)."""
        self._require(task)
        memory, mask = self.memory(batch, CONDITION[task])
        m = self.cfg.model
        return decode_image_codes(step_over(self._decoder("image")), memory, mask,
                                  m.image_tokens, m.image_tokenizer.codebook_size, temperature,
                                  top_k, seed)

    def images(self, batch: dict, task: str, temperature: float = 1.0, top_k: int = 0,
               seed: int = 0) -> np.ndarray:
        """t2i / s2i: (N, H, W, 3) uint8; the same seed gives the same images."""
        codes = self.image_codes(batch, task, temperature, top_k, seed)
        x = self._pixels(codes)[:len(batch["index"])]
        from zidong.data.media import image_to_uint8
        return image_to_uint8(x, self.cfg.data.image_mean, self.cfg.data.image_std)

    def with_text(self, batch: dict, texts: list[str]) -> dict:
        """``batch`` with each sample's text replaced by ``texts`` (encoded as the data pipeline
        encodes a manifest's text) and marked present."""
        from zidong.data.processor import encode_text
        rows = [encode_text(self.tokenizer, t, self.cfg.model.text.max_len)[:2] for t in texts]
        presence = np.array(batch["presence"], np.float32, copy=True)
        presence[:, MODALITIES.index("text")] = 1
        return {**batch, "text_ids": np.stack([r[0] for r in rows]),
                "text_mask": np.stack([r[1] for r in rows]), "presence": presence}

    def describe(self, batch: dict, lang: str | None = None,
                 beam_size: int = 4) -> tuple[list[str], list[np.ndarray]]:
        """i2s through text: each image's caption (in ``lang`` if given, else the sample's
        language) and that caption spoken (t2s), as (captions, log-mels)."""
        captions = self.text(batch, "caption", lang=lang, beam_size=beam_size)
        return captions, self.mels(self.with_text(batch, captions), "t2s", lang)

    def spoken(self, batch: dict, task: str, lang: str | None = None,
               beam_size: int = 4) -> tuple[list, list[np.ndarray]]:
        """t2s / i2s log-mels with what each one says when the runner chose it (i2s through a
        caption: that caption; otherwise None), as (said, log-mels)."""
        if task == "i2s" and self.i2s_via == "caption":
            return self.describe(batch, lang, beam_size)
        return [None] * len(batch["index"]), self.mels(batch, task, lang)

    def mels(self, batch: dict, task: str, lang: str | None = None) -> list[np.ndarray]:
        """t2s / i2s: normalised log-mel (frames, n_mels) per sample, spoken in ``lang`` if given,
        else in each sample's language (English for a sample without one). i2s goes through a
        caption unless ``i2s_via`` is "direct"."""
        if task == "i2s" and self.i2s_via == "caption":
            return self.describe(batch, lang)[1]
        self._require(task)
        memory, mask = self.memory(batch, CONDITION[task])
        if lang is not None and lang not in LANG_INDEX:
            raise ValueError(f"no speech language {lang!r}; known: {', '.join(LANG_INDEX)}")
        ids = np.array([LANG_INDEX[lang] if lang else
                        (int(i) if int(i) < len(LANG_NAMES) else LANG_INDEX["en"])
                        for i in batch["lang_id"]], np.int32)
        mels = decode_speech(self._speech_decoder(), memory, mask,
                             self.cfg.model.speech.max_frames, pad_rows(ids, self.batch_size))
        return mels[:len(batch["index"])]

    def speech(self, batch: dict, task: str, lang: str | None = None) -> list[np.ndarray]:
        """t2s / i2s: one waveform (float32 at the config's sample rate) per sample."""
        return [self.vocode(m) for m in self.mels(batch, task, lang)]

    def vocode(self, mel: np.ndarray) -> np.ndarray:
        """A normalised log-mel (frames, n_mels), as ``mels`` gives it -> waveform."""
        return self._vocode(denormalize_log_mel(mel))

    def run(self, batch: dict, task: str, **kw):
        if task not in CONDITION:
            raise ValueError(f"unknown task {task!r}; available: {', '.join(TASKS)}")
        kind = OUTPUT[task]
        return (self.text if kind == "text" else self.images if kind == "image"
                else self.speech)(batch, task, **kw)
