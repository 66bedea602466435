"""An independent image attribute scorer: reads a tri-shapes scene back from an image, so generated
images (text->image, speech->image) are judged by a network that shares no weights with the model.

An image does not say which group a caption named first, so scenes are compared in canonical form:
relation "left" or "above", A being the left / upper group (``canonical``). Nine softmax heads:
a.count a.size a.colour a.shape, the same for b, and relation.

The network and its measurements: ``zidong.eval.scorer_net``.
"""
from __future__ import annotations

import io
import json
from pathlib import Path

import mindspore as ms
import numpy as np

from zidong.data.corpus import grammar as G
from zidong.eval.scene_parse import ATTRIBUTES, FIELDS, attribute_report
from zidong.eval.scorer_net import DEFAULT_CONFIG, ScorerNet, build_scorer_net

IMAGE_SIZE = 64
CANONICAL_RELATIONS = ("left", "above")
_VALUES = {"count": G.COUNTS, "size": G.SIZES, "colour": G.COLOURS, "shape": G.SHAPES}
# classes of each head, in ATTRIBUTES order (a.count ... b.shape, relation)
HEADS = tuple(_VALUES[name.split(".")[1]] if "." in name else CANONICAL_RELATIONS
              for name in ATTRIBUTES)
N_CLASSES = max(len(h) for h in HEADS)
# Training also labels each cell of the 8 x 8 level (8 px at 64 px) with the object covering its
# centre: colour, shape (class 0: none) and canonical group (0 none, 1 A, 2 B). Many labelled cells
# per image teach local colour/shape detectors far faster than nine labels per image do.
CELL_GRID = 8
CELL_HEADS = (len(G.COLOURS) + 1, len(G.SHAPES) + 1, 3)


def canonical(scene: dict) -> dict:
    """The scene told from the left / upper group: "right" and "below" swap A and B and invert the
    relation. Other keys (background) are kept; idempotent."""
    out = dict(scene)
    if scene.get("relation") in ("right", "below"):
        out.update(a=scene.get("b"), b=scene.get("a"), relation=G.INVERSE[scene["relation"]])
    return out


def encode(scene: dict) -> np.ndarray:
    """(9,) int32 class indices of a scene's canonical form."""
    s = canonical(scene)
    vals = [s[name[0]][name[2:]] if "." in name else s["relation"] for name in ATTRIBUTES]
    try:
        return np.array([h.index(v) for h, v in zip(HEADS, vals)], np.int32)
    except ValueError:
        raise ValueError(f"scene outside the tri-shapes grammar: {scene}") from None


def decode(row) -> dict:
    values = [h[int(i)] for h, i in zip(HEADS, row)]
    scene = {g: {f: values[k * len(FIELDS) + j] for j, f in enumerate(FIELDS)}
             for k, g in enumerate(("a", "b"))}
    scene["relation"] = values[-1]
    return scene


def build_net(config: dict) -> ScorerNet:
    return build_scorer_net(config, tuple(len(h) for h in HEADS), CELL_HEADS, CELL_GRID)


# ---- turning inputs into a (N, 64, 64, 3) uint8 batch -------------------------------------------
def _from_file_bytes(data: bytes, size: int) -> np.ndarray:
    # the data pipeline's own decoder: same mode conversions and the same BICUBIC resize
    from zidong.data.media import decode_image
    chw, _ = decode_image(data, size, 0.0, 1.0)
    return (chw.transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)


def _one_image(item, size: int) -> np.ndarray:
    from PIL import Image
    if isinstance(item, (str, Path)):
        path = Path(item)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: image file not found")
        return _from_file_bytes(path.read_bytes(), size)
    if isinstance(item, Image.Image):
        buf = io.BytesIO()
        item.save(buf, "PNG")
        return _from_file_bytes(buf.getvalue(), size)
    arr = np.asarray(item)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"an image must be (H, W, 3) RGB; got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise TypeError(f"image arrays must be uint8 in 0..255, got {arr.dtype} "
                        "(convert with (x * 255).round().astype(np.uint8))")
    if arr.shape[:2] != (size, size):
        arr = np.asarray(Image.fromarray(arr).resize((size, size), Image.BICUBIC))
    return arr


