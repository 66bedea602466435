"""The transformer block against an independent NumPy implementation on the same weights."""
import numpy as np
import mindspore as ms
from mindspore import nn
from scipy.special import erf

from zidong.models.layers import Block, TransformerStack, causal_bias, key_bias


def np_layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def np_linear(x, p, name):
    return x @ p[f"{name}.weight"].T + p[f"{name}.bias"]


def np_attention(x, kv, p, name, heads, key_mask, causal=False):
    b, lq, h = x.shape
    lk, d = kv.shape[1], h // heads

    def split(t, n):
        return t.reshape(b, n, heads, d).transpose(0, 2, 1, 3)
    q = split(np_linear(x, p, f"{name}.q"), lq)
    k = split(np_linear(kv, p, f"{name}.k"), lk)
    v = split(np_linear(kv, p, f"{name}.v"), lk)
    s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d)
    allowed = np.broadcast_to(key_mask[:, None, None, :] > 0, s.shape)
    if causal:
        allowed = allowed & np.tril(np.ones((lq, lk), bool))
    s = np.where(allowed, s, -np.inf)
    a = np.exp(s - s.max(-1, keepdims=True))
    a /= a.sum(-1, keepdims=True)
    out = (a @ v).transpose(0, 2, 1, 3).reshape(b, lq, h)
    return np_linear(out, p, f"{name}.o")


def np_block(x, p, heads, mask, memory=None, memory_mask=None, causal=False):
    h = np_layer_norm(x, p["ln1.gamma"], p["ln1.beta"])
    x = x + np_attention(h, h, p, "attn", heads, mask, causal)
    if memory is not None:
        h = np_layer_norm(x, p["ln_cross.gamma"], p["ln_cross.beta"])
        x = x + np_attention(h, memory, p, "cross", heads, memory_mask)
    h = np_layer_norm(x, p["ln2.gamma"], p["ln2.beta"])
    f = np_linear(h, p, "ffn.fc1")
    f = 0.5 * f * (1 + erf(f / np.sqrt(2)))
    return x + np_linear(f, p, "ffn.fc2")


def _params(cell, prefix=""):
    rng = np.random.default_rng(1)
    out = {}
    for param in cell.get_parameters():
        # random LayerNorm affine too, so a wrong gamma/beta use cannot hide
        value = rng.standard_normal(param.shape).astype(np.float32) * 0.3
        param.set_data(ms.Tensor(value))
        out[param.name[len(prefix):]] = value.astype(np.float64)
    return out


def test_self_attention_block_matches_numpy_with_padding_mask():
    rng = np.random.default_rng(0)
    blk = Block(32, 4, 64)
    p = _params(blk)
    x = rng.standard_normal((2, 7, 32)).astype(np.float32)
    mask = np.ones((2, 7), np.float32)
    mask[1, 4:] = 0
    got = blk(ms.Tensor(x), key_bias(ms.Tensor(mask))).asnumpy()
    want = np_block(x.astype(np.float64), p, 4, mask)
    assert np.abs(got - want).max() <= 1e-5


def test_causal_cross_attention_block_matches_numpy():
    rng = np.random.default_rng(2)
    blk = Block(32, 8, 48, cross_dim=24)
    p = _params(blk)
    x = rng.standard_normal((3, 6, 32)).astype(np.float32)
    mem = rng.standard_normal((3, 5, 24)).astype(np.float32)
    ones = np.ones((3, 6), np.float32)
    mem_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 1, 0, 1]], np.float32)
    got = blk(ms.Tensor(x), key_bias(ms.Tensor(ones)) + causal_bias(6), ms.Tensor(mem),
              key_bias(ms.Tensor(mem_mask))).asnumpy()
    want = np_block(x.astype(np.float64), p, 8, ones, mem.astype(np.float64), mem_mask,
                    causal=True)
    assert np.abs(got - want).max() <= 1e-5


