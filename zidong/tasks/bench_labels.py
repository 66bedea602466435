"""``zidong bench-labels``: label efficiency (issue 5). Classification with 1 / 5 / 10 / 100% of the
labels, from a pretrained run vs the same architecture from scratch, on two data sets:

    fashion-mnist  pretraining on its training images alone (no label, no class-name text, no
                   speech, meta emptied: ``zidong data subset --keep image --label none``), the
                   VQ stage and masked image modelling, the only objective image-only data has;
                   classifiers see the image
    tri-shapes     the run given by ``--pretrained`` (the built-in corpus, all three modalities);
                   label: how many objects the scene holds (2-6, ``meta:scene.a.count+
                   scene.b.count``); classifiers see the image

Every stage is a ``zidong`` command (``zidong.tasks.stages``); results go to the ``labels``
section of docs/results.md with a plot. The seeds' claim holds on a data set if pretrained + 10%
reaches 98% of scratch + 100%.
"""
from __future__ import annotations

import json
from pathlib import Path

from zidong.tasks.classify import LR
from zidong.tasks.stages import run_stages
from zidong.train.doc_sections import write_section

FRACTIONS = (0.01, 0.05, 0.1, 1.0)
# image-only data trains masked image modelling alone: every other objective is left out
MIM_ONLY = [f"train.objectives.{o}=0" for o in ("mlm", "msm", "text_gen", "image_gen",
                                                 "speech_gen", "contrastive", "matching",
                                                 "ctc")] \
    + ["train.warm_start=0"]  # a contrastive warm start has no contrastive objective to train


# each data set's classifier training and evaluation manifests, relative to --out
DATASETS = {"fmnist": ("fmnist/train.jsonl", "fmnist_eval.jsonl"),
            "tri": ("tri_count/train.jsonl", "tri_count/test.jsonl")}


def _tag(fraction: float) -> str:
    return f"{fraction * 100:g}pct"


def plan(pretrained: str, out: Path, corpus: Path, fmnist_limit: int, fmnist_eval: float,
         pretrain_minutes: float, steps: int) -> list[tuple[str, list[str], Path]]:
    fm = out / "fmnist"
    fm_eval = out / DATASETS["fmnist"][1]
    fm_pre = out / "fmnist_pretrain"
    stages = [
        ("fmnist_data", ["data", "import-fashion-mnist", "--out", str(fm), "--limit",
                         str(fmnist_limit), "--langs", "en"], fm / "test.jsonl"),
        ("fmnist_eval_data", ["data", "mix", "--take", f"{fm / 'test.jsonl'}={fmnist_eval}",
                              "--out", str(fm_eval)], fm_eval),
        ("fmnist_images", ["data", "subset", str(fm / "train.jsonl"), "--out-dir",
                           str(out / "fmnist_images"), "--keep", "image", "--label", "none",
                           "--drop-meta"], out / "fmnist_images" / "train.jsonl"),
        ("fmnist_pretrain", ["pretrain", "--data", str(out / "fmnist_images" / "train.jsonl"),
                             "--run-dir", str(fm_pre), "--set", f"train.max_minutes={pretrain_minutes}",
                             "--set", "train.vq.max_minutes=3"]
         + [a for o in MIM_ONLY for a in ("--set", o)], fm_pre / "summary.json"),
        ("tri_data", ["data", "subset", str(corpus / "train.jsonl"), str(corpus / "test.jsonl"),
                      "--out-dir", str(out / "tri_count"), "--require", "image", "--label",
                      "meta:scene.a.count+scene.b.count"], out / "tri_count" / "classes.json"),
    ]
    for name, init in (("fmnist", str(fm_pre)), ("tri", pretrained)):
        data, eval_data = (out / p for p in DATASETS[name])
        for fraction in FRACTIONS:
            for start in ("pretrained", "scratch"):
                run = out / f"{name}_{start}_{_tag(fraction)}"
                origin = ["--init-from", init] if start == "pretrained" else ["--config", "small"]
                stages.append((run.name, ["finetune", "--task", "classify", "--data", str(data),
                                          "--eval-data", str(eval_data), "--label-fraction",
                                          str(fraction), "--modalities", "image", "--steps",
                                          str(steps), "--lr", str(LR), "--run-dir", str(run)] + origin,
                               run / "metrics.json"))
    return stages


