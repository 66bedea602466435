"""Transformer building blocks shared by every encoder, the fusion and every decoder.

Matmuls are explicit ``ops.MatMul`` / ``ops.BatchMatMul`` primitives (not ``nn.Dense``) so that the
distributed issue can attach ``.shard()`` strategies to them in one place (``shard`` methods).
Softmax runs in float32 whatever the compute dtype, so masks with a large negative bias are safe.
"""
from __future__ import annotations

import math

import numpy as np
import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops
from mindspore.common.initializer import TruncatedNormal, initializer

NEG_INF = -1e9  # additive bias for masked keys; applied in float32


def key_bias(mask: Tensor) -> Tensor:
    """(B, Lk) 1/0 key mask -> (B, 1, 1, Lk) additive attention bias."""
    mask = mask.astype(ms.float32)
    return ((1.0 - mask) * NEG_INF).reshape(mask.shape[0], 1, 1, mask.shape[1])


def causal_bias(length: int) -> Tensor:
    """(1, 1, L, L) bias that hides future positions; a constant, so graphs stay static."""
    tri = np.triu(np.full((length, length), NEG_INF, np.float32), k=1)
    return Tensor(tri.reshape(1, 1, length, length))


class Linear(nn.Cell):
    """y = x W^T + b with W of shape (out, in), as nn.Dense, over inputs of any rank."""

    def __init__(self, in_dim: int, out_dim: int, has_bias: bool = True):
        super().__init__()
        self.in_dim, self.out_dim = in_dim, out_dim
        self.weight = Parameter(initializer(TruncatedNormal(0.02), (out_dim, in_dim), ms.float32),
                                name="weight")
        self.has_bias = has_bias
        if has_bias:
            self.bias = Parameter(initializer("zeros", (out_dim,), ms.float32), name="bias")
            self.bias_add = ops.BiasAdd()
        self.matmul = ops.MatMul(transpose_b=True)

    def construct(self, x):
        lead = x.shape[:-1]
        y = self.matmul(x.reshape(-1, self.in_dim), self.weight.astype(x.dtype))
        if self.has_bias:
            y = self.bias_add(y, self.bias.astype(y.dtype))
        return y.reshape(lead + (self.out_dim,))

    def shard(self, strategy_matmul, strategy_bias=None):
        """Attach a semi-auto-parallel strategy (only honoured in SEMI_AUTO/AUTO_PARALLEL mode)."""
        self.matmul.shard(strategy_matmul)
        if self.has_bias and strategy_bias is not None:
            self.bias_add.shard(strategy_bias)
        return self


def layer_norm(dim: int) -> nn.LayerNorm:
    return nn.LayerNorm((dim,), epsilon=1e-5)


def dropout(p: float) -> nn.Cell:
    return nn.Dropout(p=p) if p > 0 else nn.Identity()


class Attention(nn.Cell):
    """Multi-head attention; self-attention when ``kv`` is ``x``, cross-attention otherwise."""

    def __init__(self, hidden: int, heads: int, kv_dim: int | None = None, dropout_p: float = 0.0):
        super().__init__()
        kv_dim = kv_dim or hidden
        self.heads, self.head_dim = heads, hidden // heads
        self.scale = 1.0 / math.sqrt(self.head_dim)
        self.q = Linear(hidden, hidden)
        self.k = Linear(kv_dim, hidden)
        self.v = Linear(kv_dim, hidden)
        self.o = Linear(hidden, hidden)
        self.qk = ops.BatchMatMul(transpose_b=True)
        self.av = ops.BatchMatMul()
        self.softmax = ops.Softmax(axis=-1)
        self.drop = dropout(dropout_p)

    def _split(self, x):
        b, n = x.shape[0], x.shape[1]
        return x.reshape(b, n, self.heads, self.head_dim).transpose(0, 2, 1, 3)

    def construct(self, x, kv, bias):
        # x (B, Lq, H); kv (B, Lk, Hkv); bias broadcastable to (B, heads, Lq, Lk)
        q = self._split(self.q(x))
        k = self._split(self.k(kv))
        v = self._split(self.v(kv))
        scores = self.qk(q, k).astype(ms.float32) * self.scale + bias
        probs = self.drop(self.softmax(scores)).astype(v.dtype)
        out = self.av(probs, v)  # (B, heads, Lq, head_dim)
        b, lq = x.shape[0], x.shape[1]
        out = out.transpose(0, 2, 1, 3).reshape(b, lq, self.heads * self.head_dim)
        return self.o(out)


class FeedForward(nn.Cell):
    def __init__(self, hidden: int, ffn_dim: int, dropout_p: float = 0.0):
        super().__init__()
        self.fc1 = Linear(hidden, ffn_dim)
        self.fc2 = Linear(ffn_dim, hidden)
        self.act = nn.GELU(approximate=False)
        self.drop = dropout(dropout_p)

    def construct(self, x):
        return self.fc2(self.drop(self.act(self.fc1(x))))


class Block(nn.Cell):
    """Pre-LN transformer block: self-attention, optional cross-attention, feed-forward."""

    def __init__(self, hidden: int, heads: int, ffn_dim: int, cross_dim: int | None = None,
                 dropout_p: float = 0.0):
        super().__init__()
        self.ln1 = layer_norm(hidden)
        self.attn = Attention(hidden, heads, dropout_p=dropout_p)
        self.has_cross = cross_dim is not None
        if self.has_cross:
            self.ln_cross = layer_norm(hidden)
            self.cross = Attention(hidden, heads, kv_dim=cross_dim, dropout_p=dropout_p)
        self.ln2 = layer_norm(hidden)
        self.ffn = FeedForward(hidden, ffn_dim, dropout_p)
        self.drop = dropout(dropout_p)

    def construct(self, x, self_bias, memory=None, memory_bias=None):
        h = self.ln1(x)
        x = x + self.drop(self.attn(h, h, self_bias))
        if self.has_cross:
            x = x + self.drop(self.cross(self.ln_cross(x), memory, memory_bias))
        return x + self.drop(self.ffn(self.ln2(x)))


class TransformerStack(nn.Cell):
    """``layers`` blocks and a final LayerNorm."""

    def __init__(self, hidden: int, layers: int, heads: int, ffn_dim: int,
                 cross_dim: int | None = None, dropout_p: float = 0.0):
        super().__init__()
        self.blocks = nn.CellList([Block(hidden, heads, ffn_dim, cross_dim, dropout_p)
                                   for _ in range(layers)])
        self.ln_f = layer_norm(hidden)

    def construct(self, x, self_bias, memory=None, memory_bias=None):
        for block in self.blocks:
            x = block(x, self_bias, memory, memory_bias)
        return self.ln_f(x)


def embedding_table(rows: int, dim: int, name: str) -> Parameter:
    return Parameter(initializer(TruncatedNormal(0.02), (rows, dim), ms.float32), name=name)


def l2_normalize(x):
    return x / ops.sqrt((x * x).sum(axis=-1, keepdims=True) + 1e-12)
