"""Generation around the decoders, given only how to call them: the checkpointed Cells
(``zidong.models.generation``) and the exported MINDIR graphs (``zidong.export.infer``) both run
these functions, so the same memory and seed give the same text, codes and speech on both paths.

``make_step(memory, mask)`` returns a search step function (``zidong.decoding.search``) over a
decoder attending to that memory; ``speech_fn(memory, mask, lengths, lang)`` returns the speech
decoder's (mel, length fraction) as Tensors.
"""
from __future__ import annotations

import numpy as np
from mindspore import Tensor

from zidong.config.special_tokens import EOS_ID, PAD_ID

from .search import beam_search, greedy_search, sample_search


def decode_text(make_step, memory: Tensor, mask: Tensor, max_len: int, start, method: str = "beam",
                beam_size: int = 4, length_penalty: float = 1.0, ctc=None,
                ctc_weight: float = 0.0) -> list[list[int]]:
    """Token ids (without start/EOS) per row of ``memory``; ``start`` one id or one per row.
    ``ctc`` (a ``CTCPrefixScorer`` over the same rows) makes beam search the joint
    CTC/attention one with weight ``ctc_weight``."""
    n = memory.shape[0]
    if method == "greedy":
        return greedy_search(make_step(memory, mask), n, max_len, start, EOS_ID, PAD_ID)
    if method == "beam":
        mem = Tensor(np.repeat(memory.asnumpy(), beam_size, 0))
        msk = Tensor(np.repeat(mask.asnumpy(), beam_size, 0))
        return beam_search(make_step(mem, msk), n, max_len, start, EOS_ID, beam_size,
                           length_penalty, PAD_ID, ctc, ctc_weight)
    raise ValueError(f"method must be 'greedy' or 'beam', got {method!r}")


def decode_image_codes(make_step, memory: Tensor, mask: Tensor, length: int, bos: int,
                       temperature: float = 1.0, top_k: int = 0, seed: int = 0) -> np.ndarray:
    """(rows, length) VQ codes; temperature 0 is greedy. Every row draws from one random stream,
    so a seed reproduces an image only with the same batch size."""
    rows = sample_search(make_step(memory, mask), memory.shape[0], length, bos, None,
                         temperature, top_k, seed, pad=0)
    return np.asarray(rows, np.int32)


def decode_speech(speech_fn, memory: Tensor, mask: Tensor, max_frames: int,
                  lang=None) -> list[np.ndarray]:
    """Log-mel (frames, n_mels) per row, as long as the length predictor says: one pass reads
    the predicted lengths, a second generates at those lengths. ``lang`` (rows,) language
    indices or None."""
    rows = memory.shape[0]
    lang = None if lang is None else Tensor(np.asarray(lang, np.int32))
    _, frac = speech_fn(memory, mask, Tensor(np.full((rows,), max_frames, np.float32)), lang)
    lengths = np.clip(np.rint(frac.asnumpy() * max_frames), 1, max_frames).astype(np.float32)
    mel = speech_fn(memory, mask, Tensor(lengths), lang)[0].asnumpy()
    return [mel[i, :int(lengths[i])] for i in range(rows)]


def step_over(decoder):
    """``make_step`` for a decoder called as ``decoder(ids, memory, mask) -> logits``."""
    def make_step(memory: Tensor, mask: Tensor):
        def step(ids: np.ndarray) -> np.ndarray:
            return decoder(Tensor(np.asarray(ids, np.int32)), memory, mask).asnumpy()
        return step
    return make_step
