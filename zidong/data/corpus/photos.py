"""Real-photo samples from the Tux Paint stamps: a stamp composited onto a background, captioned by
its own description (``foo.png`` + ``foo.txt``: English on the first line, ``zh_CN.utf8=...``).

These are a different domain from the drawn shapes and are kept out of the main splits. Stamps are
split by a hash of their path (1 in 5 to ``photo_test``), so the test photos show unseen objects
(the blurred photo-texture backgrounds of the main splits use photo_train stamps only).
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from zidong.data.corpus.render import (SIZE, STAMPS_ROOT, background, load_stamp,
                                       photo_test_stamp)

_KEY_LINE = re.compile(r"^[A-Za-z@_\-]+(\.[A-Za-z0-9\-]+)?=")       # "zh_CN.utf8=...", "af.utf8=..."
# A sentence ends at . ! ? (maybe inside a closing quote) before a capital; "U.S. Army" and "Mr.
# Smith" do not split because two lower-case letters or digits must precede the stop.
_SENTENCE_EN = re.compile(r"(?<=[a-z0-9)][a-z0-9)][.!?])[\"”’)]?\s+(?=[A-Z“\"(])")
_SENTENCE_ZH = re.compile(r"(?<=[。！？!?])(?=.)")
_TRAILING = ".。!！;；,，:：…、 "
# Fullwidth ASCII letters/digits ("Ｔｕｘ", "３") -> ASCII; CJK punctuation is left as written.
_FULLWIDTH = {c: c - 0xFEE0 for c in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                       *range(0xFF41, 0xFF5B)]}


def first_sentence(text: str, lang: str) -> str:
    pattern = _SENTENCE_ZH if lang == "zh" else _SENTENCE_EN
    return pattern.split(text, maxsplit=1)[0]


def clean_caption(text: str, lang: str) -> str:
    """One-line, first-sentence caption without trailing sentence punctuation ("?" kept)."""
    text = " ".join(text.translate(_FULLWIDTH).split())
    text = first_sentence(text, lang).strip()
    closing = ""
    if text[-1:] in "”\"’)" and len(text) > 1 and text[-2] in _TRAILING:
        text, closing = text[:-1], text[-1]          # 'a "Half Dollar."' -> 'a "Half Dollar"'
    return text.rstrip(_TRAILING) + closing if text.rstrip(_TRAILING) else ""


def read_description(path: str | Path) -> dict:
    """{"en": caption | None, "zh": caption | None, "description": first line}. Raises ValueError
    for a file with nothing usable (binary, empty, no English and no Chinese line)."""
    raw = Path(path).read_bytes()
    if b"\x00" in raw:
        raise ValueError("binary file")
    try:
        lines, utf8 = raw.decode("utf-8-sig").splitlines(), True
    except UnicodeDecodeError:
        # Not UTF-8: the English line survives as cp1252/latin-1; any Chinese would be mojibake.
        lines, utf8 = raw.decode("cp1252", errors="replace").splitlines(), False
    first = lines[0].strip() if lines else ""
    en = clean_caption(first, "en") if first and not _KEY_LINE.match(first) else ""
    zh = ""
    if utf8:
        for line in lines[1:]:
            if line.startswith("zh_CN.utf8="):
                zh = clean_caption(line[len("zh_CN.utf8="):], "zh")
                break
    if not en and not zh:
        raise ValueError("no English first line and no zh_CN.utf8= line")
    return {"en": en or None, "zh": zh or None, "description": first}


def photo_split(rel: str) -> str:
    return "photo_test" if photo_test_stamp(rel) else "photo_train"


@lru_cache(maxsize=4)
def list_stamps(root: str = str(STAMPS_ROOT)) -> tuple[tuple[dict, ...], dict]:
    """(stamps, skipped reasons -> count). A stamp is a .png with a .txt beside it, sorted by path."""
    stamps, skipped = [], Counter()
    for png in sorted(Path(root).rglob("*.png")):
        txt = png.with_suffix(".txt")
        if not txt.is_file():
            skipped["no .txt"] += 1
            continue
        try:
            desc = read_description(txt)
        except (OSError, ValueError) as e:
            skipped[str(e) if isinstance(e, ValueError) else "unreadable"] += 1
            continue
        stamps.append({"stamp": str(png.relative_to(root)), **desc})
    return tuple(stamps), dict(skipped)


@lru_cache(maxsize=16)
def variants(split: str, langs: tuple[str, ...], root: str = str(STAMPS_ROOT)) -> tuple:
    """(stamp, lang) pairs of a photo split; a language whose description is missing is skipped."""
    stamps, _ = list_stamps(root)
    return tuple((s, lang) for s in stamps if photo_split(s["stamp"]) == split
                 for lang in langs if s.get(lang))


def compose(stamp: str, rng: np.random.Generator, root: str = str(STAMPS_ROOT)):
    """(128x128 RGB image, stamp box [x0, y0, x1, y1), background kind)."""
    kind = ("grey", "gradient", "noise")[int(rng.integers(3))]
    bg, kind = background(kind, rng)
    im = load_stamp(str(Path(root) / stamp))
    longest = int(rng.integers(int(SIZE * 0.5), int(SIZE * 0.95), endpoint=True))
    scale = longest / max(im.size)
    w, h = max(1, round(im.width * scale)), max(1, round(im.height * scale))
    im = im.resize((w, h), Image.LANCZOS)
    x, y = int(rng.integers(0, SIZE - w, endpoint=True)), int(rng.integers(0, SIZE - h, endpoint=True))
    canvas = bg.convert("RGBA")
    canvas.alpha_composite(im, (x, y))
    return canvas.convert("RGB"), [x, y, x + w, y + h], kind
