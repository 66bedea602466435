"""How far can a speech decoder get that knows only each frame's token and where inside it the
frame lies?

A lookup table stands in for the decoder: for every (text token, offset bin inside the token)
the median normalised log-mel frame over the fitting samples (the first 80% of a manifest aligned
by `zidong data align`). For the other 20% it reports

- the L1 per log-mel value of the table's frames, placed by the true word times (as the speech
  decoder is trained), beside the corpus per-bin median's (what a decoder that ignores its text
  reaches);
- the WER by PocketSphinx (the t2s scorer) of the first ``--score`` of them vocoded by the run's
  vocoder, with the tokens placed by the true times and by each token's mean duration over the
  fitting samples (what a duration predictor that knows only the token would give).

    .venv/bin/python tools/mel_template.py --ckpt RUN [--data ALIGNED_MANIFEST] [--bins 8]
        [--score 30]

The run supplies the data pipeline (tokenizer, log-mel settings) and the vocoder; none of its
weights are used. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import wave
from collections import defaultdict
from pathlib import Path

import numpy as np


def frame_keys(tokens, shares, frames: int, bins: int):
    """Each of ``frames`` frames -> (its token, the bin of its offset inside the token), the
    tokens holding ``shares`` of the utterance in order."""
    end = np.cumsum(shares)
    start = end - shares
    rel = (np.arange(frames) + 0.5) / frames
    at = np.searchsorted(end, rel, side="right").clip(0, len(end) - 1)
    offset = (rel - start[at]) / np.maximum(shares[at], 1e-6)
    return tokens[at], np.clip((offset * bins).astype(int), 0, bins - 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, help="a run (its data settings and vocoder)")
    ap.add_argument("--data", default="cache/corpus/train_aligned.jsonl")
    ap.add_argument("--bins", type=int, default=8, help="offset bins per token")
    ap.add_argument("--score", type=int, default=30, help="held-out samples vocoded and scored")
    args = ap.parse_args()
    from zidong.tasks.cli import init_cpu
    init_cpu(args.ckpt)  # under the run's oneDNN cap
    from zidong.data.manifest import read_manifest
    from zidong.eval.asr_scorer import SphinxScorer, caption_jsgf
    from zidong.eval.text_metrics import wer
    from zidong.tasks.engine import TaskEngine

    engine = TaskEngine(args.ckpt, batch_size=64)
    cols = ("mel", "mel_len", "text_ids", "text_dur", "index")
    got = {c: [] for c in cols}
    for batch in engine.batches(args.data):
        timed = (batch["presence"][:, 0] > 0) & (batch["presence"][:, 2] > 0) \
            & (np.asarray(batch["text_dur"]).sum(1) > 0)
        for c in cols:
            got[c].append(np.asarray(batch[c])[timed])
    mel, length, ids, dur, index = (np.concatenate(got[c]) for c in cols)
    if len(mel) < 10:
        raise SystemExit(f"{args.data}: {len(mel)} samples with word times; run `zidong data "
                         f"align` on it first")
    n = len(mel)
    cut = int(0.8 * n)

    def keys(i):
        real = dur[i] > 0
        return frame_keys(ids[i][real], dur[i][real], int(length[i]), args.bins)

    frames = defaultdict(list)
    token_frames = defaultdict(list)
    for i in range(cut):
        for key, frame in zip(zip(*keys(i)), mel[i]):
            frames[key].append(frame)
        for t, d in zip(ids[i], dur[i]):
            if d > 0:
                token_frames[int(t)].append(d * length[i])
    table = {k: np.median(np.stack(v), 0) for k, v in frames.items()}
    median = np.median(np.concatenate([mel[i, :int(length[i])] for i in range(cut)]), 0)
    mean_frames = {t: float(np.mean(v)) for t, v in token_frames.items()}

    def look_up(tokens, bins):
        return np.stack([table.get((t, b), median) for t, b in zip(tokens, bins)])

    err = {"table": 0.0, "median": 0.0}
    count = 0
    for i in range(cut, n):
        true = mel[i, :int(length[i])]
        err["table"] += float(np.abs(look_up(*keys(i)) - true).mean(-1).sum())
        err["median"] += float(np.abs(median - true).mean(-1).sum())
        count += len(true)

    def by_mean_duration(i):
        tokens = [int(t) for t, d in zip(ids[i], dur[i]) if d > 0]
        spans = [max(1, round(mean_frames.get(t, 10.0))) for t in tokens]
        return frame_keys(np.array(tokens), np.array(spans, np.float64) / sum(spans), sum(spans),
                          args.bins)

    samples = read_manifest(args.data)[0]
    sphinx = SphinxScorer(caption_jsgf())
    scored = range(cut, min(n, cut + args.score))
    result = {}
    with tempfile.TemporaryDirectory() as tmp:
        wav_path = Path(tmp) / "t.wav"
        for name, place in (("true_times", keys), ("mean_durations", by_mean_duration)):
            errors = []
            for i in scored:
                wav = engine.vocode(look_up(*place(i)))
                with wave.open(str(wav_path), "wb") as w:
                    w.setnchannels(1)
                    w.setsampwidth(2)
                    w.setframerate(engine.cfg.model.speech.sample_rate)
                    w.writeframes((np.clip(wav, -1, 1) * 32767).astype(np.int16).tobytes())
                errors.append(wer(sphinx.transcribe(wav_path), samples[int(index[i])].text))
            result[f"wer_{name}"] = round(float(np.mean(errors)), 4)
    print(json.dumps({"data": args.data, "bins": args.bins, "fit": cut, "held_out": n - cut,
                      "table_l1": round(err["table"] / count, 4),
                      "median_l1": round(err["median"] / count, 4),
                      "scored": len(scored), **result}))


if __name__ == "__main__":
    main()