def bench_labels(pretrained: str, out: Path, doc: Path, fmnist_limit: int = 5000,
                 fmnist_eval: float = 0.4, pretrain_minutes: float = 10.0, steps: int = 100,
                 log=print) -> dict:
    from zidong.train.pretrain import default_corpus
    corpus = default_corpus(log)
    if corpus.is_relative_to(Path.cwd()):   # commands in the document read as typed
        corpus = corpus.relative_to(Path.cwd())
    stages = plan(pretrained, out, corpus, fmnist_limit, fmnist_eval, pretrain_minutes, steps)
    record = run_stages(stages, out, "bench_labels.json", log)
    results = collect(out)
    write_doc(doc, out, record, results, pretrained, steps)
    return results


def collect(out: Path) -> dict:
    """{data set: {start: {fraction: metrics}}} from the classifier runs."""
    results: dict = {}
    for name in DATASETS:
        for start in ("pretrained", "scratch"):
            for fraction in FRACTIONS:
                path = out / f"{name}_{start}_{_tag(fraction)}" / "metrics.json"
                if path.is_file():
                    results.setdefault(name, {}).setdefault(start, {})[fraction] = \
                        json.loads(path.read_text())
    return results


LEARNT = 0.05   # a baseline this far above the majority class has learnt something


def chance(manifest: Path) -> float | None:
    """The majority class's share of a labelled manifest (what a constant guess scores)."""
    from collections import Counter

    from zidong.data.manifest import read_manifest
    if not manifest.is_file():
        return None
    labels = [s.label for s in read_manifest(manifest)[0] if s.label is not None]
    return max(Counter(labels).values()) / len(labels) if labels else None


def verdict(runs: dict, floor: float | None = None) -> tuple[float | None, float | None, str]:
    """(pretrained + 10%, scratch + 100%, the claim's verdict) for one data set. A scratch
    baseline within LEARNT of ``floor`` (the majority class) has not learnt the task, and a
    comparison with it says nothing."""
    pre = runs.get("pretrained", {}).get(0.1, {}).get("cls.acc")
    full = runs.get("scratch", {}).get(1.0, {}).get("cls.acc")
    if pre is None or full is None:
        return pre, full, "—"
    if floor is not None and full < floor + LEARNT:
        return pre, full, "not shown: scratch + 100% did not learn the task"
    result = "holds" if pre >= 0.98 * full else "does not hold"
    # with a fixed number of steps, all the labels can train a worse model than a tenth of them
    # (fewer passes over more data): then scratch + 100% is no supervised ceiling
    fewer = {f: m["cls.acc"] for f, m in runs.get("scratch", {}).items() if f < 1.0}
    if result == "holds" and fewer and max(fewer.values()) > full + LEARNT:
        best = max(fewer, key=fewer.get)
        result += (f" only against an under-trained baseline: scratch + 100% is below scratch "
                   f"+ {100 * best:g}% ({100 * fewer[best]:.1f}%)")
    return pre, full, result


