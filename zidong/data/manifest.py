"""The one manifest format of every data set: JSONL, one sample per line.

    {"id": "...", "image": "images/x.png" | null, "text": "..." | null, "lang": "en" | "zh",
     "audio": "audio/x.wav" | null, "label": int | null, "meta": {...}}

Paths are relative to the manifest's folder. Any of image / text / audio may be null (weakly paired
data); at least one must be present. ``read_manifest`` never stops at a bad line: it returns the good
samples and a list of problems, each naming the file and line (``strict=True`` raises on the first).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Optional

MODALITIES = ("text", "image", "audio")
KEYS = {"id", "image", "text", "lang", "audio", "label", "meta"}


class DataError(ValueError):
    """A sample or file that cannot be used; the message names the file (and line)."""


@dataclass
class Sample:
    id: str
    image: Optional[str] = None
    text: Optional[str] = None
    lang: Optional[str] = None
    audio: Optional[str] = None
    label: Optional[int] = None
    meta: dict = field(default_factory=dict)
    line: int = field(default=0, compare=False)  # line in the manifest it was read from; not written

    def present(self) -> tuple[bool, bool, bool]:
        """(text, image, audio) presence, in the model's TEXT, IMAGE, SPEECH order."""
        return self.text is not None, self.image is not None, self.audio is not None

    def combination(self) -> str:
        names = [n for n, p in zip(("text", "image", "audio"), self.present()) if p]
        return "+".join(names)


@dataclass
class Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def _validate(obj, where: str, line: int = 0) -> Sample:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - KEYS)
    if unknown:
        raise DataError(f"{where}: unknown key {unknown[0]!r}; allowed keys: {sorted(KEYS)}")
    if not isinstance(obj.get("id"), str) or not obj["id"]:
        raise DataError(f"{where}: 'id' must be a non-empty string, got {obj.get('id')!r}")
    for key in MODALITIES:
        v = obj.get(key)
        if v is not None and not isinstance(v, str):
            raise DataError(f"{where}: {key!r} must be a string or null, got {v!r}")
    if all(obj.get(k) is None for k in MODALITIES):
        raise DataError(f"{where}: sample {obj['id']!r} has no modality (image, text and audio "
                        f"are all null)")
    label = obj.get("label")
    if label is not None and (isinstance(label, bool) or not isinstance(label, int)):
        raise DataError(f"{where}: 'label' must be an integer or null, got {label!r}")
    lang = obj.get("lang")
    if lang is not None and not isinstance(lang, str):
        raise DataError(f"{where}: 'lang' must be a string, got {lang!r}")
    meta = obj.get("meta") or {}
    if not isinstance(meta, dict):
        raise DataError(f"{where}: 'meta' must be an object, got {meta!r}")
    return Sample(obj["id"], obj.get("image"), obj.get("text"), lang, obj.get("audio"), label, meta,
                  line)


def read_manifest(path: str | Path, strict: bool = False) -> tuple[list[Sample], list[Problem]]:
    """Parse and validate every line; media files are checked by the loaders, not here."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: manifest not found")
    samples, problems, seen = [], [], set()
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}"
            try:
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
                sample = _validate(obj, where, n)
                if sample.id in seen:
                    raise DataError(f"{where}: duplicate id {sample.id!r}")
            except DataError as e:
                if strict:
                    raise
                problems.append(Problem(str(path), n, str(e)[len(where) + 2:]))
                continue
            seen.add(sample.id)
            samples.append(sample)
    return samples, problems


def sample_to_json(sample: Sample) -> str:
    d = asdict(sample)
    del d["line"]
    return json.dumps(d, ensure_ascii=False, sort_keys=False)


def write_manifest(path: str | Path, samples: Iterable[Sample]) -> int:
    """Write atomically (temp file + rename); returns the number of samples written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    n = 0
    with tmp.open("w", encoding="utf-8") as f:
        for s in samples:
            f.write(sample_to_json(s) + "\n")
            n += 1
    tmp.replace(path)
    return n


def resolve(manifest: str | Path, rel: str) -> Path:
    """A media path of a manifest, relative to the manifest's folder (absolute paths kept)."""
    p = Path(rel)
    return p if p.is_absolute() else Path(manifest).resolve().parent / p


def rebase(sample: Sample, manifest: str | Path, folder: str | Path) -> Sample:
    """``sample`` of ``manifest`` with its media paths rewritten relative to ``folder`` (where the
    manifest that will hold it lives)."""
    import os
    from dataclasses import replace
    moved = {m: os.path.relpath(resolve(manifest, getattr(sample, m)), Path(folder).resolve())
             for m in ("image", "audio") if getattr(sample, m)}
    return replace(sample, **moved)
