"""Bring your own data: a folder of files grouped by name -> a manifest.

    photos/cat.jpg  photos/cat.txt  photos/cat.wav  -> one sample "cat" (image, caption, speech)
    photos/dog.png  photos/dog.txt                  -> one sample "dog" (image, caption)

Files are paired by their path without extension; any subset of the three may exist (weakly
paired data). Captions are the .txt file's text; the language is detected (Han characters -> zh)
unless given.
"""
from __future__ import annotations

import os
import re
from collections import defaultdict
from pathlib import Path

from zidong.data.manifest import Sample, write_manifest

IMAGE_EXT = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
AUDIO_EXT = {".wav", ".flac", ".ogg"}
TEXT_EXT = {".txt"}
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]")


def detect_lang(text: str) -> str:
    return "zh" if _HAN.search(text) else "en"


def import_folder(src: str | Path, out: str | Path, lang: str | None = None) -> dict:
    """Write the manifest ``out`` for the files under ``src``; paths are relative to ``out``'s
    folder. Returns counts (samples, per combination, files ignored)."""
    src, out = Path(src), Path(out)
    groups: dict[str, dict[str, Path]] = defaultdict(dict)
    ignored = []
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        ext = path.suffix.lower()
        kind = "image" if ext in IMAGE_EXT else "audio" if ext in AUDIO_EXT else \
            "text" if ext in TEXT_EXT else None
        key = str(path.relative_to(src).with_suffix(""))
        if kind is None or kind in groups[key]:
            ignored.append(str(path))
            continue
        groups[key][kind] = path
    samples = []
    base = out.resolve().parent
    for key, files in sorted(groups.items()):
        text = None
        if "text" in files:
            text = files["text"].read_text(encoding="utf-8", errors="replace").strip()
        rel = {k: os.path.relpath(files[k].resolve(), base) for k in ("image", "audio")
               if k in files}
        if not rel and not text:
            continue
        samples.append(Sample(id=key, image=rel.get("image"), text=text,
                              lang=lang or (detect_lang(text) if text else None),
                              audio=rel.get("audio"), meta={"source": str(src)}))
    write_manifest(out, samples)
    combos: dict[str, int] = defaultdict(int)
    for s in samples:
        combos[s.combination()] += 1
    return {"samples": len(samples), "combinations": dict(combos), "ignored": ignored}
