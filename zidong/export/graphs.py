"""The inference graphs of a ZidongModel as Cells with fixed-shape inputs, one per exported file.

Each wrapper holds the model's sub-Cells under the model's own attribute names: MindSpore renames
a Parameter after the attribute path of the last Cell it is assigned to, so another name
("enc", "dec") would rename the loaded model's parameters and two wrappers could collide
("its name 'dec.pos' already exists").

Every input's first dimension is the batch, exported as dynamic (``None``); all other sizes come
from the config (max text length, image size, max frames, fused length).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import mindspore as ms
from mindspore import nn, ops


class TextEmbedder(nn.Cell):
    def __init__(self, model):
        super().__init__()
        self.text_encoder = model.text_encoder

    def construct(self, text_ids, text_mask):
        return self.text_encoder(text_ids, text_mask)[2]  # (B, D) L2-normalised


class ImageEmbedder(nn.Cell):
    def __init__(self, model):
        super().__init__()
        self.vision_encoder = model.vision_encoder

    def construct(self, image):
        return self.vision_encoder(image)[2]


class SpeechEmbedder(nn.Cell):
    def __init__(self, model):
        super().__init__()
        self.speech_encoder = model.speech_encoder

    def construct(self, mel, mel_mask):
        return self.speech_encoder(mel, mel_mask)[2]


class FusedMemory(nn.Cell):
    """Encoders + fusion: what every generation task conditions its decoder on. ``presence``
    (B, 3) says which of text, image, speech take part; the others' inputs may hold anything."""

    def __init__(self, model):
        super().__init__()
        self.text_encoder = model.text_encoder
        self.vision_encoder = model.vision_encoder
        self.speech_encoder = model.speech_encoder
        self.fusion = model.fusion

    def construct(self, text_ids, text_mask, image, mel, mel_mask, presence):
        t_tok, t_mask, _ = self.text_encoder(text_ids, text_mask)
        i_tok, i_mask, _ = self.vision_encoder(image)
        s_tok, s_mask, _ = self.speech_encoder(mel, mel_mask)
        return self.fusion(t_tok, t_mask, i_tok, i_mask, s_tok, s_mask, presence)


class MatchScorer(nn.Cell):
    """Encoders + fusion + the pretraining's matching head: probability that the present
    modalities belong together (class 0), for re-ranking retrieval candidates."""

    def __init__(self, model, matching):
        super().__init__()
        self.memory = FusedMemory(model)
        self.matching = matching

    def construct(self, text_ids, text_mask, image, mel, mel_mask, presence):
        memory, _ = self.memory(text_ids, text_mask, image, mel, mel_mask, presence)
        return ops.softmax(self.matching.logits(memory[:, 0]), -1)[:, 0]


class CTCLogProbs(nn.Cell):
    """Speech encoder + the ctc head: CTC log-probabilities over the text vocabulary for every
    speech token, and which tokens are real, for joint CTC/attention speech recognition."""

    def __init__(self, model, ctc):
        super().__init__()
        self.speech_encoder = model.speech_encoder
        self.ctc = ctc

    def construct(self, mel, mel_mask):
        tokens, token_mask, _ = self.speech_encoder(mel, mel_mask)
        return self.ctc.log_probs(tokens[:, 1:]), token_mask[:, 1:]


class TextDecoderStep(nn.Cell):
    def __init__(self, model):
        super().__init__()
        self.text_decoder = model.text_decoder

    def construct(self, ids, memory, memory_mask):
        return self.text_decoder(ids, memory, memory_mask)  # (B, max_len, vocab) logits


class ImageDecoderStep(nn.Cell):
    def __init__(self, model):
        super().__init__()
        self.image_decoder = model.image_decoder

    def construct(self, ids, memory, memory_mask):
        return self.image_decoder(ids, memory, memory_mask)


class VQDecoder(nn.Cell):
    def __init__(self, model):
        super().__init__()
        self.image_tokenizer = model.image_tokenizer

    def construct(self, codes):
        return self.image_tokenizer.decode(codes)  # (B, C, H, W) normalised pixels


