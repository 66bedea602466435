"""Checkpoint tools: listing, .ckpt <-> safetensors conversion (bit-exact, the run still loads),
loading into another config only with a report, and the formats MindSpore cannot export here."""
import numpy as np
import pytest

from zidong.export.checkpoint_tools import convert, list_tensors, load_into, read_tensors
from zidong.train.checkpoint import checkpoints


@pytest.fixture(scope="module")
def ckpt(tiny_run):
    return checkpoints(tiny_run[0])[-1]


def test_list_gives_every_tensor_with_its_shape(ckpt, tiny):
    info = list_tensors(ckpt)
    rows = {name: (shape, dtype) for name, shape, dtype in info["tensors"]}
    assert rows["model.text_encoder.tok"] == ([tiny.model.text.vocab_size, 64], "float32")
    assert info["meta"]["step"] == 6 and info["meta"]["config"] == "tiny"
    assert not any(name.startswith("meta.") for name in rows)


def test_conversion_round_trips_exactly_and_the_run_still_loads(ckpt, tmp_path):
    from zidong.eval.load import load_run
    convert(ckpt, tmp_path / "run.ckpt")
    back = tmp_path / "step_0000006.safetensors"
    convert(tmp_path / "run.ckpt", back)
    a, b = read_tensors(ckpt), read_tensors(back)
    assert set(a) == set(b) and all(np.array_equal(a[k], b[k]) for k in a)
    model = load_run(back)[0]
    np.testing.assert_array_equal(model.fusion.cls.asnumpy(), a["model.fusion.cls"])
    with pytest.raises(ValueError, match=r"x\.pt: unknown checkpoint format"):
        convert(ckpt, tmp_path / "x.pt")


def test_a_truncated_checkpoint_is_named(ckpt, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(ckpt.read_bytes()[:5000])
    with pytest.raises(ValueError, match=r"bad\.safetensors: not a readable safetensors"):
        read_tensors(bad)


def test_a_checkpoint_modified_in_place_fails_its_sha256(ckpt, tmp_path):
    import shutil

    from zidong.train.checkpoint import digest_path, load_state
    assert digest_path(ckpt).is_file()             # written beside every checkpoint
    bad = tmp_path / ckpt.name
    shutil.copy(ckpt, bad)
    shutil.copy(digest_path(ckpt), digest_path(bad))
    load_state(bad)                                # an intact copy loads
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0xFF                   # same size: only the digest can tell
    bad.write_bytes(bytes(data))
    for load in (load_state, read_tensors):
        with pytest.raises(ValueError, match=r"SHA-256 .* does not match .*corrupted or was modif"):
            load(bad)
    out = tmp_path / "copy.ckpt"
    convert(ckpt, out)
    assert digest_path(out).read_text().split()[0] != digest_path(ckpt).read_text().split()[0]
    read_tensors(out)                              # a converted file carries its own digest


def test_another_config_loads_only_with_a_report(ckpt):
    from zidong.config import load_config
    from zidong.models import create_model
    cfg = load_config("tiny", ["model.fusion.layers=3", "model.text.max_len=20"])
    model = create_model(cfg.model)
    before = model.fusion.cls.asnumpy().copy()
    with pytest.raises(ValueError, match=r"(?s)nothing loaded.*missing 16, unexpected 0, shape "
                                         r"mismatches 2") as e:
        load_into(model, ckpt)
    assert "text_encoder.pos: checkpoint [17, 64], model [21, 64]" in str(e.value)
    assert "fusion.stack.blocks.2.attn.q.weight" in str(e.value)
    np.testing.assert_array_equal(model.fusion.cls.asnumpy(), before)   # really nothing
    report = load_into(model, ckpt, allow_partial=True)
    assert not report.exact and "fusion.cls" in report.loaded
    np.testing.assert_array_equal(model.fusion.cls.asnumpy(),
                                  read_tensors(ckpt)["model.fusion.cls"])
    smaller = create_model(load_config("tiny", ["model.fusion.layers=1"]).model)
    with pytest.raises(ValueError, match="unexpected 16"):
        load_into(smaller, ckpt)


def test_onnx_and_air_fail_with_mindspores_reason(tiny_run, tmp_path):
    from zidong.export.exporter import export_other
    with pytest.raises(ValueError, match="AIR export needs an Ascend device; this process runs "
                                         "on CPU"):
        export_other(tiny_run[0], tmp_path / "air", "AIR")
    # MindSpore 2.10's ONNX exporter lacks Erf, which the exact GELU of every block uses
    with pytest.raises(ValueError, match="ONNX export of text_embed failed in MindSpore .*Erf"):
        export_other(tiny_run[0], tmp_path / "onnx", "ONNX")
