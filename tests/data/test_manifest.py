import json

import pytest

from zidong.data.check import check_manifest, format_check
from zidong.data.manifest import DataError, Sample, read_manifest, write_manifest
from tests.data.conftest import make_manifest


def test_round_trip_keeps_every_field(tmp_path):
    samples = [Sample("a", image="i.png", text="hi", lang="en", audio=None, label=3,
                      meta={"scene": {"x": 1}}),
               Sample("b", text="你好", lang="zh")]
    write_manifest(tmp_path / "m.jsonl", samples)
    back, problems = read_manifest(tmp_path / "m.jsonl")
    assert back == samples and not problems
    assert [s.line for s in back] == [1, 2]
    assert not list(tmp_path.glob("*.tmp"))  # written atomically, no leftovers


BAD_LINES = [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('{"id": "x", "text": null, "image": null, "audio": null}', "sample 'x' has no modality"),
    ('{"text": "hi"}', "'id' must be a non-empty string"),
    ('{"id": "y", "text": "hi", "label": "cat"}', "'label' must be an integer or null"),
    ('{"id": "z", "text": 5}', "'text' must be a string or null, got 5"),
    ('{"id": "w", "text": "hi", "colour": "red"}', "unknown key 'colour'"),
    ('{"id": "ok", "text": "fine"}', "duplicate id 'ok'"),
]


def test_every_bad_line_is_reported_with_its_line_number(tmp_path):
    path = tmp_path / "m.jsonl"
    lines = ['{"id": "ok", "text": "fine"}'] + [line for line, _ in BAD_LINES] + \
        ['{"id": "last", "audio": "a.wav"}']
    path.write_text("\n".join(lines) + "\n")
    samples, problems = read_manifest(path)
    assert [s.id for s in samples] == ["ok", "last"]
    assert len(problems) == len(BAD_LINES)
    for problem, (_, expected), line in zip(problems, BAD_LINES, range(2, 2 + len(BAD_LINES))):
        assert problem.line == line and expected in problem.message, str(problem)
        assert str(problem).startswith(f"{path}:{line}: ")
    with pytest.raises(DataError, match=rf"{path}:2: not valid JSON"):
        read_manifest(path, strict=True)


def test_data_check_counts_and_reports_problems(tmp_path):
    man = make_manifest(tmp_path, n=6)
    (tmp_path / "audio" / "0.wav").unlink()
    (tmp_path / "images" / "1.png").write_bytes(b"not a png")  # sample 1 has no image anyway
    (tmp_path / "images" / "2.png").write_bytes(b"\x89PNG broken")
    with man.open("a") as f:
        f.write(json.dumps({"id": "blank", "text": "   ", "lang": "en"}) + "\n")
        f.write("oops\n")
    summary, problems = check_manifest(man)
    assert summary["samples"] == 7
    assert summary["combinations"] == {"text": 2, "text+image+audio": 1, "text+audio": 1,
                                       "image+audio": 1, "text+image": 1, "audio": 1}
    assert summary["languages"] == {"en": 4, "zh": 3}
    assert summary["image_sizes"] == {"40x40": 2}
    assert summary["audio_formats"] == {"16000 Hz, 1 ch": 3}
    assert summary["audio_seconds"]["mean"] == pytest.approx(0.6)
    msgs = [(p.line, p.message) for p in problems]
    assert msgs[0][0] == 1 and "audio file not found" in msgs[0][1]
    assert msgs[1][0] == 3 and "unreadable image" in msgs[1][1]
    assert (7, "text is empty or whitespace only") in msgs
    assert msgs[-1][0] == 8 and "not valid JSON" in msgs[-1][1]
    text = format_check(summary, problems)
    assert "4 problem(s)" in text and f"{man}:8: not valid JSON" in text
