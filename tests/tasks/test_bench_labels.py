"""The label-efficiency benchmark: its stages are valid commands in a workable order, image-only
data pretrains, and the document states the claim's verdict from the runs' metrics."""
import json
from pathlib import Path

from zidong.cli import build_parser
from zidong.tasks.bench_labels import FRACTIONS, chance, collect, plan, verdict, write_doc


def test_every_stage_is_a_zidong_command_and_sees_only_what_it_should(tmp_path):
    stages = plan("runs/pre", tmp_path, Path("corpus"), 100, 0.5, 1.0, 10)
    parser = build_parser()
    names = [name for name, _, _ in stages]
    assert len(set(names)) == len(names) == 5 + 2 * 2 * len(FRACTIONS)
    for i, (name, argv, _) in enumerate(stages):
        assert callable(parser.parse_args(argv).func)
        later = [str(done.parent) for _, _, done in stages[i + 1:] if done.parent != tmp_path]
        assert not any(a in later for a in argv), name
    by = dict((n, a) for n, a, _ in stages)
    # Fashion-MNIST pretraining reads the image-only view and trains nothing but MIM
    pre = by["fmnist_pretrain"]
    assert pre[pre.index("--data") + 1] == str(tmp_path / "fmnist_images" / "train.jsonl")
    assert "train.objectives.mim=0" not in pre and "train.objectives.contrastive=0" in pre
    view = by["fmnist_images"]
    assert view[view.index("--keep") + 1] == "image" and "--drop-meta" in view
    for name, argv in by.items():
        if name.startswith(("fmnist_pretrained", "tri_pretrained")):
            assert "--init-from" in argv and argv[argv.index("--modalities") + 1] == "image"
        if "_scratch_" in name:
            assert "--init-from" not in argv and "--config" in argv
    assert by["tri_pretrained_10pct"][by["tri_pretrained_10pct"].index("--init-from") + 1] \
        == "runs/pre"


def test_image_only_data_pretrains_with_masked_image_modelling(mini_corpus, tmp_path):
    from tests.conftest import TINY_RUN
    from zidong.data.subset import subset_manifests
    from zidong.train.pretrain import run_pretrain
    from zidong.train.pretrain_net import OBJECTIVES
    subset_manifests([mini_corpus / "train.jsonl"], tmp_path / "img", keep=("image",),
                     label="none", drop_meta=True)
    off = [f"train.objectives.{o}=0" for o in OBJECTIVES if o != "mim"]
    result = run_pretrain("tiny", TINY_RUN + ["train.max_steps=3"] + off,
                          str(tmp_path / "img" / "train.jsonl"), run_dir=str(tmp_path / "run"))
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text()
            .splitlines()]
    mim = [r["loss.mim"] for r in rows if "loss.mim" in r]
    assert result["main"]["steps"] == 3 and mim and all(v > 0 for v in mim)
    # the objective trains its own head, and nothing else's head moves
    assert all(r["grad_norm.mim"] > 0 for r in rows)
    assert all(r[f"grad_norm.{o}"] == 0 for r in rows for o in OBJECTIVES if o != "mim")


def _fake_runs(out, accuracies):
    for (name, start, fraction), acc in accuracies.items():
        run = out / f"{name}_{start}_{fraction * 100:g}pct"
        run.mkdir(parents=True)
        (run / "metrics.json").write_text(json.dumps({"cls.acc": acc, "labelled": 7}))


def test_the_document_gives_the_verdict_of_the_runs(tmp_path):
    out, doc = tmp_path / "out", tmp_path / "docs" / "results.md"
    acc = {("fmnist", "scratch", f): a for f, a in zip(FRACTIONS, (0.5, 0.6, 0.7, 0.9))}
    acc.update({("fmnist", "pretrained", f): a for f, a in zip(FRACTIONS, (0.7, 0.8, 0.89, 0.92))})
    acc.update({("tri", s, f): 0.3 + 0.5 * f for s in ("pretrained", "scratch")
                for f in FRACTIONS})
    _fake_runs(out, acc)
    results = collect(out)
    assert verdict(results["fmnist"])[2] == "holds"          # 0.89 >= 0.98 x 0.90
    assert verdict(results["tri"])[2] == "does not hold"     # 0.35 < 0.98 x 0.80
    # a scratch baseline at the majority class learnt nothing: no verdict from it
    assert verdict(results["tri"], floor=0.78)[2].startswith("not shown")
    # scratch + 100% below scratch + 10% is under-trained: the verdict says so
    weak = {"pretrained": {0.1: {"cls.acc": 0.51}},
            "scratch": {0.1: {"cls.acc": 0.45}, 1.0: {"cls.acc": 0.28}}}
    assert verdict(weak, floor=0.11)[2] == ("holds only against an under-trained baseline: "
                                            "scratch + 100% is below scratch + 10% (45.0%)")
    write_doc(doc, out, {"stages": {}}, results, "runs/pre", 10)
    text = doc.read_text()
    assert "| fmnist | — | 89.0% | 90.0% | holds |" in text   # no eval manifest: no chance
    assert "| tri | — | 35.0% | 80.0% | does not hold |" in text
    assert (doc.parent / "figures" / "label_efficiency.png").stat().st_size > 1000


def test_chance_is_the_majority_class_share(tmp_path):
    from zidong.data.manifest import Sample, write_manifest
    write_manifest(tmp_path / "m.jsonl", [Sample(f"s{i}", text="x", lang="en", label=i % 4 // 3)
                                          for i in range(8)])      # labels 0,0,0,1 twice
    assert chance(tmp_path / "m.jsonl") == 0.75
    assert chance(tmp_path / "missing.jsonl") is None
