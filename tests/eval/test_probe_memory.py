"""tools/probe_memory.py: the ridge probe reads labels that are in the features and no more, and
the tool runs on a run end to end."""
import json
import sys

import numpy as np

from tests.tools import load_tool


def test_probe_reads_what_the_features_hold_and_not_more():
    tool, rng = load_tool("probe_memory"), np.random.default_rng(0)
    heads = [3, 8]
    labels = np.stack([rng.integers(0, n, 400) for n in heads], 1)
    # the first attribute written into 50 noisy features, the second nowhere
    code = rng.standard_normal((3, 50))
    x = code[labels[:, 0]] + 0.5 * rng.standard_normal((400, 50))
    r = tool.probe(x[:300], labels[:300], x[300:], labels[300:], heads)
    assert r["acc"][0] > 0.95
    assert r["acc"][1] < 0.3  # chance 1/8
    assert r["lambda"] in tool.LAMBDAS


def test_the_tool_probes_a_run(tiny_run, mini_corpus, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["probe_memory.py", "--ckpt", str(tiny_run[0]), "--corpus",
                                      str(mini_corpus), "--train", "20", "--test", "10"])
    load_tool("probe_memory").main()
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["train"] == 20 and out["test"] == 10
    for name in ("embedding", "vision_tokens", "memory"):
        assert 0 <= out[name]["mean"] <= 1 and out[name]["dims"] > 0
        assert len([k for k in out[name] if "." in k or k == "relation"]) == 9
    assert out["memory"]["dims"] > out["embedding"]["dims"]
