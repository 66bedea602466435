"""``zidong eval``: metrics.json (flat keys) and report.md for a run on any manifest."""
from __future__ import annotations

import json
from pathlib import Path

from zidong.eval.load import load_run
from zidong.eval.retrieval import embed_manifest, retrieval_metrics

TASKS = ("retrieval",)


def run_eval(ckpt, manifest, tasks, out: Path, candidates: int = 500) -> dict:
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; available: {list(TASKS)}")
    model, cfg, tokenizer, meta = load_run(ckpt)
    metrics = {"step": meta["step"]}
    if "retrieval" in tasks:
        metrics.update(retrieval_metrics(embed_manifest(model, cfg, tokenizer, manifest),
                                         candidates))
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    lines = [f"# Evaluation of {ckpt} on {manifest}", "", "| metric | value |", "| --- | ---: |"]
    lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |"
              for k, v in metrics.items()]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return metrics
