"""``zidong bench-pretrain``: the embedded default under a wall-clock budget, evaluated, written
to docs/results.md with its curves. Variants ablate whole levels of objectives with the same
budget and the same (once-trained) VQ tokenizer.

The budget is minutes of training (the issue's measure) or, with ``--steps``, a step count. This
machine's speed varies by up to a third from hour to hour with the same graph, so two variants
given the same minutes may get different numbers of updates; given the same steps they differ
only in what they train (the warm start's switch then falls on the same step too)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from zidong.train.doc_sections import keep_sections, sections
from zidong.train.pretrain import default_corpus, run_pretrain
from zidong.train.pretrain_net import OBJECTIVES
from zidong.train.progress import read_metrics

VARIANTS = {
    "full": [],
    # the warm start trains the sample level alone: without that level there is none
    "no_sample_level": ["train.objectives.contrastive=0", "train.objectives.matching=0",
                        "train.warm_start=0"],
    "no_token_level": ["train.objectives.mlm=0", "train.objectives.mim=0", "train.objectives.msm=0",
                       "train.objectives.ctc=0"],
    # not an ablation: the full model with masked speech modelling in its contrastive form
    # (zidong/objectives/masked_speech.py), against the L1 form of "full"
    "msm_contrastive": ["train.msm_loss=contrastive"],
}
DIRECTIONS = ("t2i", "i2t", "s2i", "s2t", "t2s", "i2s")
TARGETS = {"t2i": 0.5, "i2t": 0.5, "s2i": 0.3, "s2t": 0.6}


def loss_fall(metrics_path: Path, window: int = 100) -> dict:
    """Per objective: mean over the first ``window`` steps that trained it (after a warm start,
    the first of the full phase) vs the last ``window`` steps. Objectives that never trained
    (weight 0) are left out."""
    rows = read_metrics(metrics_path)
    out = {}
    for o in OBJECTIVES:
        pts = [(r["step"], r[f"loss.{o}"]) for r in rows if f"loss.{o}" in r]
        if not pts:
            continue
        # a row holds the steps since the previous row: the objective started after that one
        before = max([r["step"] for r in rows if r["step"] < pts[0][0]], default=0)
        last_step = pts[-1][0]
        first = [v for s, v in pts if s <= before + window] or [pts[0][1]]
        last = [v for s, v in pts if s > last_step - window] or [pts[-1][1]]
        a, b = float(np.mean(first)), float(np.mean(last))
        out[o] = {"first": a, "last": b, "fall": 1 - b / a if a > 0 else 0.0}
    return out


def vq_budget(vq_minutes: float | None) -> list[str]:
    """The override for the VQ stage's budget; None keeps the preset's train.vq.max_minutes."""
    return [] if vq_minutes is None else [f"train.vq.max_minutes={vq_minutes}"]


def main_budget(minutes: float, steps: int | None) -> list[str]:
    """The main stage's budget: ``minutes`` of training, or exactly ``steps`` steps (no clock)."""
    if steps is None:
        return [f"train.max_minutes={minutes}"]
    return ["train.max_minutes=0", f"train.max_steps={steps}"]


def run_variant(name, minutes, vq_minutes, vq_ckpt, out_root, log, steps=None) -> dict:
    from zidong.eval.run import run_eval
    corpus = default_corpus(log)
    overrides = main_budget(minutes, steps) + vq_budget(vq_minutes) + VARIANTS[name]
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


