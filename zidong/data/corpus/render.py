"""Pillow rendering of tri-shapes scenes: backgrounds, a layout that makes the relation true, shapes.

Everything is drawn from a caller's ``numpy.random.Generator`` so one (seed, split, index) gives
the same bytes whatever process renders it.
"""
from __future__ import annotations

import math
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 128          # output images are SIZE x SIZE RGB
SUPER = 2           # drawn at 2x then downsampled: Pillow polygons have no anti-aliasing
MARGIN, GAP, SPACING = 3, 6, 3   # px: canvas border, gap between the groups, between objects
MIN_BAND = 26       # px: neither group is squeezed against the border
# Side lengths (px) per size word; the ranges are far apart so "small" vs "big" is never ambiguous.
# Small objects stay >= 8 px when the model sees 64 x 64 images, so their shape is still legible.
SIDES = {"small": (15, 19), "big": (30, 38)}
RGB = {"red": (220, 30, 30), "green": (30, 170, 50), "blue": (30, 70, 225),
       "yellow": (250, 220, 30), "purple": (145, 50, 190), "orange": (250, 135, 20),
       "white": (255, 255, 255), "black": (0, 0, 0)}
STAMPS_ROOT = Path("/usr/share/tuxpaint/stamps")


def outline_for(rgb) -> tuple:
    """Black around light colours, white around dark ones: visible on any background."""
    lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (0, 0, 0) if lum >= 128 else (255, 255, 255)


