"""The whole encoder -> fusion path in graph mode, for every modality subset."""
import itertools

import numpy as np
import mindspore as ms
import pytest

from tests.conftest import make_batch
from zidong.models import create_model

SUBSETS = [c for c in itertools.product([0, 1], repeat=3) if any(c)]  # 7 combinations
MIXED = [[1, 1, 1], [1, 0, 0], [0, 1, 1], [0, 0, 1]]                  # the 8th: mixed in a batch


@pytest.fixture(scope="module")
def model():
    from zidong.config import load_config
    ms.set_seed(0)
    return create_model(load_config("tiny").model)


@pytest.fixture(scope="module")
def fwd_bwd(model):
    """One compiled graph: fused memory and embeddings, and the gradient of a random projection
    of them with respect to every parameter."""
    params = model.trainable_params()
    rng = np.random.default_rng(0)
    cfg = model.cfg
    proj = ms.Tensor(rng.standard_normal((cfg.fused_len, cfg.unified_dim)).astype(np.float32))

    def loss_fn(*batch):
        fused, mask, t, i, s = model(*batch)
        return (fused * proj).sum() + (t + i + s).sum()

    grad_fn = ms.value_and_grad(loss_fn, None, params)

    @ms.jit
    def run(*batch):
        loss, grads = grad_fn(*batch)
        fused, mask, t, i, s = model(*batch)
        return fused, mask, t, i, s, grads

    return run, [p.name for p in params]


def _grad_norms(names, grads, prefix):
    return [float(np.abs(g.asnumpy()).sum()) for n, g in zip(names, grads) if n.startswith(prefix)]


@pytest.mark.parametrize("presence", [[list(c)] * 4 for c in SUBSETS] + [MIXED],
                         ids=["".join("tis"[k] for k in range(3) if c[k]) for c in SUBSETS]
                         + ["mixed"])
def test_every_subset_runs_forward_and_backward(model, fwd_bwd, presence):
    run, names = fwd_bwd
    cfg = model.cfg
    batch = make_batch(cfg, presence, text_len=9, frames=40)
    fused, mask, t, i, s, grads = run(*batch)
    b, d = 4, cfg.unified_dim
    assert fused.shape == (b, cfg.fused_len, d) and mask.shape == (b, cfg.fused_len)
    for emb in (t, i, s):
        assert emb.shape == (b, d)
        np.testing.assert_allclose(np.linalg.norm(emb.asnumpy(), axis=-1), 1.0, atol=1e-5)
    assert all(np.isfinite(g.asnumpy()).all() for g in grads)
    # the fusion mask says exactly which positions are real
    pres = np.asarray(presence, np.float32)
    m = mask.asnumpy()
    lt, li = 1 + cfg.text.max_len, 1 + cfg.vision_patches
    assert (m[:, 0] == 1).all()
    np.testing.assert_array_equal(m[:, 1:1 + lt].sum(1), pres[:, 0] * (1 + 9))
    np.testing.assert_array_equal(m[:, 1 + lt:1 + lt + li].sum(1), pres[:, 1] * li)
    np.testing.assert_array_equal(m[:, 1 + lt + li:].sum(1), pres[:, 2] * (1 + 40 // 4))
    assert np.all(fused.asnumpy()[m == 0] == 0)
    assert sum(_grad_norms(names, grads, "fusion.")) > 0
    if pres.all():  # every encoder and fusion parameter is used
        for prefix in ("text_encoder.", "vision_encoder.", "speech_encoder.", "fusion."):
            # (the vision mask embedding stands in for hidden patches only: no patch mask here)
            norms = [n for name, n in zip([x for x in names if x.startswith(prefix)],
                                          _grad_norms(names, grads, prefix))
                     if name != "vision_encoder.mask_embed"]
            assert norms and min(norms) > 0, prefix


def test_modality_absent_everywhere_gets_no_gradient_through_the_fusion(model, fwd_bwd):
    run, names = fwd_bwd
    *_, grads = run(*make_batch(model.cfg, [[0, 1, 1]] * 4))
    grads = dict(zip(names, grads))
    # the text type embedding is added only at text positions: absent text, no gradient
    type_grad = grads["fusion.type_embed"].asnumpy()
    assert np.all(type_grad[1] == 0) and np.abs(type_grad[2]).sum() > 0


@pytest.mark.parametrize("absent", [0, 1, 2])
def test_absent_modality_content_changes_no_output(model, fwd_bwd, absent):
    run, _ = fwd_bwd
    presence = [[1, 1, 1] for _ in range(4)]
    for row in presence:
        row[absent] = 0
    a = make_batch(model.cfg, presence, seed=1, text_len=9, frames=40)
    other = make_batch(model.cfg, presence, seed=2, text_len=3, frames=12)
    # the absent modality's inputs, content and padding mask both, come from the other batch
    slots = {0: (0, 1), 1: (2,), 2: (3, 4)}[absent]
    b = [other[k] if k in slots else a[k] for k in range(6)]
    out_a, out_b = run(*a), run(*b)
    np.testing.assert_array_equal(out_a[0].asnumpy(), out_b[0].asnumpy())  # fused memory
    np.testing.assert_array_equal(out_a[1].asnumpy(), out_b[1].asnumpy())  # its mask


def test_padding_of_a_present_modality_changes_no_output(model, fwd_bwd):
    run, _ = fwd_bwd
    # 18 real frames: the last real subsampled step's kernel reaches into padding frames 18, 19
    a = [x.asnumpy() for x in make_batch(model.cfg, [[1, 1, 1]] * 4, text_len=5, frames=18)]
    b = [x.copy() for x in a]
    b[0][:, 5:] = 7          # other token ids behind the text mask
    b[3][:, 18:] = 100.0     # other mel values behind the frame mask
    out_a = run(*(ms.Tensor(x) for x in a))
    out_b = run(*(ms.Tensor(x) for x in b))
    np.testing.assert_array_equal(out_a[1].asnumpy(), out_b[1].asnumpy())
    np.testing.assert_allclose(out_a[0].asnumpy(), out_b[0].asnumpy(), atol=1e-5)
    for k in (2, 3, 4):  # pooled embeddings
        np.testing.assert_allclose(out_a[k].asnumpy(), out_b[k].asnumpy(), atol=1e-6)


def test_same_seed_same_model_same_outputs():
    from zidong.config import load_config
    cfg = load_config("tiny").model
    batch = make_batch(cfg, MIXED)
    outs = []
    for _ in range(2):
        ms.set_seed(123)
        m = create_model(cfg)
        outs.append(m(*batch)[0].asnumpy())
    np.testing.assert_array_equal(outs[0], outs[1])
    ms.set_seed(124)
    assert np.abs(create_model(cfg)(*batch)[0].asnumpy() - outs[0]).max() > 1e-3
