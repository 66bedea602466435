"""Shared by the image-scorer tests: a tiny conv scorer config and a manifest of rendered scenes."""
import json
from pathlib import Path

from PIL import Image

from zidong.data.corpus import grammar as G
from zidong.eval.scorer_data import render_batch

TINY_CONV = {"kind": "conv", "image_size": 64, "convs": [[8, 2], [16, 2], [16, 2], [16, 2]],
             "where": 4, "hidden": 32}


def scene_manifest(folder: Path, name: str, seed: int, n: int, extra=()) -> Path:
    """``n`` rendered scenes as PNGs beside ``folder/name`` (a manifest with meta.scene), plus the
    ``extra`` rows as they are."""
    images, _, _, scenes = render_batch((seed, "t", 0, n, False))
    rows = []
    for i, (img, s) in enumerate(zip(images, scenes)):
        Image.fromarray(img).save(folder / f"{i}.png")
        rows.append({"id": str(i), "image": f"{i}.png", "text": G.caption_en(s), "lang": "en",
                     "meta": {"scene": s}})
    path = folder / name
    path.write_text("\n".join(json.dumps(r) for r in [*rows, *extra]))
    return path
