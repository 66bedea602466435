"""One raw sample (manifest fields + media bytes) -> the fixed-shape arrays of a training batch.

The manifest reader and the MindRecord reader both yield RAW_COLUMNS, and both go through this
processor, so they give identical batches. A sample that cannot be used is marked invalid (the
pipeline filters it out) and logged with its file and reason; conversions and truncations are
counted. Nothing is dropped silently.
"""
from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from zidong.audio import LOG_MEL_FLOOR, log_mel, normalize_log_mel
from zidong.config.schema import Config
from zidong.config.special_tokens import EOS_ID, LANG_INDEX, NUM_LANGS, PAD_ID
from zidong.data.manifest import DataError
from zidong.data.masking import (drop_decoder_inputs, hide_modalities, mask_patches, mask_spans,
                                 mask_text)
from zidong.data.media import decode_audio, decode_image

# what a reader yields per sample
RAW_COLUMNS = ["index", "line", "id", "text", "lang", "image", "audio", "has", "label", "error",
               "image_path", "audio_path", "answer", "words"]
# added after files had been packed: a MindRecord without them reads with the defaults
OPTIONAL_RAW = ("answer", "words")
_LETTER = re.compile(r"[a-z']")
# what a batch holds (B leading); the order is the order of the dataset's columns
COLUMNS = ["text_ids", "text_mask", "dec_in", "dec_target", "dec_mask", "text_masked",
           "text_mlm_pos", "text_mlm_weight", "image", "image_mlm_mask", "mel", "mel_mask",
           "mel_mlm_mask", "mel_len", "presence", "hidden", "label", "lang_id", "index", "answer",
           "text_dur"]


@dataclass
class ProblemLog:
    """Thread-safe record of skipped samples, conversions and truncations."""
    skipped: list = field(default_factory=list)      # (index, id, reason naming the file)
    counts: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def skip(self, index: int, sid: str, reason: str) -> None:
        with self.lock:
            self.skipped.append((index, sid, reason))

    def count(self, what: str) -> None:
        with self.lock:
            self.counts[what] += 1

    def summary(self) -> str:
        with self.lock:
            lines = [f"skipped {len(self.skipped)} sample(s)"]
            for index, sid, reason in sorted(self.skipped):
                lines.append(f"  sample {sid}: {reason}")
            for what, n in sorted(self.counts.items()):
                lines.append(f"  {what}: {n}")
            return "\n".join(lines)


def _str(x) -> str:
    return str(x.item() if hasattr(x, "item") else x)


