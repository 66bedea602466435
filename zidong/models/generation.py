"""Generation from a fused memory with the model's decoders: text (greedy / beam), VQ image codes
(sampling with temperature and top-k, seeded) and log-mel speech (one non-autoregressive pass).
The search around the decoders is ``zidong.decoding.generate``, shared with the MINDIR runtime."""
from __future__ import annotations

from mindspore import Tensor

from zidong.config.special_tokens import BOS_ID
from zidong.decoding.generate import decode_image_codes, decode_speech, decode_text, step_over


def generate_text(model, memory: Tensor, mask: Tensor, method: str = "beam",
                  beam_size: int = 4, length_penalty: float = 1.0, start=BOS_ID) -> list[list[int]]:
    """Token ids (without start/EOS) per example from the text decoder; ``start`` is the first
    input, one id or one per example (the language token: ``Tokenizer.start_id``)."""
    return decode_text(step_over(model.text_decoder), memory, mask, model.cfg.text.max_len, start,
                       method, beam_size, length_penalty)


def generate_image_codes(model, memory: Tensor, mask: Tensor, temperature: float = 1.0,
                         top_k: int = 0, seed: int = 0):
    """(B, grid*grid) VQ codes; temperature 0 is greedy. Decode with ``image_tokenizer.decode``."""
    return decode_image_codes(step_over(model.image_decoder), memory, mask, model.cfg.image_tokens,
                              model.cfg.image_tokenizer.codebook_size, temperature, top_k, seed)


def generate_speech(model, memory: Tensor, mask: Tensor, lang=None):
    """Log-mel (frames, n_mels) per example, as long as the length predictor says; ``lang``
    (B,) language indices (``LANG_INDEX``) or None for none."""
    return decode_speech(model.speech_decoder, memory, mask, model.cfg.speech.max_frames, lang)
