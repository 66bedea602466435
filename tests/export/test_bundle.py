"""An export folder is checked before use: a truncated or modified file is refused, naming it."""
import json
import shutil

import pytest

from zidong.export.bundle import Bundle, BundleError


@pytest.fixture
def copy(exported, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(exported[0], folder)
    return folder


def test_a_truncated_mindir_is_refused_naming_it(copy):
    path = copy / "text_step.mindir"
    path.write_bytes(path.read_bytes()[:1000])
    bundle = Bundle(copy)
    bundle.graph("memory")  # the others still load
    with pytest.raises(BundleError, match=r"text_step\.mindir: 1000 bytes, export\.json says \d+ "
                                          r"\(truncated"):
        bundle.graph("text_step")


def test_a_modified_mindir_is_refused_by_its_hash(copy):
    path = copy / "vq_decode.mindir"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF   # same size, one byte flipped
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"vq_decode\.mindir: SHA-256 [0-9a-f]{64} does not "
                                          r"match"):
        Bundle(copy).graph("vq_decode")


def test_a_modified_tokenizer_is_refused(copy):
    from zidong.export.infer import MindirEngine
    with open(copy / "tokenizer.model", "ab") as f:
        f.write(b"x")
    with pytest.raises(BundleError, match=r"tokenizer\.model: \d+ bytes"):
        MindirEngine(copy)


def test_missing_or_partial_folders_say_what_is_wrong(copy, tmp_path):
    with pytest.raises(BundleError, match="not a zidong export folder"):
        Bundle(tmp_path / "nothing")
    (copy / "speech_decoder.mindir").unlink()
    with pytest.raises(BundleError, match=r"speech_decoder\.mindir: listed in .* but missing"):
        Bundle(copy).graph("speech_decoder")
    info = json.loads((copy / "export.json").read_text())
    del info["graphs"]["image_step"]
    (copy / "export.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match="task t2i needs graph.s. image_step, not exported"):
        Bundle(copy).require("t2i")
