"""An export folder: MINDIR files, the tokenizer, and ``export.json`` describing them.

``export.json`` holds, per graph, its file, inputs and outputs (name, shape with ``null`` for the
batch dimension, dtype) and SHA-256; the preprocessing parameters; the run's full config (so the
runtime preprocesses exactly as training did); and where it came from. Every file is hashed again
before it is used: a truncated or corrupted file is refused naming the file, never half-loaded.

No model classes are imported here: this is what the runtime reads.
"""
from __future__ import annotations

import json
from pathlib import Path

from zidong.integrity import sha256_file

FORMAT_VERSION = 1
MANIFEST = "export.json"
TOKENIZER = "tokenizer.model"

# the graphs each task runs; "retrieve" re-ranks with "match" when the run has a matching head
TASK_GRAPHS = {
    "retrieve": ("text_embed", "image_embed", "speech_embed"),
    "caption": ("memory", "text_step"), "asr": ("memory", "text_step"),
    "vqa": ("memory", "text_step"), "vqa_speech": ("memory", "text_step"),
    "t2i": ("memory", "image_step", "vq_decode"), "s2i": ("memory", "image_step", "vq_decode"),
    "t2s": ("memory", "speech_decoder"), "i2s": ("memory", "text_step", "speech_decoder"),
}
TASKS = tuple(TASK_GRAPHS)


class BundleError(ValueError):
    """An export folder that cannot be used: missing, truncated or modified files."""


def file_record(path: Path) -> dict:
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def verify_file(folder: Path, record: dict) -> Path:
    """The path of a file listed in export.json, after checking its size and SHA-256."""
    path = folder / record["file"]
    if not path.is_file():
        raise BundleError(f"{path}: listed in {folder / MANIFEST} but missing")
    size = path.stat().st_size
    if size != record["bytes"]:
        raise BundleError(f"{path}: {size} bytes, export.json says {record['bytes']} "
                          f"(truncated or replaced); re-export it")
    digest = sha256_file(path)
    if digest != record["sha256"]:
        raise BundleError(f"{path}: SHA-256 {digest} does not match export.json's "
                          f"{record['sha256']} (corrupted or modified); re-export it")
    return path


class Bundle:
    """A verified view of an export folder; graphs are hashed and loaded on first use."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        path = self.folder / MANIFEST
        if not path.is_file():
            raise BundleError(f"{path}: not found ({self.folder} is not a zidong export folder; "
                              f"make one with `zidong export`)")
        try:
            self.info = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise BundleError(f"{path}: not valid JSON ({e})") from None
        if self.info.get("format_version") != FORMAT_VERSION:
            raise BundleError(f"{path}: format_version {self.info.get('format_version')!r}, this "
                              f"zidong reads {FORMAT_VERSION}")
        self.graphs_info: dict = self.info["graphs"]
        self._graphs: dict = {}

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(t for t, names in TASK_GRAPHS.items()
                     if all(n in self.graphs_info for n in names))

    def require(self, task: str) -> None:
        if task not in TASK_GRAPHS:
            raise BundleError(f"unknown task {task!r}; available: {', '.join(TASKS)}")
        lacking = [n for n in TASK_GRAPHS[task] if n not in self.graphs_info]
        if lacking:
            serves = ", ".join(self.tasks) or "none"
            raise BundleError(f"{self.folder}: task {task} needs graph(s) {', '.join(lacking)}, "
                              f"not exported (this folder serves: {serves})")

    def tokenizer_path(self) -> Path:
        return verify_file(self.folder, self.info["tokenizer"])

    def graph(self, name: str):
        """``nn.GraphCell`` of one exported graph, its file verified first."""
        if name not in self._graphs:
            if name not in self.graphs_info:
                raise BundleError(f"{self.folder}: no graph {name!r} exported; have "
                                  f"{', '.join(self.graphs_info)}")
            path = verify_file(self.folder, self.graphs_info[name])
            import mindspore as ms
            from mindspore import nn
            try:
                self._graphs[name] = nn.GraphCell(ms.load(str(path)))
            except (RuntimeError, ValueError) as e:
                raise BundleError(f"{path}: MindSpore cannot load it ({e})") from None
        return self._graphs[name]
