"""Held-out reconstruction error of a trained VQ tokenizer, the figure the VQ stage now writes
into its vq_summary.json: for checkpoints trained before it did (docs/results.md).

    .venv/bin/python tools/vq_held_out.py --ckpt RUN/vq/vq.safetensors [--data val.jsonl]
        [--set model.image_tokenizer.KEY=VALUE ...]

The tokenizer is built from the small preset (plus --set overrides) and must match the checkpoint.
Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, help="a VQ-stage checkpoint (vq.safetensors)")
    ap.add_argument("--data", default="cache/corpus/val.jsonl")
    ap.add_argument("--config", default="small")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()

    from zidong.config.loader import load_config
    from zidong.data.tokenizer import tokenizer_for
    from zidong.models.image_tokenizer import ImageTokenizer
    from zidong.runtime import init_env
    from zidong.train.vq_stage import load_vq_weights, reconstruction_error

    cfg = load_config(args.config, args.overrides)
    init_env(cfg.context)
    tok = ImageTokenizer(cfg.model.image_tokenizer, cfg.model.vision.image_size,
                         cfg.model.vision.channels)
    try:
        load_vq_weights(tok, args.ckpt, prefixed=False)
    except ValueError as e:
        raise SystemExit(f"{e} (--set must match the checkpoint's config)") from None
    tok.set_train(False)
    text_tok = tokenizer_for(args.data, cfg.model.text.vocab_size)
    print(json.dumps({"ckpt": args.ckpt,
                      **reconstruction_error(tok, Path(args.data), cfg, text_tok)}))


if __name__ == "__main__":
    main()
