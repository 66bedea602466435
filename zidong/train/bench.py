"""``zidong bench-pretrain``: the embedded default under a wall-clock budget, evaluated, written
to docs/results.md with its curves. Variants ablate whole levels of objectives with the same
budget and the same (once-trained) VQ tokenizer."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np

from zidong.train.pretrain import default_corpus, run_pretrain
from zidong.train.pretrain_net import OBJECTIVES
from zidong.train.progress import read_metrics

VARIANTS = {
    "full": [],
    "no_sample_level": ["train.objectives.contrastive=0", "train.objectives.matching=0"],
    "no_token_level": ["train.objectives.mlm=0", "train.objectives.mim=0", "train.objectives.msm=0"],
}
DIRECTIONS = ("t2i", "i2t", "s2i", "s2t", "t2s", "i2s")
TARGETS = {"t2i": 0.5, "i2t": 0.5, "s2i": 0.3, "s2t": 0.6}


def loss_fall(metrics_path: Path, window: int = 100) -> dict:
    """Per objective: mean over the first ``window`` steps vs the last ``window`` steps."""
    rows = read_metrics(metrics_path)
    out = {}
    for o in OBJECTIVES:
        pts = [(r["step"], r[f"loss.{o}"]) for r in rows if f"loss.{o}" in r]
        last_step = pts[-1][0]
        first = [v for s, v in pts if s <= window] or [pts[0][1]]
        last = [v for s, v in pts if s > last_step - window] or [pts[-1][1]]
        a, b = float(np.mean(first)), float(np.mean(last))
        out[o] = {"first": a, "last": b, "fall": 1 - b / a if a > 0 else 0.0}
    return out


def run_variant(name, minutes, vq_minutes, vq_ckpt, out_root, log) -> dict:
    from zidong.eval.run import run_eval
    corpus = default_corpus(log)
    overrides = [f"train.max_minutes={minutes}", f"train.vq.max_minutes={vq_minutes}"] + VARIANTS[name]
    t0 = time.time()
    result = run_pretrain("small", overrides, str(corpus / "train.jsonl"),
                          run_dir=str(out_root / name), vq_ckpt=vq_ckpt, log=log)
    wall = time.time() - t0
    evals = {split: run_eval(out_root / name, corpus / f"{split}.jsonl", ["retrieval"],
                             out_root / name / f"eval_{split}") for split in
             ("test", "test_compositional")}
    main = result["main"]
    return {"variant": name, "overrides": overrides, "wall_seconds": round(wall, 1),
            "vq": result.get("vq"), "main": main, "eval": evals,
            "loss_fall": loss_fall(Path(main["run_dir"]) / "metrics.jsonl")}


def bench_pretrain(minutes: float, vq_minutes: float, variants, out_root: Path,
                   doc: Path, log=print) -> list[dict]:
    from zidong.config import load_config
    from zidong.data.tokenizer import tokenizer_for
    from zidong.runtime import init_env
    from zidong.train.vq_stage import train_vq
    t0 = time.time()
    corpus = default_corpus(log)
    corpus_s = time.time() - t0
    cfg = load_config("small", [f"train.vq.max_minutes={vq_minutes}"])
    init_env(cfg.context)
    tok = tokenizer_for(corpus / "train.jsonl", cfg.model.text.vocab_size)
    vq = train_vq(cfg, out_root / "vq", corpus / "train.jsonl", tok, log)
    results = []
    for name in variants:
        results.append(run_variant(name, minutes, vq_minutes, vq["checkpoint"], out_root, log))
        (out_root / "bench.json").write_text(json.dumps({"vq": vq, "runs": results}, indent=1))
    write_results(doc, minutes, vq, corpus_s, results)
    return results


def _pct(x) -> str:
    return f"{100 * x:.1f}%"


def write_results(doc: Path, minutes: float, vq: dict, corpus_s: float, results: list) -> None:
    fig_dir = doc.parent / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(vq["grid"], fig_dir / "vq_reconstructions.png")
    lines = ["# Pretraining results", "",
             "Produced by `zidong bench-pretrain` (see the command below); every figure here is "
             "measured by that run on this 2-core CPU machine (MindSpore 2.10, graph mode, fp32).", "",
             f"Command: `zidong bench-pretrain --minutes {minutes:g} --vq-minutes "
             f"{vq['train_seconds'] / 60:.0f} --variants {','.join(r['variant'] for r in results)}`",
             "", "## Budget", "",
             f"- corpus build: {corpus_s:.0f} s if it was not cached (5,000 training scenes);",
             f"- stage 0, VQ tokenizer: {vq['steps']} steps, {vq['train_seconds']:.0f} s of "
             f"training (+ {vq['compile_seconds']:.0f} s compile), recon+commit loss "
             f"{vq['first_loss']:.3f} -> {vq['final_loss']:.3f}; shared by every variant;",
             f"- main stage: {minutes:g} min of training per variant (compilation not counted).", "",
             "![VQ reconstructions](figures/vq_reconstructions.png)", ""]
    for split in ("test", "test_compositional"):
        lines += [f"## Retrieval on `{split}` (R@1 among the candidates; bi-encoder embeddings)", "",
                  "| variant | steps | " + " | ".join(DIRECTIONS) + " |",
                  "| --- | ---: | " + " | ".join("---:" for _ in DIRECTIONS) + " |"]
        for r in results:
            m = r["eval"][split]
            lines.append(f"| {r['variant']} | {r['main']['steps']} | " + " | ".join(
                _pct(m.get(f"retrieval.{d}.R@1", float('nan'))) for d in DIRECTIONS) + " |")
        n = results[0]["eval"][split].get("retrieval.t2i.candidates")
        lines += ["", f"Candidates per direction: {n}. Targets (test): t2i ≥ 50%, i2t ≥ 50%, "
                  "s2i ≥ 30%, s2t ≥ 60%.", ""]
    for r in results:
        name = r["variant"]
        shutil.copy(r["main"]["curves"], fig_dir / f"curves_{name}.png")
        lines += [f"## Variant `{name}`", "",
                  f"{r['main']['steps']} steps in {r['main']['train_seconds']:.0f} s of training "
                  f"(compile {r['main']['compile_seconds']:.0f} s), "
                  f"{r['main']['skipped_steps']} skipped. Overrides: `{' '.join(r['overrides'])}`.", "",
                  "| objective | first-100-step mean | last-100-step mean | fall | min grad norm |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for o, f in r["loss_fall"].items():
            g = r["main"]["min_grad_norm"][o]
            lines.append(f"| {o} | {f['first']:.3f} | {f['last']:.3f} | {_pct(f['fall'])} | {g:.3g} |")
        lines += ["", f"![curves {name}](figures/curves_{name}.png)", ""]
    doc.write_text("\n".join(lines) + "\n")
