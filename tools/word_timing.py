"""Where the words of a recording fall, against where the speech decoder's alignment prior puts them.

PocketSphinx forced alignment (its wheel's US English model, the caption's words given) finds each
word's start and end in an English recording. The prior (``model.speech_decoder.align_prior``)
centres every text token at an equal share of the utterance; a rule that gives each word a share
proportional to its letters (+1) is the cheapest alternative. Both are compared with the aligned
word centres, in seconds of the recording:

    .venv/bin/python tools/word_timing.py --data cache/corpus/test.jsonl --limit 60

Prints one JSON line: utterances aligned (those whose aligned words differ from the text are
counted and skipped), the mean |centre error| of each rule, the mean word duration and its range.
English only: the shipped model has no Chinese.
"""
from __future__ import annotations

import argparse
import wave
from pathlib import Path

import numpy as np

from zidong.data.align import WordAligner, words_of
from zidong.data.manifest import read_manifest, resolve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="cache/corpus/test.jsonl")
    ap.add_argument("--limit", type=int, default=60, help="English recordings to align")
    args = ap.parse_args()
    manifest = Path(args.data)
    rows = [s for s in read_manifest(manifest)[0] if s.lang == "en" and s.audio and s.text]
    aligner = WordAligner()
    errors = {"uniform": [], "letters": []}
    durations, skipped = [], 0
    for r in rows[:args.limit]:
        path = resolve(manifest, r.audio)
        with wave.open(str(path)) as w:
            seconds = w.getnframes() / w.getframerate()
        words = words_of(r.text)
        segs = aligner.align(path, r.text)
        if segs is None:
            skipped += 1
            continue
        centres = np.array([(a + b) / 2 for _, a, b in segs]) / seconds   # fraction of the file
        k = len(words)
        share = np.array([len(w) + 1 for w in words], float)
        rules = {"uniform": (np.arange(k) + 0.5) / k,
                 "letters": (np.cumsum(share) - share / 2) / share.sum()}
        for name, c in rules.items():
            errors[name].append(float(np.abs(c - centres).mean() * seconds))
        durations += [b - a for _, a, b in segs]
    print(json.dumps({"data": str(manifest), "aligned": len(errors["uniform"]), "skipped": skipped,
                      "centre_error_s": {k: round(float(np.mean(v)), 3) for k, v in errors.items()},
                      "word_s": {"mean": round(float(np.mean(durations)), 3),
                                 "min": round(float(np.min(durations)), 3),
                                 "max": round(float(np.max(durations)), 3)}}))


if __name__ == "__main__":
    main()
