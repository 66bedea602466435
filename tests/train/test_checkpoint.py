"""Checkpoint files: the digest travels with its checkpoint, and pruning removes both."""
import numpy as np
import mindspore as ms

from zidong.train.checkpoint import checkpoints, digest_path, load_state, prune, save_state


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
