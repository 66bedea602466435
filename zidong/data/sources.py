"""Readers that yield RAW_COLUMNS per sample: a JSONL manifest (files read on demand) or a packed
MindRecord file (media bytes inside). Both index samples in manifest order."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from zidong.data.manifest import DataError, Problem, Sample, read_manifest, resolve

EMPTY = np.zeros(0, np.uint8)


def _read(manifest: Path, rel: str | None) -> tuple[np.ndarray, str, str]:
    """(bytes as uint8 array, resolved path, error)"""
    if rel is None:
        return EMPTY, "", ""
    path = resolve(manifest, rel)
    try:
        return np.frombuffer(path.read_bytes(), np.uint8), str(path), ""
    except FileNotFoundError:
        return EMPTY, str(path), f"{path}: file not found"
    except OSError as e:
        return EMPTY, str(path), f"{path}: cannot read ({e.strerror})"


def raw_row(manifest: Path, index: int, s: Sample) -> tuple:
    image, image_path, err_i = _read(manifest, s.image)
    audio, audio_path, err_a = _read(manifest, s.audio)
    has = np.array([s.text is not None, s.image is not None, s.audio is not None], np.int32)
    meta = s.meta if isinstance(s.meta, dict) else {}
    answer, words = meta.get("answer"), meta.get("words")
    return (np.int32(index), np.int32(s.line), np.array(s.id), np.array(s.text or ""), np.array(s.lang or ""),
            image, audio, has, np.int32(-1 if s.label is None else s.label),
            np.array(err_i or err_a), np.array(image_path), np.array(audio_path),
            np.array(str(answer) if answer is not None else ""),
            np.array(json.dumps(words) if words else ""))


class ManifestSource:
    """Random-access source for ``mindspore.dataset.GeneratorDataset``."""

    def __init__(self, manifest: str | Path, strict: bool = False):
        self.path = Path(manifest)
        self.samples, self.problems = read_manifest(self.path, strict=strict)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> tuple:
        return raw_row(self.path, int(i), self.samples[int(i)])


MINDRECORD_SCHEMA = {
    "index": {"type": "int32"}, "line": {"type": "int32"}, "id": {"type": "string"}, "text": {"type": "string"},
    "lang": {"type": "string"}, "image": {"type": "bytes"}, "audio": {"type": "bytes"},
    "has": {"type": "int32", "shape": [3]}, "label": {"type": "int32"},
    "error": {"type": "string"}, "image_path": {"type": "string"},
    "audio_path": {"type": "string"}, "answer": {"type": "string"}, "words": {"type": "string"},
}


def pack_mindrecord(manifest: str | Path, out: str | Path, strict: bool = False) -> dict:
    """Pack a manifest and its media into one MindRecord file (plus its .db index). Unreadable
    files are packed as errors, so the pipeline reports them exactly as it would from the
    manifest. Written in a temporary folder and moved into place when complete (MindRecord
    records its file name inside, so the name itself cannot change)."""
    import shutil
    import tempfile

    from mindspore.mindrecord import FileWriter
    src = ManifestSource(manifest, strict=strict)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp = tmp_dir / out.name
    writer = FileWriter(str(tmp), shard_num=1, overwrite=True)
    writer.add_schema(MINDRECORD_SCHEMA, "zidong raw samples")
    rows = []
    for i in range(len(src)):
        r = src[i]
        rows.append({"index": int(r[0]), "line": int(r[1]), "id": str(r[2]), "text": str(r[3]),
                     "lang": str(r[4]), "image": r[5].tobytes(), "audio": r[6].tobytes(),
                     "has": r[7], "label": int(r[8]), "error": str(r[9]),
                     "image_path": str(r[10]), "audio_path": str(r[11]), "answer": str(r[12]),
                     "words": str(r[13])})
        if len(rows) == 256:
            writer.write_raw_data(rows)
            rows = []
    if rows:
        writer.write_raw_data(rows)
    writer.commit()
    Path(str(tmp) + ".db").replace(str(out) + ".db")
    tmp.replace(out)
    shutil.rmtree(tmp_dir, ignore_errors=True)
    return {"samples": len(src), "manifest_problems": [str(p) for p in src.problems],
            "out": str(out)}


def is_mindrecord(path: str | Path) -> bool:
    return Path(str(path) + ".db").is_file() and not str(path).endswith(".jsonl")


def count_mindrecord(path: str | Path) -> int:
    import mindspore.dataset as ds
    return ds.MindDataset(str(path), shuffle=False).get_dataset_size()


__all__ = ["DataError", "ManifestSource", "Problem", "count_mindrecord", "is_mindrecord",
           "pack_mindrecord", "raw_row"]
