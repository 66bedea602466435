"""Every kind of bad input: a clear message naming the file, the sample skipped and counted (or
converted / truncated and counted), never a crash mid-epoch; --strict stops at the first."""
import json

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from zidong.config import load_config
from zidong.data.manifest import DataError
from zidong.data.pipeline import DataPipeline
from tests.data.conftest import write_png, write_wav

GOOD = 5  # good samples around the bad one


def run(tmp_path, tokenizer, bad: dict, make=None, strict=False, cfg=None):
    """A manifest of GOOD good samples plus ``bad`` (written after ``make(tmp_path)``)."""
    (tmp_path / "m").mkdir(exist_ok=True)
    lines = []
    for i in range(GOOD):
        write_png(tmp_path / "m" / f"{i}.png", i)
        write_wav(tmp_path / "m" / f"{i}.wav", i)
        lines.append({"id": f"g{i}", "text": "a big red circle", "lang": "en",
                      "image": f"m/{i}.png", "audio": f"m/{i}.wav"})
    if make:
        make(tmp_path / "m")
    lines.insert(2, {"lang": "en", **bad, "id": "bad"})
    man = tmp_path / "bad.jsonl"
    man.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    cfg = cfg or load_config("tiny")
    p = DataPipeline(man, cfg, tokenizer, 1, seed=0, shuffle=False, strict=strict)
    out = list(p.iterate(0))
    return out, p.processor.log, p.report_epoch(0)


def skipped_with(tmp_path, tokenizer, bad, make, reason):
    out, log, report = run(tmp_path, tokenizer, bad, make)
    assert len(out) == GOOD, "the bad sample must be skipped, the others kept"
    assert len(log.skipped) == 1 and reason in log.skipped[0][2], log.skipped
    assert "sample 'bad' (manifest line 3)" in report and reason in report
    with pytest.raises(DataError, match=r"sample 'bad' \(manifest line 3\): .*" + reason):
        run(tmp_path, tokenizer, bad, make, strict=True)
    return log


def converted(tmp_path, tokenizer, bad, make, note):
    out, log, report = run(tmp_path, tokenizer, bad, make)
    assert len(out) == GOOD + 1 and not log.skipped
    assert log.counts[note] == 1, log.counts
    assert note in report
    return out[2]


def test_corrupt_image(tmp_path, tokenizer):
    log = skipped_with(tmp_path, tokenizer, {"image": "m/bad.png"},
                       lambda d: (d / "bad.png").write_bytes(b"this is not an image"),
                       "corrupt or truncated image")
    assert str(tmp_path / "m" / "bad.png") in log.skipped[0][2]


