"""How intelligible can generated speech be here? PocketSphinx WER of log-mels vocoded (docs/tasks.md)

t2s / i2s are scored by PocketSphinx on the WAV that the speech decoder's log-mel becomes after the
vocoder. This measures that chain on mels that no model produced, so a WER of the model's output
can be read against it. The first N English `test` captions are each spoken by every installed
English voice (rate 1.0), and each rendering is scored as:
  - the recorded WAV itself (the scorer's own floor);
  - its log-mel, the data pipeline's analysis cut to ``max_frames``, through the vocoder (the
    ceiling for a decoder that reproduced the mel exactly);
  - the frame-wise median of the *other* voices' mels, DTW-aligned to it, through the vocoder:
    the voice-unknown oracle of tools/mel_baselines.py (text and timing known, voice not), whose
    L1 is the floor that ``speech_gen`` can reach;
  - the corpus per-bin median (one frame repeated: the "average voice" a decoder that ignores its
    prompt converges to).

    .venv/bin/python tools/speech_ceiling.py [--captions 20] [--out runs/speech_ceiling]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="small")
    ap.add_argument("--captions", type=int, default=20, help="first N English test captions")
    ap.add_argument("--median-from", type=int, default=300,
                    help="train utterances the corpus per-bin median is taken over")
    ap.add_argument("--vocoder", default="griffin_lim")
    ap.add_argument("--out", default="runs/speech_ceiling", help="WAVs and a JSON report")
    args = ap.parse_args(argv)

    import numpy as np
    from mel_baselines import aligned_others, voice_renderings
    from zidong.audio.features import denormalize_log_mel, log_mel, normalize_log_mel
    from zidong.config.loader import load_config
    from zidong.data.media import decode_audio
    from zidong.eval.asr_scorer import SphinxScorer, caption_jsgf
    from zidong.eval.text_metrics import corpus_wer
    from zidong.models.vocoder import create_vocoder
    from zidong.tasks.generate import save_wav
    from zidong.train.pretrain import default_corpus

    sc = load_config(args.config).model.speech
    root, out = default_corpus(), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    test = [json.loads(line) for line in open(root / "test.jsonl", encoding="utf-8")]
    texts = [r["text"] for r in test if r.get("lang") == "en" and r.get("text")][:args.captions]
    train = [json.loads(line) for line in open(root / "train.jsonl", encoding="utf-8")]

    def mel_of(wav_bytes):
        return normalize_log_mel(log_mel(decode_audio(wav_bytes, sc.sample_rate)[0],
                                         sc))[:sc.max_frames]

    median = np.median(np.concatenate([mel_of((root / r["audio"]).read_bytes())
                                       for r in train if r.get("audio")][:args.median_from]),
                       axis=0)
    vocoder, scorer = create_vocoder(args.vocoder, sc), SphinxScorer(caption_jsgf())
    kinds = ("recorded", "own_mel", "other_voices_median", "corpus_median")
    heard = {k: [] for k in kinds}
    refs, examples = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for ci, text in enumerate(texts):
            renders = voice_renderings(text, sc, Path(tmp) / str(ci))
            for vi, (voice, wav, m) in enumerate(renders):
                others = aligned_others([r[2] for r in renders], vi)
                mels = {"own_mel": m, "other_voices_median": np.median(others, axis=0),
                        "corpus_median": np.broadcast_to(median, m.shape)}
                heard["recorded"].append(scorer.transcribe(wav))
                for kind, mel in mels.items():
                    path = out / f"{ci:02d}_{vi}_{kind}.wav"
                    save_wav(path, vocoder(denormalize_log_mel(mel)), sc.sample_rate)
                    heard[kind].append(scorer.transcribe(path))
                refs.append(text)
                if vi == 0:
                    examples.append({"text": text, "voice": voice,
                                     **{k: heard[k][-1] for k in kinds}})
            print(f"caption {ci + 1}/{len(texts)}: " + "  ".join(
                f"{k} {100 * corpus_wer(heard[k], refs):.1f}%" for k in kinds), flush=True)
    report = {"config": args.config, "vocoder": args.vocoder, "captions": len(texts),
              "renderings": len(refs),
              "wer": {k: corpus_wer(heard[k], refs) for k in kinds},
              "exact": {k: float(np.mean([h == r for h, r in zip(heard[k], refs)]))
                        for k in kinds},
              "examples": examples}
    (out / "report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False))
    print(f"{len(refs)} renderings ({len(texts)} captions x {len(refs) // max(len(texts), 1)} "
          f"voices), vocoder {args.vocoder}; WAVs in {out}")
    print("| speech | WER | exactly right |\n| --- | ---: | ---: |")
    for k in kinds:
        print(f"| {k} | {100 * report['wer'][k]:.1f}% | {100 * report['exact'][k]:.1f}% |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