def plot(results: dict, path: Path, floors: dict | None = None) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    titles = {"fmnist": "Fashion-MNIST (image-only pretraining)",
              "tri": "tri-shapes: objects in the scene"}
    fig, axes = plt.subplots(1, len(results), figsize=(5.5 * len(results), 4), squeeze=False)
    for ax, (name, runs) in zip(axes[0], results.items()):
        for start, style in (("pretrained", "o-"), ("scratch", "s--")):
            pts = sorted(runs.get(start, {}).items())
            ax.plot([100 * f for f, _ in pts], [100 * m["cls.acc"] for _, m in pts], style,
                    label=start)
        if (floors or {}).get(name) is not None:
            ax.axhline(100 * floors[name], color="grey", ls=":", label="majority class")
        ax.set_xscale("log")
        ax.set_xticks([1, 5, 10, 100], ["1%", "5%", "10%", "100%"])
        ax.set_xlabel("labelled training samples")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(titles.get(name, name))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def write_doc(doc: Path, out: Path, record: dict, results: dict, pretrained: str,
              steps: int) -> None:
    figure = doc.parent / "figures" / "label_efficiency.png"
    floors = {name: chance(out / DATASETS[name][1]) for name in results}
    plot(results, figure, floors)
    lines = ["## Label efficiency (issue 5)", "",
             f"Produced by `zidong bench-labels --pretrained {pretrained} --out {out} --steps "
             f"{steps}`, which runs the stages below as `zidong` commands and writes this "
             "section. Every classifier trains a linear head on the fused CLS together with the "
             f"encoders and the fusion, {steps} steps of 32 (fewer when the labelled set is "
             f"smaller than a batch), AdamW {LR:g}, warm-up + cosine; the labelled subset is "
             "stratified (the same fraction of every class, at least one each) and fixed by the "
             "seed. Classifiers see the image only.", "",
             "What each model saw before the labels:", "",
             "- **Fashion-MNIST, pretrained**: the training images of the labelled pool and "
             "nothing else (no label, no class-name text, no speech, no meta), through the VQ "
             "stage and masked image modelling, the only objective image-only data has "
             "(`fmnist_pretrain` below).",
             f"- **tri-shapes, pretrained**: `{pretrained}`, the embedded-default pretraining "
             "on the built-in corpus (images, captions and speech; the captions name each "
             "group's count, so the pretraining saw the words for the quantity the label sums). "
             "Label: the number of objects in the scene (2–6).",
             "- **scratch**: the same architecture (`small`), randomly initialised.", "",
             "| data set | start | 1% | 5% | 10% | 100% |", "| --- | --- | ---: | ---: | ---: | ---: |"]
    for name, runs in results.items():
        for start in ("pretrained", "scratch"):
            row = runs.get(start, {})
            cells = [_pct(row.get(f, {}).get("cls.acc")) for f in FRACTIONS]
            labelled = [str(row.get(f, {}).get("labelled", "—")) for f in FRACTIONS]
            lines.append(f"| {name} | {start} | " + " | ".join(
                f"{c} ({n})" for c, n in zip(cells, labelled)) + " |")
    lines += ["", "Cells: test accuracy (labelled training samples).", "",
              "| data set | majority class (chance) | pretrained + 10% | scratch + 100% | "
              "claim (≥ 98% of it) |", "| --- | ---: | ---: | ---: | --- |"]
    for name, runs in results.items():
        floor = floors[name]
        pre, full, said = verdict(runs, floor)
        lines.append(f"| {name} | {_pct(floor)} | {_pct(pre)} | {_pct(full)} | {said} |")
    classes = out / "tri_count" / "classes.json"
    if classes.is_file():
        names = json.loads(classes.read_text())["classes"]
        lines += ["", f"tri-shapes classes (objects in the scene): {names}."]
    fm_pre = out / "fmnist_pretrain" / "summary.json"
    if fm_pre.is_file():
        s = json.loads(fm_pre.read_text())
        lines += ["", f"Fashion-MNIST pretraining: {s.get('steps')} steps in "
                  f"{s.get('train_seconds', 0):.0f} s of training."]
    lines += ["", "| stage | command | minutes |", "| --- | --- | ---: |"]
    for name, st in record["stages"].items():
        secs = st.get("seconds")
        lines.append(f"| {name} | `zidong {' '.join(st['argv'])}` | "
                     f"{'kept' if secs is None else f'{secs / 60:.1f}'} |")
    lines += ["", "![label efficiency](figures/label_efficiency.png)"]
    write_section(doc, "labels", "\n".join(lines))
