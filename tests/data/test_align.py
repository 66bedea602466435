"""``zidong data align``: PocketSphinx forced alignment puts each word where it is spoken."""

import numpy as np
import pytest

from zidong.cli import main
from zidong.data.align import WordAligner, align_manifest, words_of
from zidong.data.manifest import Sample, read_manifest, resolve, write_manifest

FIRST, SECOND = "a big red star", "is above a small blue circle"
GAP_S = 0.6


def _spoken_with_a_gap(tmp_path):
    """One WAV: FIRST, GAP_S of silence, SECOND, each half synthesised alone, so where every
    word of the whole text must fall is known without an aligner."""
    pytest.importorskip("pocketsphinx")
    from zidong.data.corpus import tts
    voices = tts.voices("en")
    if not voices:
        pytest.skip("no English TTS voice (flite / espeak-ng) on this machine")
    voice = next((v for v in voices if v == "flite:slt"), voices[0])
    halves = []
    for i, text in enumerate((FIRST, SECOND)):
        tts.synthesize(text, "en", voice, 1.0, tmp_path / f"half{i}.wav")
        halves.append(tts._read_wav((tmp_path / f"half{i}.wav").read_bytes())[0])
    gap = np.zeros(int(GAP_S * tts.SAMPLE_RATE), np.float32)
    tts.write_wav(tmp_path / "both.wav", np.concatenate([halves[0], gap, halves[1]]))
    return tmp_path / "both.wav", len(halves[0]) / tts.SAMPLE_RATE


def test_words_land_on_their_side_of_a_known_silence(tmp_path):
    wav, first_s = _spoken_with_a_gap(tmp_path)
    segs = WordAligner().align(wav, f"{FIRST} {SECOND}")
    assert [w for w, _, _ in segs] == words_of(f"{FIRST} {SECOND}")
    starts, ends = np.array([s[1] for s in segs]), np.array([s[2] for s in segs])
    assert (ends > starts).all() and (starts[1:] >= ends[:-1] - 1e-6).all()
    n = len(FIRST.split())
    # the first half's words end before the silence, the second's start after it (±50 ms)
    assert ends[n - 1] <= first_s + 0.05, segs
    assert starts[n] >= first_s + GAP_S - 0.05, segs


def test_align_manifest_writes_word_times_and_counts_what_it_could_not(tmp_path):
    wav, _ = _spoken_with_a_gap(tmp_path)
    src = tmp_path / "in" / "m.jsonl"
    samples = [Sample(id="ok", text=f"{FIRST} {SECOND}", lang="en", audio=str(wav),
                      meta={"words": "stale"}),
               Sample(id="zh", text="一个红色星星", lang="zh", audio=str(wav)),
               Sample(id="text-only", text=FIRST, lang="en"),
               Sample(id="oov", text="a big red zzyzxqv", lang="en", audio=str(wav))]
    write_manifest(src, samples)
    out = tmp_path / "out" / "aligned.jsonl"
    report = align_manifest(src, out)
    assert {k: report[k] for k in ("samples", "aligned", "not_en", "no_audio_or_text",
                                   "unknown_word", "not_aligned")} == \
        {"samples": 4, "aligned": 1, "not_en": 1, "no_audio_or_text": 1, "unknown_word": 1,
         "not_aligned": 0}
    assert report["unknown_words"] == ["zzyzxqv"]
    got = {s.id: s for s in read_manifest(out)[0]}
    assert len(got) == 4                                    # nothing dropped
    assert [w for w, _, _ in got["ok"].meta["words"]] == words_of(f"{FIRST} {SECOND}")
    assert "words" not in got["zh"].meta and "words" not in got["oov"].meta
    assert resolve(out, got["ok"].audio).is_file()          # media found from the new folder


def test_cli_names_a_missing_manifest(tmp_path, capsys):
    assert main(["data", "align", str(tmp_path / "nope.jsonl"), "--out",
                 str(tmp_path / "o.jsonl")]) == 2
    assert "nope.jsonl" in capsys.readouterr().err
