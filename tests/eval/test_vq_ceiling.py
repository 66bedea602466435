"""tools/vq_held_out.py --image-scorer: the scorer reads the images and their reconstructions."""
import importlib.util
import io
from pathlib import Path

import numpy as np
from PIL import Image

from zidong.config import load_config
from zidong.data.media import decode_image, image_to_uint8
from zidong.eval.image_scorer import Scorer
from zidong.eval.scene_parse import ATTRIBUTES

from tests.eval.scenes import TINY_CONV, scene_manifest

TOOL = Path(__file__).resolve().parents[2] / "tools" / "vq_held_out.py"


def test_image_to_uint8_inverts_the_pipelines_normalisation():
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    x, _ = decode_image(buf.getvalue(), 16, 0.5, 0.5)
    assert np.array_equal(image_to_uint8(x[None], 0.5, 0.5)[0], rgb)
    assert image_to_uint8(np.full((1, 3, 2, 2), 9.0), 0.5, 0.5).max() == 255   # clipped


def test_a_lossless_tokenizer_reads_back_as_the_originals(tmp_path):
    spec = importlib.util.spec_from_file_location("vq_held_out", TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    val = scene_manifest(tmp_path, "val.jsonl", 1, 5)
    Scorer(config=TINY_CONV, batch=4).save(tmp_path / "scorer")

    class Lossless:
        encode = decode = staticmethod(lambda x: x)

    cfg = load_config("tiny")
    same = tool.scorer_ceiling(Lossless(), val, cfg, str(tmp_path / "scorer"), 4)
    assert same["images"] == 4 and same["originals"] == same["reconstructions"]
    assert set(ATTRIBUTES) | {"mean", "exact"} <= set(same["originals"])