def variant_main(argv=None) -> int:
    """Child-process entry: one variant, its record written to ``<out_root>/<name>/variant.json``.
    Each variant gets a process of its own because MindSpore keeps a compiled model's memory until
    the process ends: two 30-minute variants in one process exhausted the 24 GiB of this machine."""
    args = json.loads(argv if argv is not None else sys.argv[1])
    from zidong.config import load_config
    from zidong.runtime import init_env
    init_env(load_config("small").context)
    out_root = Path(args["out_root"])
    rec = run_variant(args["name"], args["minutes"], args["vq_minutes"], args["vq_ckpt"], out_root,
                      print, args.get("steps"))
    rec["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    (out_root / args["name"] / "variant.json").write_text(json.dumps(rec, indent=1))
    return 0


def _run_child(name, minutes, vq_minutes, vq_ckpt, out_root: Path, steps=None) -> dict:
    arg = json.dumps({"name": name, "minutes": minutes, "vq_minutes": vq_minutes,
                      "vq_ckpt": str(vq_ckpt), "out_root": str(out_root), "steps": steps})
    code = "import sys; from zidong.train.bench import variant_main; sys.exit(variant_main())"
    done = subprocess.run([sys.executable, "-c", code, arg])
    if done.returncode != 0:
        raise RuntimeError(f"variant {name} failed (exit {done.returncode}); its log is above")
    return json.loads((out_root / name / "variant.json").read_text())


def bench_pretrain(minutes: float, vq_minutes: float, variants, out_root: Path,
                   doc: Path, log=print, reuse: bool = False,
                   steps: int | None = None) -> list[dict]:
    """``reuse``: keep the VQ stage and the variants already recorded in ``out_root/bench.json``
    (same budget) and run only the missing ones. ``steps``: that many steps per variant instead
    of ``minutes``."""
    if steps is not None and steps < 1:
        raise ValueError(f"--steps must be at least 1, got {steps}")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:   # before the VQ stage, not after it
        raise ValueError(f"--variants: unknown {unknown}; known: {', '.join(VARIANTS)}")
    from zidong.config import load_config
    from zidong.data.tokenizer import tokenizer_for
    from zidong.runtime import init_env
    from zidong.train.vq_stage import train_vq
    if doc.is_file():
        sections(doc.read_text(), str(doc))   # an unclosed section fails now, not after the runs
    record = out_root / "bench.json"
    prior = json.loads(record.read_text()) if reuse and record.is_file() else {}
    budget = {"minutes": None if steps else minutes, "steps": steps}
    # a record seeded with a VQ stage alone has no budget yet
    if "minutes" in prior and {k: prior.get(k) for k in budget} != budget:
        was = budget_flag(prior["minutes"], prior.get("steps"))
        raise ValueError(f"{record} was measured with {was}, not {budget_flag(minutes, steps)}")
    t0 = time.time()
    corpus = default_corpus(log)
    corpus_s = time.time() - t0
    runs = {r["variant"]: r for r in prior.get("runs", [])}
    if prior.get("vq"):
        vq = prior["vq"]
        log(f"reusing the VQ stage of {record}")
    else:
        cfg = load_config("small", vq_budget(vq_minutes))
        init_env(cfg.context)
        tok = tokenizer_for(corpus / "train.jsonl", cfg.model.text.vocab_size)
        vq = train_vq(cfg, out_root / "vq", corpus / "train.jsonl", tok, log)
        vq["budget_minutes"] = vq_minutes  # None: the preset's train.vq.max_minutes
    for name in variants:
        if name in runs:
            log(f"reusing variant {name} of {record}")
            continue
        runs[name] = _run_child(name, minutes, vq_minutes, vq["checkpoint"], out_root, steps)
        record.write_text(json.dumps({**budget, "vq": vq, "runs": list(runs.values())}, indent=1))
    results = [runs[n] for n in variants]
    write_results(doc, minutes, vq, corpus_s, results, steps)
    return results


def budget_flag(minutes: float, steps: int | None) -> str:
    return f"--minutes {minutes:g}" if steps is None else f"--steps {steps}"


def vq_flag(vq: dict) -> str:
    """The ``--vq-minutes`` a rerun needs: the budget given, none for the preset's own (a stage
    recorded before budgets were kept: its measured minutes, as documents of that time said)."""
    if "budget_minutes" not in vq:
        return f" --vq-minutes {vq['train_seconds'] / 60:.0f}"
    return "" if vq["budget_minutes"] is None else f" --vq-minutes {vq['budget_minutes']:g}"


def held_out_line(vq: dict) -> str:
    if "held_out_mse" not in vq:  # a VQ stage recorded before the held-out measurement
        return ""
    return (f", held-out reconstruction MSE {vq['held_out_mse']:.4f} on "
            f"{vq['held_out_images']} images (each patch in its mean colour: "
            f"{vq['patch_mean_colour_mse']:.4f})")


def _pct(x) -> str:
    return f"{100 * x:.1f}%"


def write_results(doc: Path, minutes: float, vq: dict, corpus_s: float, results: list,
                  steps: int | None = None) -> None:
    fig_dir = doc.parent / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    # another document (e.g. an equal-steps ablation) names its figures after itself, so that
    # results.md's stay, and its command line says where it is written
    own_doc = doc.stem != "results"
    prefix = f"{doc.stem}_" if own_doc else ""
    shutil.copy(vq["grid"], fig_dir / f"{prefix}vq_reconstructions.png")
    lines = ["# Pretraining results", "",
             "Produced by `zidong bench-pretrain` (see the command below); every figure here is "
             "measured by that run on this 2-core CPU machine (MindSpore 2.10, graph mode, fp32).", "",
             f"Command: `zidong bench-pretrain {budget_flag(minutes, steps)}{vq_flag(vq)} "
             f"--variants {','.join(r['variant'] for r in results)}"
             + (f" --doc docs/{doc.name}" if own_doc else "") + "`",
             ""]
    # The status is written by hand from these figures; a rerun keeps it under the title, where a
    # reader looks first, until someone rewrites it for the new numbers.
    status = sections(doc.read_text(), str(doc)).get("status") if doc.is_file() else None
    lines += ([status, ""] if status else []) + ["## Budget", "",
             (f"- corpus build: {corpus_s:.0f} s (it was not cached);" if corpus_s > 5 else
              "- corpus build: cached already (a fresh build takes about 2 minutes, docs/data.md);"),
             f"- stage 0, VQ tokenizer: {vq['steps']} steps, {vq['train_seconds']:.0f} s of "
             f"training (+ {vq['compile_seconds']:.0f} s compile), recon+commit loss "
             f"{vq['first_loss']:.3f} -> {vq['final_loss']:.3f}" + held_out_line(vq) +
             "; shared by every variant;",
             (f"- main stage: {minutes:g} min of training per variant (compilation not counted)."
              if steps is None else f"- main stage: {steps} steps per variant, whatever they "
              "take (equal updates, not equal minutes; each variant's time is below)."), "",
             f"![VQ reconstructions](figures/{prefix}vq_reconstructions.png)", ""]
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
        fig = f"{prefix}curves_{name}.png"
        shutil.copy(r["main"]["curves"], fig_dir / fig)
        lines += [f"## Variant `{name}`", "",
                  f"{r['main']['steps']} steps in {r['main']['train_seconds']:.0f} s of training "
                  f"(compile {r['main']['compile_seconds']:.0f} s), "
                  f"{r['main']['skipped_steps']} skipped. Overrides: `{' '.join(r['overrides'])}`."
                  + (f" Finished {r['finished']}." if r.get("finished") else ""), "",
                  "| objective | first-100-step mean | last-100-step mean | fall | min grad norm |",
                  "| --- | ---: | ---: | ---: | ---: |"]
        for o in OBJECTIVES:
            f = r["loss_fall"].get(o)
            if f is None or f"train.objectives.{o}=0" in r["overrides"]:  # nothing trains it
                lines.append(f"| {o} | off | off | — | — |")
                continue
            g = r["main"]["min_grad_norm"][o]
            lines.append(f"| {o} | {f['first']:.3f} | {f['last']:.3f} | {_pct(f['fall'])} | {g:.3g} |")
        lines += ["", f"![curves {name}](figures/{fig})", ""]
    doc.write_text(keep_sections(doc, "\n".join(lines)))   # other benchmarks' sections stay
