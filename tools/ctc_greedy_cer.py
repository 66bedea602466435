"""How well does a run's CTC head alone recognise speech? Greedy CTC (the most likely label per
speech token, repeats merged, blanks dropped) on the first ``--limit`` utterances of a manifest
that have speech and a transcript; CER per language (WER for English), as ``zidong eval``
scores the text decoder. Set beside ``zidong eval --tasks asr`` it says how much the text
decoder loses of what the speech tokens hold (docs/tasks.md, "Speech recognition: joint
CTC/attention decoding").

    .venv/bin/python tools/ctc_greedy_cer.py --ckpt runs/ctc33/ctc --data cache/corpus/test.jsonl

Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def greedy(logp: np.ndarray, blank: int) -> list[int]:
    """Best path of one utterance's (T, V) log-probabilities, collapsed."""
    out, prev = [], None
    for t in logp.argmax(-1):
        if t != prev and t != blank:
            out.append(int(t))
        prev = t
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, help="run folder or checkpoint (trained ctc head)")
    ap.add_argument("--data", required=True, help="manifest")
    ap.add_argument("--limit", type=int, default=64)
    args = ap.parse_args(argv)

    from mindspore import Tensor

    from zidong.config.special_tokens import PAD_ID
    from zidong.eval.text_metrics import corpus_cer, corpus_wer
    from zidong.tasks.cli import init_cpu
    from zidong.tasks.engine import TaskEngine, manifest_samples
    init_cpu(args.ckpt)  # under the run's oneDNN cap
    engine = TaskEngine(args.ckpt)
    if not engine._has_ctc():
        raise SystemExit(f"{args.ckpt}: this run did not train the ctc head")
    samples = manifest_samples(args.data)
    hyps, refs = {}, {}
    done = 0
    for batch in engine.batches(args.data):
        logp, tokens = engine._ctc(Tensor(batch["mel"]), Tensor(batch["mel_mask"]))
        logp, tokens = logp.asnumpy(), tokens.asnumpy()
        for row, index in enumerate(batch["index"]):
            s = samples[int(index)]
            if s.audio is None or s.text is None or done >= args.limit:
                continue
            ids = greedy(logp[row][tokens[row] > 0], PAD_ID)
            hyps.setdefault(s.lang, []).append(engine.tokenizer.decode(ids))
            refs.setdefault(s.lang, []).append(s.text)
            done += 1
        if done >= args.limit:
            break
    out = {"ckpt": str(args.ckpt), "data": str(args.data), "n": done}
    for lang in sorted(refs):
        out[f"ctc_greedy.{lang}.cer"] = round(corpus_cer(hyps[lang], refs[lang], lang), 4)
        if lang == "en":
            out["ctc_greedy.en.wer"] = round(corpus_wer(hyps[lang], refs[lang], lang), 4)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
