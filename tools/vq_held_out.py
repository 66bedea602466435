"""Held-out reconstruction error of a trained VQ tokenizer, the figure the VQ stage now writes
into its vq_summary.json: for checkpoints trained before it did (docs/results.md).

    .venv/bin/python tools/vq_held_out.py --ckpt RUN/vq/vq.safetensors [--data val.jsonl]
        [--set model.image_tokenizer.KEY=VALUE ...] [--image-scorer runs/scorer [--limit 256]]

With ``--image-scorer``, the scorer also reads the scenes back from the images (as the model sees
them, 64 px), from their reconstructions (what t2i / s2i ``attr_acc`` would be if the image
decoder predicted every code of the true image: the ceiling this tokenizer sets) and from the
flat-patch reference (each code's patch in its true mean colour). The tokenizer is
built from the small preset (plus --set overrides) and must match the checkpoint. Prints one JSON
line.
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
    ap.add_argument("--image-scorer", default=None, help="a scorer from `zidong scorer train`")
    ap.add_argument("--limit", type=int, default=256, help="images the scorer reads (with scenes)")
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
    report = {"ckpt": args.ckpt, **reconstruction_error(tok, Path(args.data), cfg, text_tok)}
    if args.image_scorer:
        report["image_scorer"] = scorer_ceiling(tok, Path(args.data), cfg, args.image_scorer,
                                                args.limit)
    print(json.dumps(report))


def scorer_ceiling(tok, manifest: Path, cfg, scorer_dir: str, limit: int) -> dict:
    """The scorer's per-attribute report on the manifest's images, their reconstructions and the
    flat-patch reference."""
    import numpy as np
    from zidong.data.manifest import read_manifest, resolve
    from zidong.data.media import decode_image, image_to_uint8
    from zidong.eval.image_scorer import Scorer
    from zidong.train.vq_stage import patch_mean_colour, reconstruct
    samples, _ = read_manifest(manifest)
    rows = [s for s in samples if s.image and isinstance(s.meta.get("scene"), dict)][:limit]
    if not rows:
        raise SystemExit(f"{manifest}: no sample has both an image and meta.scene to score")
    d = cfg.data
    x = np.stack([decode_image(resolve(manifest, s.image).read_bytes(),
                               cfg.model.vision.image_size, d.image_mean, d.image_std)[0]
                  for s in rows])
    recon = reconstruct(tok, x, cfg.train.vq.batch_size)
    scorer, scenes = Scorer.load(scorer_dir), [s.meta["scene"] for s in rows]
    return {"scorer": scorer_dir, "images": len(rows)} | {
        name: scorer.attr_acc(image_to_uint8(images, d.image_mean, d.image_std), scenes)
        for name, images in (("originals", x), ("reconstructions", recon),
                             ("patch_mean_colour", patch_mean_colour(x, cfg)))}


if __name__ == "__main__":
    main()
