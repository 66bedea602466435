"""tools/vq_held_out.py --image-scorer: the scorer reads the images and their reconstructions."""
import io
import subprocess
import sys

import numpy as np
from PIL import Image

from zidong.config import load_config
from zidong.data.media import decode_image, image_to_uint8
from zidong.eval.image_scorer import Scorer
from zidong.eval.scene_parse import ATTRIBUTES

from tests.eval.scenes import TINY_CONV, scene_manifest
from tests.tools import TOOLS, load_tool

TOOL = TOOLS / "vq_held_out.py"


def test_image_to_uint8_inverts_the_pipelines_normalisation():
    rgb = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    x, _ = decode_image(buf.getvalue(), 16, 0.5, 0.5)
    assert np.array_equal(image_to_uint8(x[None], 0.5, 0.5)[0], rgb)
    assert image_to_uint8(np.full((1, 3, 2, 2), 9.0), 0.5, 0.5).max() == 255   # clipped


def test_a_lossless_tokenizer_reads_back_as_the_originals(tmp_path):
    tool = load_tool("vq_held_out")
    val = scene_manifest(tmp_path, "val.jsonl", 1, 5)
    Scorer(config=TINY_CONV, batch=4).save(tmp_path / "scorer")

    class Lossless:
        encode = decode = staticmethod(lambda x: x)

    cfg = load_config("tiny")
    same = tool.scorer_ceiling(Lossless(), val, cfg, str(tmp_path / "scorer"), 4)
    assert same["images"] == 4 and same["originals"] == same["reconstructions"]
    assert set(ATTRIBUTES) | {"mean", "exact"} <= set(same["originals"])


def test_flat_references_at_other_patch_sizes(tmp_path):
    from zidong.train.vq_stage import patch_mean_colour
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype(np.float32)
    assert np.array_equal(patch_mean_colour(x, 1), x)
    whole = patch_mean_colour(x, 8)
    assert np.allclose(whole, x.mean(axis=(2, 3), keepdims=True))
    halves = patch_mean_colour(x, 4)
    assert np.allclose(halves[:, :, :4, 4:], x[:, :, :4, 4:].mean(axis=(2, 3), keepdims=True))

    tool = load_tool("vq_held_out")
    val = scene_manifest(tmp_path, "val.jsonl", 1, 5)
    Scorer(config=TINY_CONV, batch=4).save(tmp_path / "scorer")
    # no tokenizer: the originals and the flat references only (1 px: the originals again)
    read = tool.scorer_ceiling(None, val, load_config("tiny"), str(tmp_path / "scorer"), 4, [4, 1])
    assert {"originals", "patch_mean_colour_4px", "patch_mean_colour_1px"} <= set(read)
    assert "reconstructions" not in read
    assert read["patch_mean_colour_1px"] == read["originals"]


def test_the_tool_rejects_what_it_cannot_measure_before_loading_anything():
    def run(*args):
        return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True)
    assert "give --ckpt, --image-scorer or both" in run().stderr
    assert "is not a comma-separated list" in run("--image-scorer", "s", "--flat-patches", "4,x").stderr
    assert "--flat-patches needs --image-scorer" in run("--ckpt", "c", "--flat-patches", "4").stderr