def encode_text(tok, text: str, max_len: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """The encoder's input for one text: (max_len,) token ids padded with PAD, its (max_len,)
    float mask, and whether it was truncated (room is kept for the decoder target's EOS)."""
    ids = tok.encode(text.strip())
    truncated = len(ids) > max_len - 1
    ids = ids[:max_len - 1]
    text_ids = np.full(max_len, PAD_ID, np.int32)
    text_ids[:len(ids)] = ids
    mask = np.zeros(max_len, np.float32)
    mask[:len(ids)] = 1
    return text_ids, mask, truncated


class SampleProcessor:
    def __init__(self, cfg: Config, tokenizer, seed: int = 0, masking: bool = True,
                 strict: bool = False):
        m = cfg.model
        if tokenizer.vocab_size > m.text.vocab_size:
            raise DataError(f"tokenizer has {tokenizer.vocab_size} pieces but model.text.vocab_size "
                            f"is {m.text.vocab_size}: raise model.text.vocab_size")
        self.cfg, self.m, self.tok = cfg, m, tokenizer
        self.seed, self.masking, self.strict = seed, masking, strict
        self.epoch = 0
        self.slots: dict[int, int] = {}  # sample index -> modality it hides this epoch
        self.log = ProblemLog()
        self.first_error = ""  # in strict mode: the problem that stopped the pipeline

    def start_epoch(self, epoch: int, slots: dict[int, int] | None = None) -> None:
        self.epoch = epoch
        self.slots = slots or {}
        self.log = ProblemLog()

    def empty(self) -> tuple:
        """An all-padding row in COLUMNS order (what an invalid sample carries until filtered)."""
        m, mk = self.m, self.cfg.data.masking
        lt, t = m.text.max_len, m.speech.max_frames
        z = np.zeros
        return (z(lt, np.int32), z(lt, np.float32), z(lt, np.int32), z(lt, np.int32),
                z(lt, np.float32), z(lt, np.int32), z(mk.text_count, np.int32),
                z(mk.text_count, np.float32),
                z((m.vision.channels, m.vision.image_size, m.vision.image_size), np.float32),
                z(m.vision_patches, np.float32),
                np.full((t, m.speech.n_mels), normalize_log_mel(LOG_MEL_FLOOR), np.float32),
                z(t, np.float32), z(t, np.float32), np.float32(0), z(3, np.float32),
                z(3, np.float32), np.int32(-1), np.int32(2), np.int32(-1), np.float32(0),
                z(lt, np.float32))

    def __call__(self, index, line, sid, text, lang, image, audio, has, label, error, image_path,
                 audio_path, answer="", words=""):
        """The mindspore.dataset map function: RAW_COLUMNS -> COLUMNS + [valid]."""
        index, sid = int(index), f"{_str(sid)!r} (manifest line {int(line)})"
        try:
            if _str(error):
                raise DataError(_str(error))
            row = self.process(index, _str(text), _str(lang), image.tobytes(), audio.tobytes(),
                               np.asarray(has) > 0, int(label), _str(image_path), _str(audio_path),
                               _str(answer), _str(words))
            return row + (np.int32(1),)
        except DataError as e:
            if self.strict:
                self.first_error = f"sample {sid}: {e}"
                raise DataError(self.first_error) from None
            self.log.skip(index, sid, str(e))
            return self.empty() + (np.int32(0),)

    def process(self, index, text, lang, image, audio, has, label, image_path, audio_path,
                answer="", words=""):
        m, mk = self.m, self.cfg.data.masking
        rng = np.random.default_rng([self.seed, self.epoch, index])
        row = list(self.empty())
        if has[0]:
            row[:8] = self._text(text, lang, rng)
        if answer:
            # a question with its answer (VQA): the question (its text, or its speech for a
            # spoken one) stays visible and the text decoder learns the answer; nothing of the
            # sample is hidden (below)
            if not (has[0] or has[2]) or not has[1]:
                raise DataError("a sample with meta.answer needs its question (text or speech) "
                                "and image")
            row[2:5] = self._decoder_target(answer, lang)
            row[19] = np.float32(1)
        if has[1]:
            try:
                row[8], notes = decode_image(image, m.vision.image_size, self.cfg.data.image_mean,
                                             self.cfg.data.image_std)
            except DataError as e:
                raise DataError(f"{image_path}: {e}") from None
            self._notes(notes)
            if self.masking:
                row[9] = mask_patches(m.vision_patches, mk.image_count, rng)
        if has[2]:
            try:
                row[10:14] = self._speech(audio, rng)
            except DataError as e:
                raise DataError(f"{audio_path}: {e}") from None
        if words and has[0] and has[2]:
            row[20] = self._durations(text, words, float(row[13]))
        row[14] = has.astype(np.float32)
        if self.masking and not answer:
            row[15] = hide_modalities(has, self.slots.get(index), mk.single_source_prob, rng)
        lang_id = LANG_INDEX.get(lang, NUM_LANGS - 1)
        row[16], row[17], row[18] = np.int32(label), np.int32(lang_id), np.int32(index)
        return tuple(row)

    def _notes(self, notes):
        for n in notes:
            self.log.count(n)

    def _text(self, text, lang, rng):
        lt, mk = self.m.text.max_len, self.cfg.data.masking
        if not text.strip():
            raise DataError("text is empty or whitespace only")
        text_ids, mask, truncated = encode_text(self.tok, text, lt)
        if truncated:
            self.log.count(f"text truncated to {lt - 1} tokens")
        n = int(mask.sum())
        ids = text_ids[:n].tolist()
        dec_in, dec_target, dec_mask = self._decoder_arrays(ids, lang)
        if self.masking:
            masked, pos, weight = mask_text(text_ids, n, mk.text_count, rng)
            dec_in = drop_decoder_inputs(dec_in, n, mk.decoder_dropout, rng)
        else:
            masked, pos, weight = text_ids.copy(), np.zeros(mk.text_count, np.int32), \
                np.zeros(mk.text_count, np.float32)
        return [text_ids, mask, dec_in, dec_target, dec_mask, masked, pos, weight]

    def _durations(self, text, words, frames):
        """Each text token's share of the utterance, from the aligned word times of
        ``meta.words`` (``zidong data align``): a word runs from its start to the next word's
        start (the first from 0, the last to the end), so pauses count with the word before
        them; a word's pieces share it equally. Zeros, counted, when they cannot be matched."""
        sc, lt = self.m.speech, self.m.text.max_len
        zero = np.zeros(lt, np.float32)
        try:
            starts = [float(w[1]) for w in json.loads(words)]
        except (ValueError, TypeError, IndexError):
            raise DataError(f"meta.words is not [[word, start_s, end_s], ...]: {words[:60]!r}") \
                from None
        pieces = self.tok.pieces(text.strip())
        total = frames * sc.hop_length / sc.sample_rate
        if len(pieces) > lt - 1 or frames >= sc.max_frames:
            self.log.count("word times unused: text or audio truncated")
            return zero
        groups = []           # piece indices of each word, a word starting at a "▁" piece
        for i, p in enumerate(pieces):
            if p.startswith("\u2581") or not groups:
                groups.append([])
            groups[-1].append(i)
        # pieces of punctuation alone are no aligned word: they get no time
        groups = [g for g in groups if _LETTER.search("".join(pieces[i] for i in g).lower())]
        if len(groups) != len(starts) or not starts or starts[-1] >= total:
            self.log.count("word times unused: they do not match the text's tokens")
            return zero
        bounds = [0.0] + starts[1:] + [total]
        out = zero.copy()
        for k, g in enumerate(groups):
            out[g] = (bounds[k + 1] - bounds[k]) / total / len(g)
        return out

    def _decoder_arrays(self, ids, lang):
        """Teacher-forcing input (language token first), target (EOS last) and mask."""
        lt, n = self.m.text.max_len, len(ids)
        dec_in = np.full(lt, PAD_ID, np.int32)
        dec_in[:n + 1] = [self.tok.start_id(lang)] + ids
        dec_target = np.full(lt, PAD_ID, np.int32)
        dec_target[:n + 1] = ids + [EOS_ID]
        dec_mask = np.zeros(lt, np.float32)
        dec_mask[:n + 1] = 1
        return dec_in, dec_target, dec_mask

    def _decoder_target(self, answer, lang):
        ids = self.tok.encode(answer.strip())[:self.m.text.max_len - 1]
        if not ids:
            raise DataError("meta.answer is empty")
        return list(self._decoder_arrays(ids, lang))

    def _speech(self, audio, rng):
        sc, mk = self.m.speech, self.cfg.data.masking
        wave, notes = decode_audio(audio, sc.sample_rate)
        self._notes(notes)
        mel = log_mel(wave, sc)
        if len(mel) > sc.max_frames:
            self.log.count(f"audio truncated to {sc.max_frames} frames "
                           f"({sc.max_frames * sc.hop_length / sc.sample_rate:.2f} s)")
            mel = mel[:sc.max_frames]
        n = len(mel)
        out = np.full((sc.max_frames, sc.n_mels), LOG_MEL_FLOOR, np.float32)
        out[:n] = mel
        mask = np.zeros(sc.max_frames, np.float32)
        mask[:n] = 1
        spans = mask_spans(sc.max_frames, n, mk.speech_spans, mk.speech_span, rng) \
            if self.masking else np.zeros(sc.max_frames, np.float32)
        return [normalize_log_mel(out), mask, spans, np.float32(n)]
