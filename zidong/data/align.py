"""``zidong data align``: where each word of an English recording falls, written into the manifest.

The speech decoder places the words of its text in time by a prior; trained through that prior
alone, token durations did not learn timing (docs/results.md), and the equal shares the prior
assumes miss the aligned word centres by 0.16 s on average. Word times with a target are what a
duration predictor needs. PocketSphinx (already the project's independent English recogniser; its
wheel ships the US English model and CMUdict) does forced alignment: given the words, it finds
where they are.

    zidong data align cache/corpus/train.jsonl --out cache/corpus/train_aligned.jsonl

Each English sample with audio and text gets ``meta.words``: ``[[word, start_s, end_s], ...]`` in
the order of its text. Every other sample is copied unchanged, and counted by why it has no
times (not English, no audio or text, a word the dictionary lacks, an alignment that did not
return the text's words). English only: no Chinese model ships in a wheel.
"""
from __future__ import annotations

import re
import wave
from dataclasses import replace
from pathlib import Path

from zidong.data.manifest import DataError, read_manifest, rebase, resolve, write_manifest

SAMPLE_RATE = 16000  # the shipped acoustic model's rate
_WORD = re.compile(r"[a-z']+")


def words_of(text: str) -> list[str]:
    """The dictionary words of an English text: lower case, punctuation dropped."""
    return _WORD.findall(text.lower())


class WordAligner:
    def __init__(self):
        try:
            import pocketsphinx
        except ImportError as e:
            raise ImportError("word alignment needs PocketSphinx: pip install pocketsphinx "
                              "(its wheel includes the English model)") from e
        # no language model: the aligner searches only the given words. With fillers a pause
        # is a pause (tested; without them the next word swallows it), but on 21% of the
        # corpus's English test recordings that search ends outside the text; then the
        # filler-free search, which aligned 98.5% of them, places the words
        self.decoders = [pocketsphinx.Decoder(lm=None, loglevel="FATAL"),
                         pocketsphinx.Decoder(lm=None, loglevel="FATAL", fsgusefiller=False)]

    def unknown(self, words: list[str]) -> list[str]:
        return [w for w in words if self.decoders[0].lookup_word(w) is None]

    def align(self, wav_path: str | Path, text: str) -> list[tuple[str, float, float]] | None:
        """``[(word, start_s, end_s), ...]`` for the words of ``text``, silences left out; None
        when the alignment does not come back as exactly those words."""
        words = words_of(text)
        with wave.open(str(wav_path)) as w:
            if w.getframerate() != SAMPLE_RATE or w.getnchannels() != 1:
                raise DataError(f"{wav_path}: {w.getframerate()} Hz, {w.getnchannels()} "
                                f"channel(s); the aligner needs {SAMPLE_RATE} Hz mono")
            pcm = w.readframes(w.getnframes())
        for decoder in self.decoders:
            decoder.set_align_text(" ".join(words))
            decoder.start_utt()
            decoder.process_raw(pcm, full_utt=True)
            decoder.end_utt()
            found = decoder.seg()    # None when the search ended outside the text
            if found is None:
                continue
            # 10 ms frames; an alternative pronunciation comes back as "the(2)"; silences and
            # noises (<sil>, [NOISE], ++...++) are fillers, not words
            segs = [(s.word.split("(")[0], s.start_frame / 100, (s.end_frame + 1) / 100)
                    for s in found if not s.word.startswith(("<", "[", "+"))]
            if [s[0] for s in segs] == words:
                return segs
        return None


def align_manifest(inp, out) -> dict:
    """Write ``out``: ``inp`` with ``meta.words`` on every sample that could be aligned, media
    paths rewritten relative to ``out``'s folder. Returns the counts."""
    samples, problems = read_manifest(inp)
    if problems:
        raise DataError(f"{inp}: {len(problems)} bad line(s), e.g. {problems[0]}; "
                        f"`zidong data check` lists them")
    aligner = WordAligner()
    folder = Path(out).resolve().parent
    counts = {"aligned": 0, "not_en": 0, "no_audio_or_text": 0, "unknown_word": 0,
              "not_aligned": 0}
    unknown_examples: list[str] = []
    written = []
    for s in samples:
        meta = {k: v for k, v in s.meta.items() if k != "words"}   # never a stale alignment
        if s.lang != "en":
            counts["not_en"] += 1
        elif s.audio is None or not s.text:
            counts["no_audio_or_text"] += 1
        elif missing := aligner.unknown(words_of(s.text)):
            counts["unknown_word"] += 1
            unknown_examples += [w for w in missing if w not in unknown_examples][:5]
        elif (segs := aligner.align(resolve(inp, s.audio), s.text)) is None:
            counts["not_aligned"] += 1
        else:
            meta["words"] = [[w, round(a, 2), round(b, 2)] for w, a, b in segs]
            counts["aligned"] += 1
        written.append(rebase(replace(s, meta=meta), inp, folder))
    write_manifest(out, written)
    return {"in": str(inp), "out": str(out), "samples": len(samples), **counts,
            "unknown_words": unknown_examples[:10]}
