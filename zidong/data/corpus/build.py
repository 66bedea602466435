"""Build the tri-shapes corpus: scene -> caption -> picture -> speech, one worker call per sample.

Every sample draws from its own generator seeded by (seed, split, index), so the bytes written do not
depend on the number of workers or the order they finish in.
"""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from zidong.data.corpus import grammar, photos, render, tts
from zidong.data.manifest import Sample, write_manifest

SCENE_SPLITS = ("train", "val", "test", grammar.COMPOSITIONAL)
PHOTO_SPLITS = ("photo_train", "photo_test")


def sample_rngs(seed: int, split: str, index: int, n: int = 3) -> list[np.random.Generator]:
    """Independent generators (scene, image, voice) for one sample; crc32 because str hash() is
    salted per process."""
    ss = np.random.SeedSequence([seed, zlib.crc32(split.encode()), index])
    return [np.random.default_rng(s) for s in ss.spawn(n)]


def _scene_sample(out: Path, split: str, index: int, seed: int, langs, drop) -> Sample:
    r_scene, r_image, r_voice = sample_rngs(seed, split, index)
    lang = langs[int(r_scene.integers(len(langs)))]
    scene = grammar.sample_scene(r_scene, split)
    boxes = render.layout(scene, r_scene)
    sid = f"{split}-{index:06d}"
    image = audio = None
    if drop != "image":
        image = f"images/{split}/{index:06d}.png"
        img, scene["background"] = render.render_scene(scene, boxes, r_image)
        img.save(out / image, "PNG")
    text = grammar.caption(scene, lang)
    meta = {"source": "tri_shapes", "scene": scene, "boxes": boxes,
            "voice": None, "rate": None, "duration": None}
    if drop != "audio":
        audio = f"audio/{split}/{index:06d}.wav"
        meta.update(tts.speak(text, lang, r_voice, out / audio))
    if drop is not None:
        meta["dropped"] = drop
    return Sample(sid, image, None if drop == "text" else text, lang, audio, None, meta)


def _photo_sample(out: Path, split: str, index: int, seed: int, langs, drop) -> Sample:
    r_pick, r_image, r_voice = sample_rngs(seed, split, index)
    pool = photos.variants(split, tuple(langs))
    stamp, lang = pool[int(r_pick.integers(len(pool)))]
    image, audio = f"images/{split}/{index:06d}.png", f"audio/{split}/{index:06d}.wav"
    img, box, kind = photos.compose(stamp["stamp"], r_image)
    img.save(out / image, "PNG")
    meta = {"source": "tuxpaint", "stamp": stamp["stamp"], "description": stamp["description"],
            "box": box, "background": kind}
    meta.update(tts.speak(stamp[lang], lang, r_voice, out / audio))
    return Sample(f"{split}-{index:06d}", image, stamp[lang], lang, audio, None, meta)


def _make(job) -> Sample:
    kind, *args = job
    return (_photo_sample if kind == "photo" else _scene_sample)(*args)


class Progress:
    """One self-overwriting stderr line: done/total, samples/s, ETA."""

    def __init__(self, total: int, enabled: bool, label: str = "corpus"):
        self.total, self.enabled, self.label = total, enabled, label
        self.start, self.last = time.perf_counter(), 0.0

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.5 and done < self.total):
            return
        self.last, rate = now, done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else 0.0
        sys.stderr.write(f"\r{self.label}: {done}/{self.total} samples  {rate:.1f} samples/s  "
                         f"ETA {eta:.0f}s ")
        if done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _run(jobs: list, workers: int, progress: Progress) -> list[Sample]:
    if workers <= 1:
        results = []
        for job in jobs:
            results.append(_make(job))
            progress.update(len(results))
        return results
    # fork: workers inherit the parsed stamp list, and nothing re-imports the caller's modules.
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else None)
    with ctx.Pool(workers) as pool:
        results = []
        for s in pool.imap(_make, jobs, chunksize=4):
            results.append(s)
            progress.update(len(results))
    return results