# ---- layout -------------------------------------------------------------------------------------
def _place(rng, n, side, lo, hi, end):
    """n squares of ``side`` in [lo, hi) along the relation axis x [MARGIN, end) across it, no
    overlaps. Returns (along, across) top-left corners."""
    for _ in range(50):
        pts = []
        for _ in range(n):
            for _ in range(30):
                p = (int(rng.integers(lo, hi - side + 1)), int(rng.integers(MARGIN, end - side + 1)))
                if all(abs(p[0] - q[0]) >= side + SPACING or abs(p[1] - q[1]) >= side + SPACING
                       for q in pts):
                    pts.append(p)
                    break
        if len(pts) == n:
            return pts
    # Fallback (rare, narrow bands): a column across the axis, which always fits 3 big objects.
    step = (end - MARGIN - n * side) // (n + 1)
    return [(lo + (hi - lo - side) // 2, MARGIN + step + i * (side + step)) for i in range(n)]


def layout(scene: dict, rng: np.random.Generator) -> list[dict]:
    """Boxes [x0, y0, x1, y1) (x1/y1 exclusive) for every object. Group A's objects all lie in the
    band left of / right of / above / below group B's band, so the relation holds strictly."""
    side = {g: int(rng.integers(*SIDES[scene[g]["size"]], endpoint=True)) for g in ("a", "b")}
    end = SIZE - MARGIN
    first, second = ("a", "b") if scene["relation"] in ("left", "above") else ("b", "a")
    lo, hi = MARGIN + side[first], end - GAP - side[second]
    cut = int(rng.integers(max(lo, MARGIN + MIN_BAND), min(hi, end - GAP - MIN_BAND), endpoint=True))
    bands = {first: (MARGIN, cut), second: (cut + GAP, end)}
    horizontal = scene["relation"] in ("left", "right")
    boxes = []
    for g in ("a", "b"):
        s = side[g]
        for along, across in _place(rng, scene[g]["count"], s, *bands[g], end):
            x, y = (along, across) if horizontal else (across, along)
            boxes.append({"group": g, "box": [x, y, x + s, y + s]})
    return boxes


# ---- shapes -------------------------------------------------------------------------------------
@lru_cache(maxsize=None)
def _unit_heart(n: int = 48):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    x = (x - x.min()) / (x.max() - x.min())
    y = (y - y.min()) / (y.max() - y.min())
    return tuple(zip(x.tolist(), y.tolist()))


def _polygon(shape: str, x0, y0, s):
    if shape == "triangle":
        return [(x0 + s / 2, y0), (x0 + s, y0 + s), (x0, y0 + s)]
    if shape == "star":
        # Largest 5-point star inside the box: width 2r*sin72deg, height r*(1 + cos36deg).
        h = 1 + math.cos(math.pi / 5)
        r = min(s / (2 * math.sin(2 * math.pi / 5)), s / h)
        cx, cy = x0 + s / 2, y0 + (s - r * h) / 2 + r
        # inner radius 0.5 r (not the geometric 0.38): arms thick enough to show the colour
        return [(cx + (r if i % 2 == 0 else r * 0.5) * math.cos(-math.pi / 2 + i * math.pi / 5),
                 cy + (r if i % 2 == 0 else r * 0.5) * math.sin(-math.pi / 2 + i * math.pi / 5))
                for i in range(10)]
    if shape == "heart":
        return [(x0 + u * s, y0 + v * s) for u, v in _unit_heart()]
    if shape == "cross":
        t, u = s * 0.32, s * 0.68
        return [(x0 + t, y0), (x0 + u, y0), (x0 + u, y0 + t), (x0 + s, y0 + t), (x0 + s, y0 + u),
                (x0 + u, y0 + u), (x0 + u, y0 + s), (x0 + t, y0 + s), (x0 + t, y0 + u),
                (x0, y0 + u), (x0, y0 + t), (x0 + t, y0 + t)]
    raise ValueError(f"unknown shape {shape!r}")


def draw_shape(draw: ImageDraw.ImageDraw, shape: str, colour: str, box) -> None:
    """``box`` in 1x pixels; ``draw`` works on the SUPER-sampled canvas."""
    x0, y0, x1, _ = (v * SUPER for v in box)
    s = x1 - x0 - 1
    fill = RGB[colour]
    # a 1 px outline: enough to separate the shape from any background without hiding its colour
    kw = dict(fill=fill, outline=outline_for(fill), width=SUPER)
    if shape == "circle":
        draw.ellipse([x0, y0, x0 + s, y0 + s], **kw)
    elif shape == "square":
        draw.rectangle([x0, y0, x0 + s, y0 + s], **kw)
    else:
        draw.polygon(_polygon(shape, x0, y0, s), **kw)


# ---- backgrounds --------------------------------------------------------------------------------
def photo_test_stamp(rel: str) -> bool:
    """1 stamp in 5 (by a stable hash of its path) is reserved for ``photo_test``."""
    return zlib.crc32(rel.encode()) % 5 == 0


@lru_cache(maxsize=4)
def stamp_pngs(root: str = str(STAMPS_ROOT)) -> tuple[str, ...]:
    """Texture sources, sorted so a seed picks the same stamp on every machine holding the same
    files. photo_test stamps are left out, so no test photo's object is seen in training."""
    rels = (str(p.relative_to(root)) for p in Path(root).rglob("*.png"))
    return tuple(sorted(r for r in rels if not photo_test_stamp(r)))


@lru_cache(maxsize=64)
def load_stamp(path: str) -> Image.Image:
    with Image.open(path) as im:
        return im.convert("RGBA")


def _photo(rng, stamps) -> Image.Image:
    im = load_stamp(str(STAMPS_ROOT / stamps[rng.integers(len(stamps))]))
    canvas = Image.new("RGBA", im.size, tuple(int(v) for v in rng.integers(40, 216, 3)) + (255,))
    canvas.alpha_composite(im)
    w, h = im.size
    c = int(rng.integers(max(1, min(w, h) // 2), min(w, h), endpoint=True))
    x, y = int(rng.integers(0, w - c, endpoint=True)), int(rng.integers(0, h - c, endpoint=True))
    crop = canvas.convert("RGB").crop((x, y, x + c, y + c)).resize((SIZE, SIZE), Image.BILINEAR)
    return crop.filter(ImageFilter.GaussianBlur(float(rng.uniform(1.5, 3.0))))


def background(kind: str, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """(image, kind actually drawn): "photo" falls back to "gradient" when no stamps are installed."""
    if kind == "photo":
        stamps = stamp_pngs()
        if stamps:
            return _photo(rng, stamps), "photo"
        kind = "gradient"
    if kind == "grey":
        arr = np.full((SIZE, SIZE, 3), int(rng.integers(80, 176, endpoint=True)), np.uint8)
    elif kind == "gradient":
        c0, c1 = rng.integers(0, 256, (2, 3)).astype(np.float32)
        ang = rng.uniform(0, 2 * np.pi)
        yy, xx = np.mgrid[0:SIZE, 0:SIZE] / (SIZE - 1) - 0.5
        t = np.clip((xx * np.cos(ang) + yy * np.sin(ang)) / 0.71 + 0.5, 0, 1)[..., None]
        arr = (c0 * (1 - t) + c1 * t).astype(np.uint8)
    elif kind == "noise":
        # muted colour blotches plus grain: clutter that does not drown 8 px shapes at 64 x 64
        base = rng.integers(70, 186, 3).astype(np.float32)
        coarse = np.clip(base + rng.normal(0, 30, (8, 8, 3)), 0, 255).astype(np.uint8)
        smooth = np.asarray(Image.fromarray(coarse).resize((SIZE, SIZE), Image.BICUBIC), np.float32)
        grain = rng.normal(0, float(rng.uniform(4, 12)), (SIZE, SIZE, 3))
        arr = np.clip(smooth + grain, 0, 255).astype(np.uint8)
    else:
        raise ValueError(f"unknown background {kind!r}")
    return Image.fromarray(arr, "RGB"), kind


def render_scene(scene: dict, boxes: list[dict], rng: np.random.Generator) -> tuple[Image.Image, str]:
    """(128x128 RGB image, background kind drawn)."""
    bg, kind = background(scene["background"], rng)
    big = bg.resize((SIZE * SUPER, SIZE * SUPER), Image.BILINEAR)
    draw = ImageDraw.Draw(big)
    for item in boxes:
        g = scene[item["group"]]
        draw_shape(draw, g["shape"], g["colour"], item["box"])
    return big.resize((SIZE, SIZE), Image.LANCZOS), kind
