"""The built-in tri-shapes corpus (see /work/shared/TRI_SHAPES.md): generated, never downloaded.

``grammar`` samples scenes and writes captions, ``render`` draws them, ``tts`` speaks them,
``photos`` adds the Tux Paint real-photo subset, ``build`` runs it all in parallel.
"""
from zidong.data.corpus.build import build_corpus
from zidong.data.corpus.grammar import HELD_OUT, caption, caption_en, caption_zh, sample_scene

__all__ = ["build_corpus", "caption", "caption_en", "caption_zh", "sample_scene", "HELD_OUT"]