def test_stack_is_blocks_then_final_layer_norm():
    rng = np.random.default_rng(3)
    stack = TransformerStack(16, 2, 2, 32)
    p = _params(stack)
    x = rng.standard_normal((2, 5, 16)).astype(np.float32)
    mask = np.ones((2, 5), np.float32)
    got = stack(ms.Tensor(x), key_bias(ms.Tensor(mask))).asnumpy()
    want = x.astype(np.float64)
    for i in range(2):
        sub = {k[len(f"blocks.{i}."):]: v for k, v in p.items() if k.startswith(f"blocks.{i}.")}
        want = np_block(want, sub, 2, mask)
    want = np_layer_norm(want, p["ln_f.gamma"], p["ln_f.beta"])
    assert np.abs(got - want).max() <= 1e-5


def test_hmlp_stem_keeps_patches_apart_and_sees_every_pixel_of_its_own():
    # masked image modelling relies on a hidden patch leaving no trace in the other tokens
    from zidong.models.patch_embed import HMLPStem
    stem = HMLPStem(patch=8, channels=3, hidden=32)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 192)).astype(np.float32)
    base = stem(ms.Tensor(x)).asnumpy()
    assert base.shape == (2, 5, 32)
    for pixel in (0, 77, 191):           # first, middle and last value of patch 3
        y = x.copy()
        y[1, 3, pixel] += 3.0
        diff = np.abs(stem(ms.Tensor(y)).asnumpy() - base).max(axis=-1)
        assert diff[1, 3] > 1e-4, pixel
        diff[1, 3] = 0.0
        assert diff.max() == 0.0, pixel


def test_conv_stem_tokens_follow_the_patch_grid_and_hidden_patches_leave_no_trace():
    # the conv stem's 3x3 windows cross patch borders, so the encoder blanks a hidden patch's
    # pixels first: masked image modelling must not read a hidden patch from its neighbours
    from zidong.config import load_config
    from zidong.models.vision_encoder import VisionEncoder
    cfg = load_config("tiny", ["model.vision.stem=conv"]).model
    enc = VisionEncoder(cfg.vision, cfg.unified_dim)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 32, 32)).astype(np.float32)     # 4 x 4 grid of 8 px patches
    y = x.copy()
    y[1, :, 8:16, 16:24] += 3.0                               # patch (1, 2) of sample 1: token 6
    stem = enc.patch_embed
    a, b = stem(ms.Tensor(x)).asnumpy(), stem(ms.Tensor(y)).asnumpy()
    assert a.shape == (2, 16, cfg.vision.hidden)
    moved = np.abs(b - a).max(-1)
    assert moved[0].max() == 0.0 and moved[1, 6] > 1e-3
    # its windows see past the border: a neighbour moves too, unlike the patch stems
    assert moved[1, 5] > 1e-4 or moved[1, 7] > 1e-4 or moved[1, 2] > 1e-4 or moved[1, 10] > 1e-4

    mask = np.zeros((2, 16), np.int32)
    mask[1, 6] = 1
    out_x = enc(ms.Tensor(x), ms.Tensor(mask))[0].asnumpy()
    out_y = enc(ms.Tensor(y), ms.Tensor(mask))[0].asnumpy()
    assert np.abs(out_x - out_y).max() == 0.0
    mask[1, 6] = 0
    unmasked = enc(ms.Tensor(y), ms.Tensor(mask))[0].asnumpy()
    assert np.abs(unmasked - out_x).max() > 1e-4


