"""File digests, for checkpoints (a ``.sha256`` beside each) and export folders
(``export.json``): a corrupted or modified file is refused by name before it is loaded."""
from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
