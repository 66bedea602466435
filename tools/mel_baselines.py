"""How low can an L1 loss on normalised log-mel go without modelling speech? (docs/results.md)

The two mel objectives (masked speech modelling, speech generation) regress log-mel frames with
L1. This measures simple predictors on the built-in corpus's `train` utterances, so their losses
can be read against a floor:
  - 0 (the global normalisation mean), the corpus per-bin median, each utterance's own per-bin
    median (an oracle: it knows the utterance);
  - for hidden spans like the masked-speech objective's (``data.masking.speech_span`` frames, placed
    uniformly in the utterance): the per-bin median and linear interpolation between the true frames
    either side (an oracle of the span's context).

  - with ``--voices N``: speech generated from its text when the voice is not known, as the speech
    decoder must (it is given the text and the language, not the voice). The first N English
    `train` captions are spoken by every installed English voice at rate 1.0; each rendering is
    predicted by the frame-wise median of the *other* voices' renderings, time-aligned to it by
    DTW against the rendering itself (an oracle of the timing, so this floor is optimistic).

    .venv/bin/python tools/mel_baselines.py [--samples 300] [--spans 4] [--voices 30]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="small")
    ap.add_argument("--samples", type=int, default=300, help="first N train utterances")
    ap.add_argument("--spans", type=int, default=4, help="hidden spans per utterance")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--voices", type=int, default=0,
                    help="also the voice-unknown floor over this many English captions")
    args = ap.parse_args(argv)

    import numpy as np
    from zidong.config.loader import load_config
    from zidong.data.media import decode_audio
    from zidong.audio.features import log_mel, normalize_log_mel
    from zidong.train.pretrain import default_corpus

    cfg = load_config(args.config)
    sc, span = cfg.model.speech, cfg.data.masking.speech_span
    root = default_corpus()
    every_row = [json.loads(line) for line in open(root / "train.jsonl", encoding="utf-8")]
    rows = [r for r in every_row if r.get("audio")][:args.samples]
    # the data pipeline's analysis (zidong/data/processor.py), without its padding
    mels = [normalize_log_mel(log_mel(decode_audio((root / r["audio"]).read_bytes(),
                                                   sc.sample_rate)[0], sc))[:sc.max_frames]
            for r in rows]
    frames = np.concatenate(mels)
    median = np.median(frames, axis=0)
    rng = np.random.default_rng(args.seed)
    at_median, interpolated = [], []
    for m in mels:
        for _ in range(args.spans):
            s = int(rng.integers(1, len(m) - span))
            t = (np.arange(1, span + 1) / (span + 1.0))[:, None]
            truth = m[s:s + span]
            at_median.append(np.abs(truth - median).mean())
            interpolated.append(np.abs(truth - (m[s - 1] * (1 - t) + m[s + span] * t)).mean())
    rows_out = [
        ("every frame", "0 (the normalisation mean)", np.abs(frames).mean()),
        ("every frame", "corpus per-bin median", np.abs(frames - median).mean()),
        ("every frame", "the utterance's own per-bin median (oracle)",
         np.mean([np.abs(m - np.median(m, axis=0)).mean() for m in mels])),
        (f"hidden {span}-frame spans", "corpus per-bin median", np.mean(at_median)),
        (f"hidden {span}-frame spans", "linear interpolation of the true frames either side (oracle)",
         np.mean(interpolated)),
    ]
    if args.voices:
        rows_out += voice_unknown_rows(every_row, args.voices, sc, median)
    print(f"{len(mels)} utterances, {len(frames)} frames, {len(at_median)} spans "
          f"(config {args.config}: {sc.n_mels} mels, hop {sc.hop_length})")
    print("| frames | predictor | L1 |\n| --- | --- | ---: |")
    for where, what, v in rows_out:
        print(f"| {where} | {what} | {v:.3f} |")
    return 0


def voice_unknown_rows(rows, n, sc, median):
    """Each voice's rendering of a caption against the DTW-aligned median of the other voices'."""
    import tempfile

    import numpy as np

    texts = [r["text"] for r in rows if r.get("lang") == "en" and r.get("text")][:n]
    others_median, nearest, at_median = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for ci, text in enumerate(texts):
            mels = [m for _, _, m in voice_renderings(text, sc, Path(tmp) / str(ci))]
            for i, m in enumerate(mels):
                aligned = aligned_others(mels, i)
                others_median.append(np.abs(np.median(aligned, axis=0) - m).mean())
                nearest.append(min(np.abs(a - m).mean() for a in aligned))
                at_median.append(np.abs(m - median).mean())
    where = f"{len(at_median)} renderings ({len(texts)} captions x {len(mels)} voices)"
    return [(where, "corpus per-bin median", np.mean(at_median)),
            (where, "median of the other voices, DTW-aligned to it (text and timing known, "
                    "voice not; oracle)", np.mean(others_median)),
            (where, "the closest other voice, DTW-aligned to it (oracle)", np.mean(nearest))]


def voice_renderings(text, sc, folder: Path) -> list:
    """``text`` spoken by every installed English voice at rate 1.0 into ``folder``:
    (voice, WAV path, normalised log-mel cut to ``max_frames``) each."""
    from zidong.audio.features import log_mel, normalize_log_mel
    from zidong.data.corpus.tts import synthesize, voices
    from zidong.data.media import decode_audio

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for vi, voice in enumerate(voices("en")):
        wav = folder / f"{vi}.wav"
        synthesize(text, "en", voice, 1.0, wav)
        x = decode_audio(wav.read_bytes(), sc.sample_rate)[0]
        out.append((voice, wav, normalize_log_mel(log_mel(x, sc))[:sc.max_frames]))
    return out


def aligned_others(mels, i) -> list:
    """Every mel but the ``i``-th, mapped onto the ``i``-th's timeline by DTW."""
    return [_aligned_to(mels[i], o) for j, o in enumerate(mels) if j != i]


def _aligned_to(m, other):
    """``other``'s frames mapped onto ``m``'s timeline along their DTW path (mean per frame)."""
    import librosa
    import numpy as np
    _, path = librosa.sequence.dtw(X=m.T, Y=other.T, metric="cityblock")
    out, count = np.zeros_like(m), np.zeros(len(m))
    for p, q in path:
        out[p] += other[q]
        count[p] += 1
    return out / count[:, None]


if __name__ == "__main__":
    sys.exit(main())
