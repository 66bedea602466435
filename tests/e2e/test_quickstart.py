"""tools/quickstart.sh end to end on the tiny preset: pretrain, evaluate, export, and the two
queries answered from the MINDIR files alone. ~2 minutes, yet in the default run: no benchmark
runs the script itself."""
import json
import os
import subprocess
from pathlib import Path

from tests.conftest import TINY_RUN

REPO = Path(__file__).resolve().parents[2]


def test_quickstart_exports_and_answers_from_mindir(mini_corpus, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "corpus").symlink_to(mini_corpus)
    run = tmp_path / "run"
    env = dict(os.environ, ZIDONG_CACHE=str(cache), QUICKSTART_RUN=str(run))
    args = ["--config", "tiny", "--data", str(mini_corpus / "train.jsonl")]
    for kv in TINY_RUN + ["train.max_steps=3"]:
        args += ["--set", kv]
    done = subprocess.run(["bash", str(REPO / "tools/quickstart.sh"), *args], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert "retrieval.t2i.R@1" in metrics
    bundle = json.loads((run / "deploy" / "export.json").read_text())
    assert {"retrieve", "caption"} <= set(bundle["tasks"])

    first = next(r for r in map(json.loads, open(mini_corpus / "test.jsonl"))
                 if r["text"] and r["image"])
    ranking = json.loads((run / "deploy_retrieve" / "ranking.json").read_text())
    with_image = [r for r in map(json.loads, open(mini_corpus / "test.jsonl")) if r["image"]]
    assert len(ranking) == min(5, len(with_image))
    assert {r["id"] for r in ranking} <= {r["id"] for r in with_image}
    caption = json.loads((run / "deploy_caption" / "infer.json").read_text())
    assert caption["task"] == "caption" and caption["inputs"]["image"].endswith(first["image"])
    assert caption["mindir"] == str(run / "deploy")
    assert f"retrieve: {first['text']!r} -> {ranking[0]['id']}" in done.stdout
    assert f"{caption['text']!r}" in done.stdout
