"""Held-out reconstruction error of a trained VQ tokenizer, the figure the VQ stage now writes
into its vq_summary.json: for checkpoints trained before it did (docs/results.md).

    .venv/bin/python tools/vq_held_out.py --ckpt RUN/vq/vq.safetensors [--data val.jsonl]
        [--set model.image_tokenizer.KEY=VALUE ...] [--image-scorer runs/scorer [--limit 256]]

With ``--image-scorer``, the scorer also reads the scenes back from the images (as the model sees
them, 64 px), from their reconstructions (what t2i / s2i ``attr_acc`` would be if the image
decoder predicted every code of the true image: the ceiling this tokenizer sets) and from the
flat-patch reference (each code's patch in its true mean colour). ``--flat-patches 8,4,2``
adds the flat reference at other patch sizes: what a tokenizer with that patch size could reach
at best if its codes only knew their patch's colour. Without ``--ckpt`` only the originals and the
flat references are scored. The tokenizer is built from the small preset (plus --set overrides)
and must match the checkpoint. Prints one JSON line.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", help="a VQ-stage checkpoint (vq.safetensors)")
    ap.add_argument("--data", default="cache/corpus/val.jsonl")
    ap.add_argument("--config", default="small")
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--image-scorer", default=None, help="a scorer from `zidong scorer train`")
    ap.add_argument("--limit", type=int, default=256, help="images the scorer reads (with scenes)")
    ap.add_argument("--flat-patches", default="", help="comma-separated patch sizes for more "
                    "flat references (with --image-scorer)")
    args = ap.parse_args()
    if not args.ckpt and not args.image_scorer:
        ap.error("give --ckpt, --image-scorer or both")
    try:
        flat = [int(p) for p in args.flat_patches.split(",") if p.strip()]
    except ValueError:
        ap.error(f"--flat-patches: {args.flat_patches!r} is not a comma-separated list of integers")
    if flat and not args.image_scorer:
        ap.error("--flat-patches needs --image-scorer")

    from zidong.config.loader import load_config
    from zidong.data.tokenizer import tokenizer_for
    from zidong.models.image_tokenizer import ImageTokenizer
    from zidong.runtime import init_env
    from zidong.train.vq_stage import load_vq_weights, reconstruction_error

    cfg = load_config(args.config, args.overrides)
    if args.image_scorer:  # the scorer's convolutions dominate here, not the tokenizer's matmuls
        from zidong.eval.scorer_net import SCORER_CPU_ISA
        cfg.context.cpu_isa = SCORER_CPU_ISA
    init_env(cfg.context)
    size = cfg.model.vision.image_size
    bad = [p for p in flat if p <= 0 or size % p]
    if bad:
        raise SystemExit(f"--flat-patches: {bad} do not divide the image size {size}")
    tok, report = None, {"ckpt": args.ckpt}
    if args.ckpt:
        tok = ImageTokenizer(cfg.model.image_tokenizer, size, cfg.model.vision.channels)
        try:
            load_vq_weights(tok, args.ckpt, prefixed=False)
        except ValueError as e:
            raise SystemExit(f"{e} (--set must match the checkpoint's config)") from None
        tok.set_train(False)
        text_tok = tokenizer_for(args.data, cfg.model.text.vocab_size)
        report.update(reconstruction_error(tok, Path(args.data), cfg, text_tok))
    if args.image_scorer:
        report["image_scorer"] = scorer_ceiling(tok, Path(args.data), cfg, args.image_scorer,
                                                args.limit, flat)
    print(json.dumps(report))


def scorer_ceiling(tok, manifest: Path, cfg, scorer_dir: str, limit: int,
                   flat_patches: list[int] = ()) -> dict:
    """The scorer's per-attribute report on the manifest's images, their reconstructions (with a
    tokenizer) and the flat-patch references (the tokenizer's patch size with a tokenizer, plus
    ``flat_patches``)."""
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
    read = [("originals", x)]
    if tok is not None:
        own = cfg.model.image_tokenizer.patch_size
        read += [("reconstructions", reconstruct(tok, x, cfg.train.vq.batch_size)),
                 ("patch_mean_colour", patch_mean_colour(x, own))]
        flat_patches = [p for p in flat_patches if p != own]
    read += [(f"patch_mean_colour_{p}px", patch_mean_colour(x, p)) for p in flat_patches]
    scorer, scenes = Scorer.load(scorer_dir), [s.meta["scene"] for s in rows]
    return {"scorer": scorer_dir, "images": len(rows)} | {
        name: scorer.attr_acc(image_to_uint8(images, d.image_mean, d.image_std), scenes)
        for name, images in read}


if __name__ == "__main__":
    main()
