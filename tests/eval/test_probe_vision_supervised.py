"""tools/probe_vision_supervised.py runs end to end on the tiny vision encoder: it trains within
its time budget (with the dense cell targets too) and scores every attribute and the shape set on
held-out renders, with either head (pooled or the flat grid); the cell targets need the scorer's
8 x 8 grid."""
import json
import sys

from tests.tools import load_tool


def test_the_tool_trains_and_scores_the_tiny_encoder(monkeypatch, capsys):
    # tiny's vision encoder at 64 px: the 8 x 8 patch grid of the scorer's cells
    monkeypatch.setattr(sys, "argv", ["probe_vision_supervised.py", "--config", "tiny",
                                      "--minutes", "0.02", "--batch", "8", "--test", "100",
                                      "--shape-presence", "--cells",
                                      "--set", "model.vision.image_size=64"])
    assert load_tool("probe_vision_supervised").main() == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["steps"] >= 1 and out["test"] == 100 and out["cells"]
    assert len(out["acc"]) == 9 and all(0 <= v <= 1 for v in out["acc"].values())
    assert 0 <= out["shape_set"] <= 1
    assert abs(out["mean"] - sum(out["acc"].values()) / 9) < 1e-3


def test_cell_targets_need_the_scorers_grid(monkeypatch):
    import pytest
    monkeypatch.setattr(sys, "argv", ["probe_vision_supervised.py", "--config", "tiny",
                                      "--minutes", "0.02", "--cells"])   # 32 px: a 4 x 4 grid
    with pytest.raises(SystemExit, match="8 x 8 patch grid"):
        load_tool("probe_vision_supervised").main()


def test_the_flat_head_reads_the_grid_without_the_shape_set(monkeypatch, capsys):
    # --head flat reads every patch token in place; without --shape-presence there is no set
    monkeypatch.setattr(sys, "argv", ["probe_vision_supervised.py", "--config", "tiny",
                                      "--minutes", "0.02", "--batch", "8", "--test", "100",
                                      "--head", "flat"])
    assert load_tool("probe_vision_supervised").main() == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["head"] == "flat" and out["steps"] >= 1 and "shape_set" not in out
    assert len(out["acc"]) == 9 and all(0 <= v <= 1 for v in out["acc"].values())