def as_batch(images, size: int = IMAGE_SIZE) -> np.ndarray:
    """(N, H, W, 3) uint8 array, or a list of PIL images / uint8 arrays / image paths ->
    (N, size, size, 3) uint8, resized like the data pipeline (BICUBIC)."""
    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[3] != 3:
            raise ValueError(f"images must be (N, H, W, 3) RGB; got shape {images.shape}")
        if images.shape[1:3] == (size, size) and images.dtype == np.uint8:
            return images
    items = list(images)
    if not items:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack([_one_image(it, size) for it in items])


class Scorer:
    """A trained scorer: ``Scorer.load(path).read(images)`` -> canonical scene dicts."""

    def __init__(self, net=None, config: dict | None = None, batch: int = 64,
                 info: dict | None = None):
        self.config = dict(DEFAULT_CONFIG if config is None else config)
        self.net = build_net(self.config) if net is None else net
        self.batch = batch
        self.info = info or {}
        self._forward = None

    # ---- persistence ----------------------------------------------------------------------------
    @staticmethod
    def paths(path) -> tuple[Path, Path]:
        """(weights, json) of a scorer folder (or of its .safetensors file)."""
        path = Path(path)
        if path.suffix == ".safetensors":
            return path, path.with_suffix(".json")
        return path / "scorer.safetensors", path / "scorer.json"

    def save(self, path, info: dict | None = None) -> Path:
        """Weights and JSON (config + ``info``), each written to a temp file and renamed."""
        weights, meta = self.paths(path)
        weights.parent.mkdir(parents=True, exist_ok=True)
        self.info = info if info is not None else self.info
        # MindSpore insists on the .safetensors suffix, so the temp name keeps it
        tmp = weights.with_name(weights.stem + ".tmp" + weights.suffix)
        if tmp.exists():
            tmp.chmod(0o600)
            tmp.unlink()
        ms.save_checkpoint(self.net, str(tmp), format="safetensors")
        tmp.chmod(0o644)  # MindSpore writes 0400; a later run must be able to replace it
        tmp.replace(weights)
        tmp_json = meta.with_name(meta.name + ".tmp")
        tmp_json.write_text(json.dumps({"config": self.config, **self.info}, indent=1))
        tmp_json.replace(meta)
        return weights.parent if weights.name == "scorer.safetensors" else weights

    @classmethod
    def load(cls, path, batch: int = 64) -> "Scorer":
        weights, meta = cls.paths(path)
        for p in (weights, meta):
            if not p.is_file():
                raise FileNotFoundError(f"{p}: no trained image scorer here "
                                        "(make one with `zidong scorer train --out DIR`)")
        info = json.loads(meta.read_text())
        scorer = cls(config=info.pop("config"), batch=batch, info=info)
        params = ms.load_checkpoint(str(weights), format="safetensors")
        missing, _ = ms.load_param_into_net(scorer.net, params, strict_load=True)
        if missing:
            raise ValueError(f"{weights}: lacks {len(missing)} scorer tensors, e.g. {missing[:3]}")
        return scorer

    # ---- inference ------------------------------------------------------------------------------
    def predict(self, images) -> np.ndarray:
        """(N, 9) class indices. Fixed batch: the last one is padded, so one graph serves all."""
        x = as_batch(images, self.config["image_size"])
        self.net.set_train(False)          # BatchNorm (conv scorer): running statistics
        if self._forward is None:
            net = self.net

            @ms.jit
            def forward(batch):
                return net(batch).argmax(-1)
            self._forward = forward
        out = []
        for i in range(0, len(x), self.batch):
            chunk = x[i:i + self.batch]
            pad = np.zeros((self.batch - len(chunk),) + chunk.shape[1:], np.uint8)
            idx = self._forward(ms.Tensor(np.concatenate([chunk, pad]))).asnumpy()
            out.append(idx[:len(chunk)])
        return np.concatenate(out) if out else np.zeros((0, len(HEADS)), np.int32)

    def read(self, images) -> list[dict]:
        """Canonical scene dicts ({"a", "b", "relation"}) read from the images."""
        return [decode(row) for row in self.predict(images)]

    def attr_acc(self, images, prompt_scenes) -> dict:
        """Per-attribute accuracy of what the scorer reads against the prompts' scenes (both in
        canonical form), plus "mean" (= attr_acc) and "exact" (all 9 right)."""
        scenes = list(prompt_scenes)
        preds = self.read(images)
        return attribute_report(preds, [canonical(s) for s in scenes])