def _weak_plan(seed: int, size: int, fraction: float) -> dict[int, str]:
    """Exactly round(fraction*size) train samples lose one modality, chosen uniformly."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(b"weak")]))
    n = int(round(fraction * size))
    chosen = rng.choice(size, n, replace=False) if n else []
    return {int(i): ("image", "text", "audio")[int(rng.integers(3))] for i in sorted(chosen)}


def duration_stats(samples) -> dict:
    per = {}
    for s in samples:
        if s.meta.get("duration") is not None:
            per.setdefault(s.lang, []).append(s.meta["duration"])
    return {lang: {"n": len(d), "mean": round(float(np.mean(d)), 3),
                   **{f"p{q}": round(float(np.percentile(d, q)), 3) for q in (50, 95, 99)},
                   "max": round(float(np.max(d)), 3)} for lang, d in sorted(per.items())}


def _summary(samples: list[Sample]) -> dict:
    return {"samples": len(samples), "langs": dict(Counter(s.lang for s in samples)),
            "voices": dict(Counter(s.meta["voice"] for s in samples if s.meta.get("voice"))),
            "combinations": dict(Counter(s.combination() for s in samples))}


def build_corpus(out: str | Path, size: int = 5000, seed: int = 0, langs=("en", "zh"),
                 eval_size: int = 500, photo_size: int = 1000, weak_fraction: float = 0.2,
                 workers: int | None = None, progress: bool = True) -> dict:
    """Writes OUT/train.jsonl (size samples), OUT/val.jsonl, OUT/test.jsonl, OUT/test_compositional.jsonl
    (eval_size each), OUT/photo_train.jsonl and OUT/photo_test.jsonl (photo_size and photo_size//5;
    the Tux Paint real-photo subset kept OUT of the main splits, for a later new-domain experiment),
    media under OUT/images/ and OUT/audio/, and OUT/corpus.json (what was built: counts per split,
    per language, per voice, seconds taken, samples/s). Returns that dict."""
    out, langs = Path(out), tuple(langs)
    for lang in langs:
        tts.voices(lang)                        # fail early on an unsupported language
    if not 0.0 <= weak_fraction <= 1.0:
        raise ValueError(f"weak_fraction must be in [0, 1], got {weak_fraction}")
    workers = workers or os.cpu_count() or 1
    counts = {"train": size, "val": eval_size, "test": eval_size, grammar.COMPOSITIONAL: eval_size,
              "photo_train": photo_size, "photo_test": photo_size // 5}
    stamps, skipped = photos.list_stamps()
    for split in PHOTO_SPLITS:
        if counts[split] and not photos.variants(split, langs):
            print(f"corpus: no Tux Paint stamps for {split} in {render.STAMPS_ROOT}; skipped",
                  file=sys.stderr)
            counts[split] = 0
    weak = _weak_plan(seed, size, weak_fraction)
    jobs = []
    for split, n in counts.items():
        for sub in ("images", "audio"):
            (out / sub / split).mkdir(parents=True, exist_ok=True)
        kind = "photo" if split in PHOTO_SPLITS else "scene"
        jobs += [(kind, out, split, i, seed, langs, weak.get(i) if split == "train" else None)
                 for i in range(n)]
    start = time.perf_counter()
    samples = _run(jobs, workers, Progress(len(jobs), progress))
    seconds = time.perf_counter() - start
    info = {"config": {"size": size, "eval_size": eval_size, "photo_size": photo_size, "seed": seed,
                       "langs": list(langs), "weak_fraction": weak_fraction, "workers": workers},
            "held_out_pairs": sorted(map(list, grammar.HELD_OUT)), "splits": {}}
    pos = 0
    for split, n in counts.items():
        part, pos = samples[pos:pos + n], pos + n
        write_manifest(out / f"{split}.jsonl", part)
        info["splits"][split] = _summary(part)
    by_source = {src: duration_stats([s for s in samples if s.meta["source"] == src])
                 for src in ("tri_shapes", "tuxpaint")}
    info.update(_summary(samples), duration=duration_stats(samples), duration_by_source=by_source,
                photos={"stamps": len(stamps), "skipped": skipped},
                seconds=round(seconds, 2), samples_per_s=round(len(samples) / max(seconds, 1e-9), 2))
    (out / "corpus.json").write_text(json.dumps(info, ensure_ascii=False, indent=2) + "\n",
                                     encoding="utf-8")
    if progress:
        print(f"corpus: {len(samples)} samples in {seconds:.1f}s ({info['samples_per_s']} samples/s) "
              f"-> {out}", file=sys.stderr)
    return info
