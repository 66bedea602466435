"""Text scorers for generated captions and transcripts: CER, WER and corpus BLEU-4.

Pure Python: they score strings, so they need neither the model nor MindSpore.

Tokens: whitespace words for English, characters (whitespace dropped) for Chinese, because Chinese
has no word spaces and any spaces in it are noise. ``lang`` None means auto: a reference holding a
CJK character is Chinese. For Chinese, WER therefore equals CER (both are over characters).
"""
from __future__ import annotations

import math
from collections import Counter
from typing import Optional, Sequence


def has_cjk(text: str) -> bool:
    # CJK Unified Ideographs (+ extension A): enough for the built-in corpus and most Chinese text
    return any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text)


def _is_zh(ref: str, lang: Optional[str]) -> bool:
    return has_cjk(ref) if lang is None else lang == "zh"


def words(text: str, zh: bool) -> list[str]:
    """The tokens WER and BLEU count: characters for Chinese, whitespace words otherwise."""
    return [ch for ch in text if not ch.isspace()] if zh else text.split()


def chars(text: str, zh: bool) -> list[str]:
    """The tokens CER counts: Chinese without spaces; other text with runs of spaces as one."""
    return words(text, True) if zh else list(" ".join(text.split()))


def edit_distance(hyp: Sequence, ref: Sequence) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1); one DP row."""
    row = list(range(len(ref) + 1))          # distance of hyp[:0] to every prefix of ref
    for i, h in enumerate(hyp, 1):
        diag, row[0] = row[0], i
        for j, r in enumerate(ref, 1):
            diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diag + (h != r))
    return row[-1]


def _rate(hyps, refs, tokenise, lang) -> float:
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    edits = length = 0
    for hyp, ref in zip(hyps, refs):
        zh = _is_zh(ref, lang)
        r = tokenise(ref, zh)
        edits += edit_distance(tokenise(hyp, zh), r)
        length += len(r)
    if length == 0:
        # an error rate over an empty reference has no meaning; say so rather than return 0 or inf
        raise ValueError("the references are empty: an error rate needs at least one token")
    return edits / length


def cer(hyp: str, ref: str, lang: Optional[str] = None) -> float:
    return _rate([hyp], [ref], chars, lang)


def wer(hyp: str, ref: str, lang: Optional[str] = None) -> float:
    return _rate([hyp], [ref], words, lang)


def corpus_cer(hyps: Sequence[str], refs: Sequence[str], lang: Optional[str] = None) -> float:
    """Total edits / total reference characters (not the mean of sentence CERs)."""
    return _rate(hyps, refs, chars, lang)


def corpus_wer(hyps: Sequence[str], refs: Sequence[str], lang: Optional[str] = None) -> float:
    return _rate(hyps, refs, words, lang)


def _ngrams(tokens: list, n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def bleu_stats(hyps: Sequence[str], refs: Sequence[str], lang: Optional[str] = None,
               max_n: int = 4) -> dict:
    """Corpus sums BLEU is made of: clipped n-gram matches and hypothesis n-gram totals per order,
    hypothesis and reference lengths."""
    if len(hyps) != len(refs):
        raise ValueError(f"{len(hyps)} hypotheses but {len(refs)} references")
    matches, totals = [0] * max_n, [0] * max_n
    hyp_len = ref_len = 0
    for hyp, ref in zip(hyps, refs):
        zh = _is_zh(ref, lang)
        h, r = words(hyp, zh), words(ref, zh)
        hyp_len += len(h)
        ref_len += len(r)
        for n in range(1, max_n + 1):
            hn, rn = _ngrams(h, n), _ngrams(r, n)
            # clipping: an n-gram counts at most as often as it occurs in the reference
            matches[n - 1] += sum(min(c, rn[g]) for g, c in hn.items())
            totals[n - 1] += sum(hn.values())
    return {"matches": matches, "totals": totals, "hyp_len": hyp_len, "ref_len": ref_len}


def bleu4(hyps: Sequence[str], refs: Sequence[str], lang: Optional[str] = None) -> float:
    """Corpus BLEU-4 (Papineni et al. 2002), one reference per hypothesis, no smoothing: the
    geometric mean of the clipped 1..4-gram precisions times the brevity penalty, in [0, 1]."""
    s = bleu_stats(hyps, refs, lang, 4)
    if s["hyp_len"] == 0 or min(s["matches"]) == 0:
        return 0.0                            # log 0: an order without a single match zeroes BLEU
    log_p = sum(math.log(m / t) for m, t in zip(s["matches"], s["totals"])) / 4
    c, r = s["hyp_len"], s["ref_len"]
    bp = 1.0 if c > r else math.exp(1 - r / c)
    return bp * math.exp(log_p)
