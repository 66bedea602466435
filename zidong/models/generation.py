"""Generation from a fused memory with the model's decoders: text (greedy / beam), VQ image codes
(sampling with temperature and top-k, seeded) and log-mel speech (one non-autoregressive pass)."""
from __future__ import annotations

import numpy as np
import mindspore as ms
from mindspore import Tensor

from zidong.config.special_tokens import BOS_ID, EOS_ID, PAD_ID
from zidong.decoding import beam_search, greedy_search, sample_search


def _decoder_step(decoder, memory: Tensor, mask: Tensor):
    def step(ids: np.ndarray) -> np.ndarray:
        return decoder(Tensor(ids, ms.int32), memory, mask).asnumpy()
    return step


def generate_text(model, memory: Tensor, mask: Tensor, method: str = "beam",
                  beam_size: int = 4, length_penalty: float = 1.0, start=BOS_ID) -> list[list[int]]:
    """Token ids (without start/EOS) per example from the text decoder; ``start`` is the first
    input, one id or one per example (the language token: ``Tokenizer.start_id``)."""
    n, max_len = memory.shape[0], model.cfg.text.max_len
    if method == "greedy":
        return greedy_search(_decoder_step(model.text_decoder, memory, mask), n, max_len,
                             start, EOS_ID, PAD_ID)
    if method == "beam":
        mem = Tensor(np.repeat(memory.asnumpy(), beam_size, 0))
        msk = Tensor(np.repeat(mask.asnumpy(), beam_size, 0))
        return beam_search(_decoder_step(model.text_decoder, mem, msk), n, max_len, start,
                           EOS_ID, beam_size, length_penalty, PAD_ID)
    raise ValueError(f"method must be 'greedy' or 'beam', got {method!r}")


def generate_image_codes(model, memory: Tensor, mask: Tensor, temperature: float = 1.0,
                         top_k: int = 0, seed: int = 0) -> np.ndarray:
    """(B, grid*grid) VQ codes; temperature 0 is greedy. Decode with ``image_tokenizer.decode``."""
    n, length = memory.shape[0], model.cfg.image_tokens
    bos = model.cfg.image_tokenizer.codebook_size
    rows = sample_search(_decoder_step(model.image_decoder, memory, mask), n, length, bos, None,
                         temperature, top_k, seed, pad=0)
    return np.asarray(rows, np.int32)


def generate_speech(model, memory: Tensor, mask: Tensor, lang=None) -> list[np.ndarray]:
    """Log-mel (frames, n_mels) per example, as long as the length predictor says; ``lang``
    (B,) language indices (``LANG_INDEX``) or None for none."""
    max_frames = model.cfg.speech.max_frames
    dummy = Tensor(np.full((memory.shape[0],), max_frames, np.float32))
    lang = None if lang is None else Tensor(np.asarray(lang, np.int32))
    _, frac = model.speech_decoder(memory, mask, dummy, lang)
    lengths = np.clip(np.rint(frac.asnumpy() * max_frames), 1, max_frames).astype(np.float32)
    mel, _ = model.speech_decoder(memory, mask, Tensor(lengths), lang)
    mel = mel.asnumpy()
    return [mel[i, :int(lengths[i])] for i in range(len(lengths))]
