"""Exact parameter counts from the config alone, component by component.

Each function mirrors the constructor of the Cell it is named after (every Parameter, trainable or
not, e.g. the EMA codebook's statistics). ``zidong plan`` uses these for presets far too large to
build; the tests check them against built Cells for the presets that fit on a CPU.
"""
from __future__ import annotations

from zidong.config.schema import ModelConfig
from zidong.config.special_tokens import NUM_LANGS
from zidong.models.patch_embed import conv_layers, hmlp_width
from zidong.models.speech_decoder import OFFSET_FEATURES, REL_FEATURES


def linear(i: int, o: int) -> int:
    return i * o + o


def layer_norm(h: int) -> int:
    return 2 * h


def attention(h: int, kv: int | None = None) -> int:
    kv = kv or h
    return linear(h, h) + 2 * linear(kv, h) + linear(h, h)


def block(h: int, ffn: int, cross: int | None = None) -> int:
    n = layer_norm(h) + attention(h) + layer_norm(h) + linear(h, ffn) + linear(ffn, h)
    if cross is not None:
        n += layer_norm(h) + attention(h, cross)
    return n


def stack(t, cross: int | None = None, hidden: int | None = None) -> int:
    h = hidden or t.hidden
    return t.layers * block(h, t.ffn_dim, cross) + layer_norm(h)


def stem(v) -> int:
    """``patch_embed.create_stem``."""
    if v.stem in ("hmlp", "overlap"):
        window = v.patch_size * (2 if v.stem == "overlap" else 1)
        w, sub = hmlp_width(v.hidden), (window // 4) ** 2 * v.channels
        return linear(sub, w) + linear(4 * w, w) + linear(4 * w, v.hidden) + 2 * layer_norm(w)
    if v.stem == "conv":
        widths = [w for w, _ in conv_layers(v.patch_size, v.hidden, v.conv_layers)]
        ins = [v.channels] + widths[:-1]
        # BatchNorm: scale, shift and the two moving statistics, and no convolution bias
        batch = v.conv_norm == "batch"
        return (sum(9 * a * b + (4 * b if batch else b + layer_norm(b)) for a, b in zip(ins, widths))
                + linear(widths[-1], v.hidden))
    return linear(v.patch_size * v.patch_size * v.channels, v.hidden)


def unimodal_encoder(t, length: int, unified: int) -> int:
    return (t.hidden + (1 + length) * t.hidden + layer_norm(t.hidden) + stack(t)
            + linear(t.hidden, unified))


def text_encoder(m: ModelConfig) -> int:
    t = m.text
    return unimodal_encoder(t, t.max_len, m.unified_dim) + t.vocab_size * t.hidden


def vision_encoder(m: ModelConfig) -> int:
    v = m.vision
    return (unimodal_encoder(v, m.vision_patches, m.unified_dim)
            + stem(v) + v.hidden)  # + mask embedding


def speech_encoder(m: ModelConfig) -> int:
    s = m.speech
    return (unimodal_encoder(s, m.speech_tokens, m.unified_dim)
            + linear(3 * s.n_mels, s.hidden) + linear(3 * s.hidden, s.hidden))


def fusion(m: ModelConfig) -> int:
    d = m.unified_dim
    return d + 4 * d + stack(m.fusion, hidden=d)


def ar_decoder(t, vocab_in: int, vocab_out: int, max_len: int, memory: int) -> int:
    return ((vocab_in + max_len) * t.hidden + layer_norm(t.hidden) + stack(t, cross=memory)
            + linear(t.hidden, vocab_out))


def text_decoder(m: ModelConfig) -> int:
    v = m.text.vocab_size
    return ar_decoder(m.text_decoder, v, v, m.text.max_len, m.unified_dim)


def image_tokenizer(m: ModelConfig) -> int:
    q = m.image_tokenizer
    n, pix = m.image_tokens, q.patch_size ** 2 * m.vision.channels
    codebook = q.codebook_size * q.code_dim * 2 + q.codebook_size  # embedding, embed_avg, sizes
    return (2 * (n * q.hidden + stack(q)) + linear(pix, q.hidden) + linear(q.hidden, q.code_dim)
            + linear(q.code_dim, q.hidden) + linear(q.hidden, pix) + codebook)


def image_decoder(m: ModelConfig) -> int:
    k = m.image_tokenizer.codebook_size
    return ar_decoder(m.image_decoder, k + 1, k, m.image_tokens, m.unified_dim)


def speech_decoder(m: ModelConfig) -> int:
    t, s = m.speech_decoder, m.speech
    queries = s.max_frames // t.reduction
    return (queries * t.hidden + linear(REL_FEATURES, t.hidden) + stack(t, cross=m.unified_dim)
            + linear(t.hidden, t.reduction * s.n_mels) + linear(m.unified_dim, t.hidden)
            + linear(t.hidden, 1) + NUM_LANGS * t.hidden
            + (linear(m.unified_dim, 1) if t.align_prior > 0 and t.align_durations == "learned"
               else 0)
            + (linear(m.unified_dim, 1) + linear(OFFSET_FEATURES, t.hidden)
               if t.align_durations == "aligned" else 0))


COMPONENTS = {
    "text_encoder": text_encoder,
    "vision_encoder": vision_encoder,
    "speech_encoder": speech_encoder,
    "fusion": fusion,
    "text_decoder": text_decoder,
    "image_tokenizer": image_tokenizer,
    "image_decoder": image_decoder,
    "speech_decoder": speech_decoder,
}


def count_parameters(m: ModelConfig) -> dict[str, int]:
    """Per-component counts (names match ZidongModel's attributes) plus 'total'."""
    counts = {name: fn(m) for name, fn in COMPONENTS.items()}
    counts["total"] = sum(counts.values())
    return counts