def test_truncated_image(tmp_path, tokenizer):
    def make(d):
        data = (write_png(d / "full.png", 9, size=64)).read_bytes()
        (d / "bad.png").write_bytes(data[:len(data) // 2])
    skipped_with(tmp_path, tokenizer, {"image": "m/bad.png"}, make, "corrupt or truncated image")


@pytest.mark.parametrize("mode,note", [("RGBA", "transparent image composited on white"),
                                       ("L", "L image converted to RGB"),
                                       ("P", "P image converted to RGB")])
def test_other_image_modes_are_converted(tmp_path, tokenizer, mode, note):
    def make(d):
        write_png(d / "bad.png", 3, mode=mode)
    row = converted(tmp_path, tokenizer, {"image": "m/bad.png"}, make, note)
    assert row["image"].shape == (1, 3, 32, 32) and np.isfinite(row["image"]).all()


def test_16_bit_image_is_scaled(tmp_path, tokenizer):
    def make(d):
        arr = (np.arange(40 * 40, dtype=np.uint16).reshape(40, 40) * 40)
        img = Image.fromarray(arr)
        assert img.mode.startswith("I;16")
        img.save(d / "bad.png")
    row = converted(tmp_path, tokenizer, {"image": "m/bad.png"}, make,
                    "16-bit image scaled to 8 bits")
    assert -1.0 <= row["image"].min() < -0.9 and 0.9 < row["image"].max() <= 1.0


def test_corrupt_wav(tmp_path, tokenizer):
    skipped_with(tmp_path, tokenizer, {"audio": "m/bad.wav"},
                 lambda d: (d / "bad.wav").write_bytes(b"RIFF....WAVEjunkjunkjunk"),
                 "corrupt or truncated audio")


def test_truncated_wav(tmp_path, tokenizer):
    def make(d):
        data = write_wav(d / "full.wav", 2, seconds=1.0).read_bytes()
        (d / "bad.wav").write_bytes(data[:len(data) // 3])
    skipped_with(tmp_path, tokenizer, {"audio": "m/bad.wav"}, make, "truncated WAV")


@pytest.mark.parametrize("channels,rate,note", [
    (2, 16000, "2-channel audio mixed down to mono"),
    (1, 8000, "audio resampled from 8000 Hz to 16000 Hz"),
    (1, 44100, "audio resampled from 44100 Hz to 16000 Hz")])
def test_stereo_and_other_rates_are_converted(tmp_path, tokenizer, channels, rate, note):
    row = converted(tmp_path, tokenizer, {"audio": "m/bad.wav"},
                    lambda d: write_wav(d / "bad.wav", 1, seconds=0.6, sr=rate, channels=channels),
                    note)
    assert int(row["mel_len"][0]) == 31  # 0.6 s whatever the input format


def test_silent_and_empty_audio(tmp_path, tokenizer):
    skipped_with(tmp_path, tokenizer, {"audio": "m/bad.wav"},
                 lambda d: write_wav(d / "bad.wav", 1, amplitude=0.0), "audio is silent")


def test_audio_without_samples(tmp_path, tokenizer):
    def make(d):
        sf.write(d / "bad.wav", np.zeros(0, np.float32), 16000, subtype="PCM_16")
    skipped_with(tmp_path, tokenizer, {"audio": "m/bad.wav"}, make, "audio has no samples")


def test_empty_file(tmp_path, tokenizer):
    skipped_with(tmp_path, tokenizer, {"audio": "m/bad.wav"},
                 lambda d: (d / "bad.wav").write_bytes(b""), "empty audio file")


@pytest.mark.parametrize("text", ["", "   \t "])
def test_empty_or_whitespace_text(tmp_path, tokenizer, text):
    skipped_with(tmp_path, tokenizer, {"text": text}, None, "text is empty or whitespace only")


def test_missing_file(tmp_path, tokenizer):
    log = skipped_with(tmp_path, tokenizer, {"image": "m/nowhere.png", "text": "hi"}, None,
                       "file not found")
    assert str(tmp_path / "m" / "nowhere.png") in log.skipped[0][2]


def test_long_text_and_audio_are_truncated_and_counted(tmp_path, tokenizer):
    cfg = load_config("tiny")
    long_text = " ".join(["a big red circle is above a small blue square"] * 5)
    out, log, report = run(tmp_path, tokenizer, {"text": long_text, "audio": "m/bad.wav"},
                           lambda d: write_wav(d / "bad.wav", 1, seconds=3.0), cfg=cfg)
    assert len(out) == GOOD + 1 and not log.skipped
    row = out[2]
    assert row["text_mask"].sum() == cfg.model.text.max_len - 1
    assert row["mel_len"][0] == cfg.model.speech.max_frames
    assert log.counts["text truncated to 15 tokens"] == 1
    assert log.counts["audio truncated to 64 frames (1.28 s)"] == 1


def test_bad_manifest_lines_are_reported_and_the_rest_trains(tmp_path, tokenizer):
    (tmp_path / "m").mkdir()
    man = tmp_path / "x.jsonl"
    man.write_text('{"id": "a", "text": "a big red circle", "lang": "en"}\n'
                   'not json at all\n'
                   '{"id": "b", "image": null, "text": null, "audio": null}\n'
                   '{"id": "c", "text": "a small blue square", "lang": "en"}\n')
    p = DataPipeline(man, load_config("tiny"), tokenizer, 1, shuffle=False)
    assert len(list(p.iterate(0))) == 2
    report = p.report_epoch(0)
    assert f"{man}:2: not valid JSON" in report and f"{man}:3: sample 'b' has no modality" in report
    with pytest.raises(DataError, match=rf"{man}:2: not valid JSON"):
        DataPipeline(man, load_config("tiny"), tokenizer, 1, strict=True)
