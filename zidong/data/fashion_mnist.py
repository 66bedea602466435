"""Fashion-MNIST (Debian's dataset-fashion-mnist) as manifests: 28x28 greyscale PNG, the class name
as text (EN or ZH) and spoken.

Speech is synthesised once per (class, language, voice) and shared by every sample of that class;
70k near-identical utterances would cost minutes and add nothing.
"""
from __future__ import annotations

import gzip
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from zidong.data.corpus import tts
from zidong.data.corpus.build import Progress
from zidong.data.manifest import Sample, write_manifest

FASHION_ROOT = Path("/usr/share/datasets/fashion-mnist")
FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
         "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
CLASSES_EN = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
              "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CLASSES_ZH = ("T恤", "裤子", "套头衫", "连衣裙", "外套", "凉鞋", "衬衫", "运动鞋", "包", "短靴")
CLASS_NAMES = {"en": CLASSES_EN, "zh": CLASSES_ZH}


def read_idx(path: str | Path) -> np.ndarray:
    """An idx file (gzipped or not) as a uint8 array of its declared shape."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file (magic {data[:4].hex()})")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} but holds {body.size} bytes")
    return body.reshape(shape)


def _voice_file(lang: str, label: int, voice: str) -> str:
    return f"audio/{lang}/{label}_{voice.replace(':', '_').replace('+', '_')}.wav"


def _speak_classes(out: Path, langs) -> dict[tuple, dict]:
    """(lang, label, voice) -> {"path", "duration"}: one WAV each, shared by all samples."""
    table = {}
    for lang in langs:
        (out / "audio" / lang).mkdir(parents=True, exist_ok=True)
        for label, name in enumerate(CLASS_NAMES[lang]):
            for voice in tts.voices(lang):
                rel = _voice_file(lang, label, voice)
                duration = tts.synthesize(name, lang, voice, 1.0, out / rel)
                table[lang, label, voice] = {"path": rel, "duration": duration}
    return table


def import_fashion_mnist(out: str | Path, limit: int | None = None, langs=("en", "zh"), seed: int = 0,
                         progress: bool = True, root: str | Path = FASHION_ROOT) -> dict:
    """Writes OUT/train.jsonl and OUT/test.jsonl (limit = max samples per split, None = all 60k/10k)."""
    out, root, langs = Path(out), Path(root), tuple(langs)
    for lang in langs:
        if lang not in CLASS_NAMES:
            raise ValueError(f"no Fashion-MNIST class names in {lang!r}; known: {sorted(CLASS_NAMES)}")
    start = time.perf_counter()
    speech = _speak_classes(out, langs)
    info = {"source": "fashion_mnist", "root": str(root), "langs": list(langs), "seed": seed,
            "audio_files": len(speech), "splits": {}}
    for split, (img_file, lab_file) in FILES.items():
        images, labels = read_idx(root / img_file), read_idx(root / lab_file)
        if len(images) != len(labels):
            raise ValueError(f"{root}: {len(images)} images but {len(labels)} labels in {split}")
        n = len(labels) if limit is None else min(limit, len(labels))
        rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(split.encode())]))
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        bar, samples = Progress(n, progress, f"fashion-mnist {split}"), []
        for i in range(n):
            label, lang = int(labels[i]), langs[int(rng.integers(len(langs)))]
            voices = tts.voices(lang)
            voice = voices[int(rng.integers(len(voices)))]
            image = f"images/{split}/{i:05d}.png"
            Image.fromarray(images[i], "L").save(out / image, "PNG")
            spoken = speech[lang, label, voice]
            meta = {"source": "fashion_mnist", "class_name_en": CLASSES_EN[label], "voice": voice,
                    "rate": 1.0, "duration": spoken["duration"]}
            samples.append(Sample(f"fmnist-{split}-{i:05d}", image, CLASS_NAMES[lang][label], lang,
                                  spoken["path"], label, meta))
            bar.update(i + 1)
        write_manifest(out / f"{split}.jsonl", samples)
        info["splits"][split] = {"samples": n, "langs": dict(Counter(s.lang for s in samples)),
                                 "labels": {str(k): v for k, v in
                                            sorted(Counter(s.label for s in samples).items())}}
    info["seconds"] = round(time.perf_counter() - start, 2)
    return info
