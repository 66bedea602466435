"""Mixing manifests: fractions taken deterministically, media still found from the new folder,
duplicate ids and bad specs refused by name."""
import json

import pytest

from zidong.cli import main
from zidong.data.manifest import DataError, Sample, read_manifest, resolve, write_manifest
from zidong.data.mix import mix_manifests, parse_take


def _manifest(folder, prefix, n):
    (folder / "img").mkdir(parents=True)
    samples = []
    for i in range(n):
        (folder / "img" / f"{i}.png").write_bytes(b"x")
        samples.append(Sample(id=f"{prefix}{i}", image=f"img/{i}.png", text=f"t {i}", lang="en"))
    write_manifest(folder / "m.jsonl", samples)
    return folder / "m.jsonl"


def test_mix_takes_each_fraction_and_keeps_media_reachable(tmp_path):
    new = _manifest(tmp_path / "new", "n", 10)
    old = _manifest(tmp_path / "old", "o", 40)
    out = tmp_path / "mixed" / "mix.jsonl"
    res = mix_manifests(out, [(new, 1.0), (old, 0.25)], seed=3)
    samples, problems = read_manifest(out)
    assert not problems and res["samples"] == len(samples) == 20
    assert sum(s.id.startswith("o") for s in samples) == 10
    assert all(resolve(out, s.image).is_file() for s in samples)
    assert not any(s.image.startswith("/") for s in samples)       # relative: the tree can move
    again = tmp_path / "mixed" / "again.jsonl"
    mix_manifests(again, [(new, 1.0), (old, 0.25)], seed=3)
    assert [s.id for s in read_manifest(again)[0]] == [s.id for s in samples]
    other = mix_manifests(tmp_path / "mixed" / "b.jsonl", [(old, 0.25)], seed=4)
    assert other["samples"] == 10
    with pytest.raises(DataError, match=r"sample id 'n0' is in both"):
        mix_manifests(tmp_path / "dup.jsonl", [(new, 1.0), (new, 1.0)])


def test_take_specs_are_checked_and_the_cli_reports_errors(tmp_path, capsys):
    assert parse_take("a.jsonl")[1] == 1.0 and parse_take("a=b.jsonl=0.5") == (
        __import__("pathlib").Path("a=b.jsonl"), 0.5)
    with pytest.raises(DataError, match="must be in"):
        parse_take("a.jsonl=1.5")
    with pytest.raises(DataError, match="not a fraction"):
        parse_take("a.jsonl=half")
    new = _manifest(tmp_path / "new", "n", 4)
    assert main(["data", "mix", "--take", f"{new}=0.5", "--out", str(tmp_path / "o.jsonl")]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 2
    assert main(["data", "mix", "--take", f"{new}=2", "--out", str(tmp_path / "o.jsonl")]) == 2
