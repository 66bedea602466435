"""An independent English ASR scorer for generated speech (prototype): PocketSphinx, restricted to
the caption grammar or a word list, transcribes a WAV; WER against the intended text then says
whether the speech is intelligible. Restricting the search is what makes a small, old recogniser
usable as a judge here: it only has to choose among the words the corpus can say.

``pocketsphinx`` (PyPI; its wheel ships the US English acoustic model and CMUdict) is optional and
imported only when a scorer is made, so the rest of ``zidong.eval`` works without it.
"""
from __future__ import annotations

import wave
from pathlib import Path
from typing import Iterable, Union

from zidong.data.corpus import grammar as G

SAMPLE_RATE = 16000     # the shipped en-us acoustic model is a 16 kHz one


def _alternatives(words: Iterable[str]) -> str:
    return " | ".join(words)


def caption_jsgf() -> str:
    """The English caption template of the tri-shapes grammar as a JSGF grammar."""
    sizes, colours = _alternatives(G.SIZES), _alternatives(G.COLOURS)
    many = _alternatives(G.COUNTS_EN[c] for c in G.COUNTS if c > 1)
    return "\n".join([
        "#JSGF V1.0;", "grammar tri_shapes;",
        f"<one> = {G.COUNTS_EN[1]} ({sizes}) ({colours}) ({_alternatives(G.SHAPES)});",
        f"<many> = ({many}) ({sizes}) ({colours}) ({_alternatives(G.PLURALS_EN.values())});",
        f"<relation> = {_alternatives(G.RELATIONS_EN[r] for r in G.RELATIONS)};",
        "public <caption> = (<one> is | <many> are) <relation> (<one> | <many>);", ""])


def word_loop_jsgf(words: Iterable[str]) -> str:
    """Any sequence of the given words: a restricted vocabulary with no word order."""
    return ("#JSGF V1.0;\ngrammar words;\n"
            f"public <words> = ({_alternatives(sorted(set(words)))})+;\n")


def _import_pocketsphinx():
    try:
        import pocketsphinx
    except ImportError as e:
        raise ImportError("the ASR scorer needs PocketSphinx: pip install pocketsphinx "
                          "(its wheel includes the English model)") from e
    return pocketsphinx


class SphinxScorer:
    """``SphinxScorer(caption_jsgf())`` or ``SphinxScorer(["red", "circle", ...])``: a string is
    a JSGF grammar, any other iterable a word list (decoded as a word loop). ``config`` goes to
    ``pocketsphinx.Decoder`` (e.g. ``beam=1e-80``)."""

    def __init__(self, words_or_grammar: Union[str, Iterable[str]], **config):
        ps = _import_pocketsphinx()
        jsgf = (words_or_grammar if isinstance(words_or_grammar, str)
                else word_loop_jsgf(words_or_grammar))
        # lm=None: no n-gram model, the grammar below is the only search. fsgusefiller off: with
        # fillers (silence/noise words at every state, the default) the search often ended outside
        # the grammar's final state and returned nothing (4 of 20 corpus WAVs; WER 0.24 vs 0.013)
        defaults = {"lm": None, "loglevel": "ERROR", "fsgusefiller": False}
        self.decoder = ps.Decoder(**{**defaults, **config})
        words = self._grammar_words(jsgf)
        missing = [w for w in words if self.decoder.lookup_word(w) is None]
        if missing:
            raise ValueError(f"words not in the pronunciation dictionary: {missing}")
        self.decoder.add_jsgf_string("scorer", jsgf)      # ValueError if the grammar does not parse
        self.decoder.activate_search("scorer")

    @staticmethod
    def _grammar_words(jsgf: str) -> list[str]:
        # the words of rule bodies: tokens that are not <rules>, keywords or JSGF operators
        body = " ".join(line.split("=", 1)[1] for line in jsgf.splitlines() if "=" in line)
        for ch in "()|;+*[]":
            body = body.replace(ch, " ")
        return sorted({t for t in body.split() if not t.startswith("<")})

    def transcribe(self, wav_path: Union[str, Path]) -> str:
        """The best path through the grammar for a 16 kHz mono 16-bit WAV ("" if none)."""
        with wave.open(str(wav_path), "rb") as w:
            if (w.getnchannels(), w.getsampwidth(), w.getframerate()) != (1, 2, SAMPLE_RATE):
                raise ValueError(f"{wav_path}: need 16-bit mono {SAMPLE_RATE} Hz PCM, got "
                                 f"{w.getnchannels()} channel(s), {8 * w.getsampwidth()} bit, "
                                 f"{w.getframerate()} Hz")
            pcm = w.readframes(w.getnframes())
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)    # whole utterance: better normalisation
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        return hyp.hypstr if hyp is not None else ""
