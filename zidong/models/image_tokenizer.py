"""VQ image tokenizer: a ViT-style VQ-VAE with an EMA codebook (van den Oord et al. 2017, EMA
updates as in their appendix; transformer encoder/decoder as in ViT-VQGAN, Yu et al. 2021).

image -> patches -> encoder transformer -> nearest codebook vector -> decoder transformer -> patches.
A grid of ``(image_size / patch_size)^2`` discrete codes is what the image decoder predicts and what
masked image modelling targets.

The codebook is not trained by gradients: while the Cell is in training mode every forward pass moves
each code towards the mean of the encoder outputs assigned to it (exponential moving averages of the
counts and sums, like BatchNorm's running statistics), which is more stable than the gradient version.
Codes that no encoder output has chosen for a while ("dead" codes: EMA usage below half an assignment
per EMA window) are restarted at the encoder outputs that the codebook currently fits worst, as in
Jukebox (Dhariwal et al. 2020). Usage starts at zero, so the first training batch initialises the
whole codebook from data instead of from noise. A restarted code is credited with one assignment
per EMA window, twice the threshold: if nothing picks it, it is dead again after ln 2 / (1 - decay)
steps (~70 at decay 0.99). Crediting it a full assignment per step kept an unused code alive for
~530 steps, longer than the whole CPU VQ stage (measured in docs/results.md, "The VQ stage").
"""
from __future__ import annotations

import mindspore as ms
from mindspore import Parameter, nn, ops
from mindspore.common.initializer import initializer

from .layers import Linear, TransformerStack, embedding_table
from .patches import patchify, unpatchify


class EMAQuantizer(nn.Cell):
    def __init__(self, codebook_size: int, code_dim: int, decay: float, commitment: float):
        super().__init__()
        self.k, self.dim = codebook_size, code_dim
        self.decay, self.commitment, self.eps = decay, commitment, 1e-5
        self.embedding = Parameter(initializer("normal", (codebook_size, code_dim), ms.float32),
                                   name="embedding", requires_grad=False)
        self.cluster_size = Parameter(initializer("zeros", (codebook_size,), ms.float32),
                                      name="cluster_size", requires_grad=False)
        self.embed_avg = Parameter(self.embedding.asnumpy().copy(), name="embed_avg",
                                   requires_grad=False)
        self.matmul_t = ops.MatMul(transpose_b=True)
        self.matmul_ta = ops.MatMul(transpose_a=True)
        self.argmin = ops.Argmin(axis=-1, output_type=ms.int32)
        self.gather = ops.Gather()
        self.onehot = ops.OneHot()
        self.topk = ops.TopK(sorted=True)
        self.dead_threshold = 0.5 * (1.0 - decay)
        self.restart_size = 2.0 * self.dead_threshold

    def distances(self, flat):
        # flat (N, code_dim) -> (N, K) squared distances to every code
        emb = self.embedding
        return (flat * flat).sum(-1, keepdims=True) - 2 * self.matmul_t(flat, emb) + \
            (emb * emb).sum(-1).reshape(1, -1)

    def codes(self, flat):
        return self.argmin(self.distances(flat))

    def lookup(self, codes):
        return self.gather(self.embedding, codes, 0)

    def construct(self, z):
        # z (B, N, code_dim) -> straight-through quantised z, codes (B, N), commitment loss
        b, n = z.shape[0], z.shape[1]
        flat = z.reshape(b * n, self.dim)
        dist = self.distances(ops.stop_gradient(flat))
        codes = self.argmin(dist)
        zq = self.lookup(codes).reshape(b, n, self.dim)
        commit = self.commitment * ((z - ops.stop_gradient(zq)) ** 2).mean()
        if self.training:
            self._ema_update(ops.stop_gradient(flat), codes, dist.min(-1))
        zq_st = z + ops.stop_gradient(zq - z)
        return zq_st, codes.reshape(b, n), commit

    def _ema_update(self, flat, codes, fit_error):
        onehot = self.onehot(codes, self.k, ops.scalar_to_tensor(1.0, ms.float32),
                             ops.scalar_to_tensor(0.0, ms.float32))
        d = self.decay
        size = self.cluster_size * d + onehot.sum(0) * (1 - d)
        avg = self.embed_avg * d + self.matmul_ta(onehot, flat) * (1 - d)
        total = size.sum()
        smoothed = (size + self.eps) / (total + self.k * self.eps) * total  # Laplace smoothing
        embedding = avg / smoothed.reshape(-1, 1)
        # restart dead codes at the worst-fitted encoder outputs of this batch (static shapes:
        # the batch is tiled when it holds fewer vectors than there are codes)
        reps = -(-self.k // flat.shape[0])
        if reps > 1:
            flat = ops.tile(flat, (reps, 1))
            fit_error = ops.tile(fit_error, (reps,))
        _, worst = self.topk(fit_error, self.k)
        fresh = self.gather(flat, worst, 0)
        dead = (size < self.dead_threshold).reshape(-1, 1)
        credit = ops.ones_like(size) * self.restart_size
        ops.assign(self.cluster_size, ops.where(dead.reshape(-1), credit, size))
        # embed_avg / cluster_size must equal the fresh code, so the next update starts from it
        ops.assign(self.embed_avg, ops.where(dead, fresh * self.restart_size, avg))
        ops.assign(self.embedding, ops.where(dead, fresh, embedding))


class ImageTokenizer(nn.Cell):
    def __init__(self, cfg, image_size: int, channels: int):
        super().__init__()
        self.patch, self.channels = cfg.patch_size, channels
        self.grid = image_size // cfg.patch_size
        n, pix = self.grid ** 2, cfg.patch_size * cfg.patch_size * channels
        self.enc_in = Linear(pix, cfg.hidden)
        self.enc_pos = embedding_table(n, cfg.hidden, "enc_pos")
        self.encoder = TransformerStack(cfg.hidden, cfg.layers, cfg.heads, cfg.ffn_dim)
        self.enc_out = Linear(cfg.hidden, cfg.code_dim)
        self.quantizer = EMAQuantizer(cfg.codebook_size, cfg.code_dim, cfg.ema_decay,
                                      cfg.commitment)
        self.dec_in = Linear(cfg.code_dim, cfg.hidden)
        self.dec_pos = embedding_table(n, cfg.hidden, "dec_pos")
        self.decoder = TransformerStack(cfg.hidden, cfg.layers, cfg.heads, cfg.ffn_dim)
        self.dec_out = Linear(cfg.hidden, pix)
        self.no_bias = ms.Tensor(0.0, ms.float32)  # full attention, nothing padded

    def encode_latents(self, images):
        x = self.enc_in(patchify(images, self.patch)) + self.enc_pos
        return self.enc_out(self.encoder(x, self.no_bias))

    def decode_latents(self, zq):
        x = self.decoder(self.dec_in(zq) + self.dec_pos, self.no_bias)
        return unpatchify(self.dec_out(x), self.patch, self.channels, self.grid)

    def encode(self, images):
        """(B, C, H, W) -> (B, grid*grid) int32 codes (no codebook update)."""
        z = self.encode_latents(images)
        b, n = z.shape[0], z.shape[1]
        return self.quantizer.codes(z.reshape(b * n, -1)).reshape(b, n)

    def decode(self, codes):
        """(B, grid*grid) codes -> (B, C, H, W) images in the normalised pixel space."""
        return self.decode_latents(self.quantizer.lookup(codes))

    def construct(self, images):
        zq, codes, commit = self.quantizer(self.encode_latents(images))
        return self.decode_latents(zq), codes, commit
