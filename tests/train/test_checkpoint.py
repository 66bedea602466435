"""Checkpoint files: the digest travels with its checkpoint, and pruning removes both; the meta
reads without the tensors."""
import numpy as np
import mindspore as ms
import pytest

from zidong.train.checkpoint import (checkpoints, digest_path, load_state, prune, read_meta,
                                     save_state)


def test_prune_keeps_the_last_k_with_their_digests(tmp_path):
    p = ms.Parameter(ms.Tensor(np.arange(4, dtype=np.float32)), name="w")
    for step in (1, 2, 3):
        save_state(tmp_path / f"step_{step:07d}.safetensors", [p], {"step": step}, {"x": b"ab"})
    prune(tmp_path, 2)
    kept = checkpoints(tmp_path)
    assert [c.name for c in kept] == ["step_0000002.safetensors", "step_0000003.safetensors"]
    assert sorted(tmp_path.glob("*.sha256")) == [digest_path(c) for c in kept]
    params, meta, blobs = load_state(kept[-1])
    assert meta == {"step": 3} and blobs == {"x": b"ab"}
    np.testing.assert_array_equal(params["w"].asnumpy(), np.arange(4))


def test_read_meta_reads_what_load_state_reads_and_names_a_foreign_file(tmp_path):
    p = ms.Parameter(ms.Tensor(np.ones((3, 5), np.float32)), name="w")
    meta = {"step": 7, "config": {"context": {"cpu_isa": "avx2"}}, "text": "形状 ✓"}
    path = save_state(tmp_path / "step_0000007.safetensors", [p], meta, {"tok": b"\x00\x01"})
    assert read_meta(path) == meta == load_state(path)[1]
    other = tmp_path / "other.safetensors"
    ms.save_checkpoint([{"name": "w", "data": p}], str(other), format="safetensors")
    with pytest.raises(ValueError, match=r"other.safetensors: not a zidong checkpoint"):
        read_meta(other)
    with pytest.raises(FileNotFoundError, match="missing.safetensors: checkpoint not found"):
        read_meta(tmp_path / "missing.safetensors")