def test_conv_stem_batchnorm_uses_batch_statistics_in_training_and_moving_ones_after():
    # the default conv_norm: each channel normalised over the batch while training (what made
    # the probe learn, docs/architecture.md), the moving statistics in inference
    from zidong.models.patch_embed import ConvStem
    stem = ConvStem(patch=8, channels=3, hidden=32)
    first = stem.layers[0]
    assert first.conv.bias is None and isinstance(first.norm, nn.BatchNorm2d)
    x = ms.Tensor(np.random.default_rng(0).normal(3.0, 5.0, (4, 3, 32, 32)).astype(np.float32))
    stem.set_train(True)
    conv = first.conv(x)
    pre = first.norm(conv).asnumpy()        # before the GELU
    assert np.abs(pre.mean(axis=(0, 2, 3))).max() < 1e-4
    assert np.abs(pre.std(axis=(0, 2, 3)) - 1.0).max() < 1e-2
    mean, var = first.norm.moving_mean.asnumpy(), first.norm.moving_variance.asnumpy()
    assert np.abs(mean).max() > 1e-3    # updated by the pass
    # inference: the moving statistics. A new Cell with the same parameters, because a graph-mode
    # Cell keeps the mode it was first compiled in
    later = ConvStem(patch=8, channels=3, hidden=32)
    ms.load_param_into_net(later, {p.name: p for p in stem.get_parameters()})
    later.set_train(False)
    want = (conv.asnumpy() - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
    got = later.layers[0].norm(conv).asnumpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.abs(got - pre).max() > 0.1

    layer = ConvStem(patch=8, channels=3, hidden=32, norm="layer").layers[0]
    assert layer.conv.bias is not None and isinstance(layer.norm, nn.LayerNorm)


def test_overlap_stem_reads_each_patch_with_half_of_each_neighbour():
    # each token's window is the 16 px square centred on its 8 px patch: a pixel is read by the
    # two tokens per axis whose windows reach it (one at the image border), and by no other
    from zidong.models.patch_embed import OverlapStem
    stem = OverlapStem(patch=8, channels=3, hidden=32)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 3, 32, 32)).astype(np.float32)     # 4 x 4 grid of 8 px patches
    base = stem(ms.Tensor(x)).asnumpy()
    assert base.shape == (1, 16, 32)

    def moved_by(row, col):
        y = x.copy()
        y[0, 1, row, col] += 3.0
        return set(np.flatnonzero(np.abs(stem(ms.Tensor(y)).asnumpy() - base).max(-1)[0] > 1e-5))
    assert moved_by(9, 17) == {1, 2, 5, 6}            # top-left quarter of patch (1, 2)
    assert moved_by(14, 22) == {6, 7, 10, 11}         # its bottom-right quarter
    assert moved_by(0, 0) == {0}                      # the image corner: nothing beyond
    assert moved_by(2, 13) == {1, 2}                  # top border, right quarter of patch (0, 1)
    assert moved_by(8, 31) == {3, 7}                  # the right edge of patch (1, 3), top half


def test_sincos_positions_are_fixed_and_distances_follow_the_grid():
    # model.vision.pos_embed=sincos: MAE's 2-D table, frozen, in place of the learnt one
    from zidong.config import load_config
    from zidong.models.vision_encoder import VisionEncoder, sincos_2d
    t = sincos_2d(4, 16)
    assert t.shape == (17, 16) and not t[0].any()             # the CLS row is zero
    # patches (0,0), (0,1), (1,0), (3,3): one step along either axis moves the table the same,
    # three steps move it further
    d = lambda a, b: np.linalg.norm(t[1 + a] - t[1 + b])
    assert abs(d(0, 1) - d(0, 4)) < 1e-6 and d(0, 15) > d(0, 1)
    cfg = load_config("tiny", ["model.vision.pos_embed=sincos"]).model
    enc = VisionEncoder(cfg.vision, cfg.unified_dim)
    pos = [p for p in enc.get_parameters() if p.name.endswith("pos")]
    assert len(pos) == 1 and not pos[0].requires_grad
    assert pos[0].name not in {p.name for p in enc.trainable_params()}
    grid = cfg.vision.image_size // cfg.vision.patch_size
    np.testing.assert_array_equal(pos[0].asnumpy(), sincos_2d(grid, cfg.vision.hidden))
