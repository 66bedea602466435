"""tools/classify_spread.py trains the classifier network and reports, at the steps it says,
the loss, a gradient norm per trained module and the spread of the stem features, the vision
tokens and the fused CLS over the batch; a frozen module has no gradient to report."""
import json
import sys

from tests.tasks.test_classify import _colour_manifest
from tests.tools import load_tool


def test_the_tool_reports_spreads_and_gradients(tmp_path, monkeypatch, capsys):
    data = _colour_manifest(tmp_path / "train", 16, 0)
    monkeypatch.setattr(sys, "argv", ["classify_spread.py", "--data", str(data), "--config",
                                      "tiny", "--steps", "4", "--every", "2", "--batch", "8",
                                      "--lr", "1e-3", "--zero-head",
                                      "--freeze", "model.vision_encoder.patch_embed"])
    assert load_tool("classify_spread").main() == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.strip().splitlines()]
    assert [r["step"] for r in lines[:-1]] == [1, 2, 4]
    row = lines[-2]
    assert set(row["spread"]) == {"stem", "tokens", "fused_cls"}
    assert all(v > 0 for v in row["spread"].values())   # a random network tells images apart
    assert {"vision_encoder", "fusion", "head"} <= set(row["grad"])
    assert "text_encoder" in row["grad"] and row["grad"]["text_encoder"] == 0   # images only
    summary = lines[-1]
    assert summary["steps"] == 4 and summary["frozen"] == ["model.vision_encoder.patch_embed"]
    assert abs(summary["ln_classes"] - 1.0986) < 1e-3   # three colours
