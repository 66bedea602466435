"""Bilingual subword tokenizer: a SentencePiece BPE model trained on the corpus captions.

Byte fallback is on: a character never seen in training becomes its UTF-8 bytes instead of <unk>,
so text from a new domain (incremental training) is still represented exactly.

English gets BPE subwords (whole words for the caption vocabulary). Chinese characters are split
apart before SentencePiece sees them, as BERT's Chinese tokenizer does: trained on templated
captions, BPE would otherwise merge whole phrases ("一个大的紫色星星的左边") into single tokens that
share nothing with their parts. The special ids are fixed to ``zidong.config.special_tokens``. The
model is kept as bytes and saved with each run, so a run reloads exactly the tokenizer it trained
with (``sha256`` identifies it).
"""
from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path
from typing import Iterable

from zidong.config.special_tokens import (BOS_ID, EOS_ID, LANG_IDS, LANG_TOKENS, MASK_ID, PAD_ID,
                                          UNK_ID)
from zidong.data.manifest import DataError


_CJK = "\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_CHAR = re.compile(f"([{_CJK}])")
_SPACE_NEXT_TO_CJK = re.compile(f"(?<=[{_CJK}]) +| +(?=[{_CJK}])")


def split_cjk(text: str) -> str:
    """Put spaces around every CJK character (and CJK punctuation)."""
    return " ".join(_CJK_CHAR.sub(r" \1 ", text).split())


def join_cjk(text: str) -> str:
    return _SPACE_NEXT_TO_CJK.sub("", text)


class Tokenizer:
    def __init__(self, model_proto: bytes):
        import sentencepiece as spm
        self.proto = bytes(model_proto)
        self.sp = spm.SentencePieceProcessor(model_proto=self.proto)
        specials = (self.sp.pad_id(), self.sp.unk_id(), self.sp.bos_id(), self.sp.eos_id(),
                    self.sp.piece_to_id("<mask>"))
        if specials != (PAD_ID, UNK_ID, BOS_ID, EOS_ID, MASK_ID):
            raise DataError(f"tokenizer special ids {specials} differ from zidong's "
                            f"{(PAD_ID, UNK_ID, BOS_ID, EOS_ID, MASK_ID)}")
        # language start tokens: absent from tokenizers trained before they existed
        self.lang_ids = {lang: self.sp.piece_to_id(p) for lang, p in LANG_TOKENS.items()
                         if self.sp.piece_to_id(p) != UNK_ID}
        if any(self.lang_ids[k] != LANG_IDS[k] for k in self.lang_ids):
            raise DataError(f"tokenizer language ids {self.lang_ids} differ from zidong's {LANG_IDS}")
        self.specials = {PAD_ID, BOS_ID, EOS_ID, MASK_ID, *self.lang_ids.values()}

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, seed_sentences: Iterable[str] = ()) -> \
            "Tokenizer":
        """Train on ``texts``; ``vocab_size`` is an upper bound (a small corpus yields fewer
        pieces). Deterministic for the same texts in the same order."""
        import sentencepiece as spm
        sentences = [split_cjk(t) for t in list(seed_sentences) + list(texts) if t and t.strip()]
        if not sentences:
            raise DataError("cannot train a tokenizer: no text")
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sentences), model_writer=buf, model_type="bpe",
            vocab_size=vocab_size, hard_vocab_limit=False, character_coverage=1.0,
            pad_id=PAD_ID, unk_id=UNK_ID, bos_id=BOS_ID, eos_id=EOS_ID,
            user_defined_symbols=["<mask>", *LANG_TOKENS.values()], split_digits=True, byte_fallback=True,
            shuffle_input_sentence=False, num_threads=1, minloglevel=2)
        return cls(buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: tokenizer file not found")
        try:
            return cls(path.read_bytes())
        except (RuntimeError, OSError) as e:
            raise DataError(f"{path}: not a SentencePiece model ({e})") from None

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(self.proto)
        tmp.replace(path)
        return path

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.proto).hexdigest()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(split_cjk(text))

    def pieces(self, text: str) -> list[str]:
        return self.sp.encode(split_cjk(text), out_type=str)

    def start_id(self, lang: str) -> int:
        """The decoder's first input for a sentence in ``lang``: its language token, else BOS."""
        return self.lang_ids.get(lang, BOS_ID)

    def decode(self, ids: Iterable[int]) -> str:
        # the text decoder's vocabulary is model.text.vocab_size, often more pieces than a
        # corpus-trained tokenizer has: an under-trained decoder can emit ids with no piece
        keep = [int(i) for i in ids if int(i) not in self.specials and int(i) < self.vocab_size]
        return join_cjk(self.sp.decode(keep))


def tokenizer_for(manifest: str | Path, vocab_size: int, path: str | Path | None = None) -> \
        Tokenizer:
    """The tokenizer to use with a manifest: ``path`` if given, else ``tokenizer.model`` beside
    the manifest (what ``zidong data build`` writes), else one trained on the manifest's texts."""
    if path:
        return Tokenizer.load(path)
    beside = Path(manifest).parent / "tokenizer.model"
    if beside.is_file():
        return Tokenizer.load(beside)
    return train_on_manifest(manifest, vocab_size)


def train_on_manifest(manifest: str | Path, vocab_size: int) -> Tokenizer:
    """A tokenizer trained on the texts of a manifest's samples."""
    from zidong.data.manifest import read_manifest
    samples, _ = read_manifest(manifest)
    texts = [s.text for s in samples if s.text]
    # image / speech-only data (e.g. image-only self-supervision): the text encoder never sees a
    # token, so any tokenizer will do; the run still needs one to save and to export
    return Tokenizer.train(texts or ["no text"], vocab_size)
