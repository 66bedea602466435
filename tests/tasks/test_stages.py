"""Benchmark stages: a finished stage is kept only if the command that made it is the one the
benchmark would run now, so the document never prints a command beside figures it did not make."""
import json
from pathlib import Path

import pytest

from zidong.tasks import stages as S


def _fake_run(calls):
    def run(argv, log_path):
        calls.append(argv)
        out = Path(argv[argv.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text("{}")
        return 1.0
    return run


def test_a_finished_stage_is_kept_and_a_changed_command_is_refused(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(S, "run_zidong", _fake_run(calls))
    done = tmp_path / "ev" / "metrics.json"
    plan = [("ev", ["eval", "--limit", "64", "--out", str(tmp_path / "ev")], done)]
    record = S.run_stages(plan, tmp_path, "rec.json", log=lambda *_: None)
    assert len(calls) == 1 and record["stages"]["ev"]["seconds"] == 1.0
    S.run_stages(plan, tmp_path, "rec.json", log=lambda *_: None)
    assert len(calls) == 1                                    # same command: kept
    changed = [("ev", ["eval", "--limit", "400", "--out", str(tmp_path / "ev")], done)]
    with pytest.raises(RuntimeError, match=r"made by `zidong eval --limit 64.*delete"):
        S.run_stages(changed, tmp_path, "rec.json", log=lambda *_: None)
    assert json.loads((tmp_path / "rec.json").read_text())["stages"]["ev"]["argv"][2] == "64"


def test_the_record_returned_is_this_plans_stages_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "run_zidong", _fake_run([]))
    def stage(name):
        return (name, ["eval", "--out", str(tmp_path / name)], tmp_path / name / "metrics.json")
    S.run_stages([stage("old"), stage("b")], tmp_path, "rec.json", log=lambda *_: None)
    record = S.run_stages([stage("b"), stage("a")], tmp_path, "rec.json", log=lambda *_: None)
    assert list(record["stages"]) == ["b", "a"]