class SpeechDecoderGraph(nn.Cell):
    """One non-autoregressive pass: (log-mel frames, predicted length fraction). Generation calls
    it twice, as ``generate_speech`` does: lengths = max_frames to read the length prediction,
    then the predicted lengths."""

    def __init__(self, model):
        super().__init__()
        self.speech_decoder = model.speech_decoder

    def construct(self, memory, memory_mask, lengths, lang):
        return self.speech_decoder(memory, memory_mask, lengths, lang)


@dataclass(frozen=True)
class GraphSpec:
    build: Callable          # (model, {"match": head or None, "ctc": head or None}) -> Cell
    inputs: tuple            # ((name, shape without batch, dtype name), ...)
    outputs: tuple           # ((name, shape without batch, dtype name), ...), in order
    what: str


def graph_specs(m) -> dict[str, GraphSpec]:
    """Every exportable graph of a model with ModelConfig ``m``."""
    lt, lf, d = m.text.max_len, m.fused_len, m.unified_dim
    img = (m.vision.channels, m.vision.image_size, m.vision.image_size)
    mel = (m.speech.max_frames, m.speech.n_mels)
    fused_in = (("text_ids", (lt,), "int32"), ("text_mask", (lt,), "float32"),
                ("image", img, "float32"), ("mel", mel, "float32"),
                ("mel_mask", (m.speech.max_frames,), "float32"), ("presence", (3,), "float32"))
    memory_in = (("memory", (lf, d), "float32"), ("memory_mask", (lf,), "float32"))
    embedding = (("embedding", (d,), "float32"),)
    codes = m.image_tokenizer.codebook_size
    return {
        "text_embed": GraphSpec(lambda model, _: TextEmbedder(model), fused_in[:2], embedding,
                                "text -> unified-space embedding (L2-normalised)"),
        "image_embed": GraphSpec(lambda model, _: ImageEmbedder(model), fused_in[2:3],
                                 embedding, "image -> unified-space embedding"),
        "speech_embed": GraphSpec(lambda model, _: SpeechEmbedder(model), fused_in[3:5],
                                  embedding, "log-mel -> unified-space embedding"),
        "memory": GraphSpec(lambda model, _: FusedMemory(model), fused_in,
                            memory_in, "encoders + fusion given presence"),
        "match": GraphSpec(lambda model, h: MatchScorer(model, h["match"]), fused_in,
                           (("match_prob", (), "float32"),),
                           "encoders + fusion + matching head: P(the present modalities match)"),
        "ctc": GraphSpec(lambda model, h: CTCLogProbs(model, h["ctc"]), fused_in[3:5],
                         (("ctc_logp", (m.speech_tokens, m.text.vocab_size), "float32"),
                          ("token_mask", (m.speech_tokens,), "float32")),
                         "speech encoder + ctc head: CTC log-probabilities per speech token"),
        "text_step": GraphSpec(lambda model, _: TextDecoderStep(model),
                               (("ids", (lt,), "int32"),) + memory_in,
                               (("logits", (lt, m.text.vocab_size), "float32"),),
                               "text decoder over the whole fixed-length sequence"),
        "image_step": GraphSpec(lambda model, _: ImageDecoderStep(model),
                                (("ids", (m.image_tokens,), "int32"),) + memory_in,
                                (("logits", (m.image_tokens, codes), "float32"),),
                                "image-code decoder over the whole fixed-length sequence"),
        "vq_decode": GraphSpec(lambda model, _: VQDecoder(model),
                               (("codes", (m.image_tokens,), "int32"),),
                               (("pixels", img, "float32"),),
                               "VQ codes -> normalised pixels"),
        "speech_decoder": GraphSpec(lambda model, _: SpeechDecoderGraph(model),
                                    memory_in + (("lengths", (), "float32"), ("lang", (), "int32")),
                                    (("mel", mel, "float32"), ("length_fraction", (), "float32")),
                                    "memory -> log-mel frames and the length prediction"),
    }


def input_placeholders(spec: GraphSpec, batch: int | None = None) -> list:
    """Shape-only Tensors for ``mindspore.export``; ``batch`` None exports a dynamic batch."""
    return [ms.Tensor(shape=[batch, *shape], dtype=getattr(ms, dtype))
            for _, shape, dtype in spec.inputs]
