"""The pretraining job end to end on the tiny preset: VQ stage, all objectives alive, checkpoints,
exact resume, evaluation from the run folder."""
import json

import numpy as np
import pytest

from zidong.config import load_config
from zidong.data.tokenizer import Tokenizer
from zidong.train.checkpoint import checkpoints, load_state
from zidong.train.pretrain import run_pretrain
from zidong.train.pretrain_net import OBJECTIVES
from zidong.train.vq_stage import reconstruction_error

from tests.conftest import TINY_RUN as COMMON


@pytest.fixture(scope="module")
def straight(tiny_run):
    return tiny_run


def test_the_run_has_everything_a_user_looks_for(straight):
    run, result = straight
    main = result["main"]
    assert main["steps"] == 6 and main["skipped_steps"] == 0
    for name in ("tokenizer.model", "curves.png", "metrics.jsonl", "summary.json", "run.json",
                 "vq/vq.safetensors", "vq/vq_reconstructions.png"):
        assert (run / name).is_file(), name
    assert [p.name for p in checkpoints(run)] == ["step_0000003.safetensors",
                                                  "step_0000006.safetensors"]
    assert sorted(p.name for p in run.glob("*.sha256")) == [
        p.name + ".sha256" for p in checkpoints(run)]     # a digest beside each kept checkpoint
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6]
    # every objective the preset trains (all but ctc, off by default; tests/train/
    # test_ctc_objective.py trains that one) has a finite loss and a gradient at every step
    for o in OBJECTIVES:
        if o == "ctc":
            assert all("loss.ctc" not in r for r in rows)
            continue
        assert all(np.isfinite(r[f"loss.{o}"]) for r in rows), o
        assert main["min_grad_norm"][o] > 0, f"{o} received no gradient at some step"
    _, meta, blobs = load_state(checkpoints(run)[-1])
    assert meta["step"] == 6 and meta["config"]["name"] == "tiny"
    assert blobs["tokenizer"] == (run / "tokenizer.model").read_bytes()


def test_the_vq_stage_measures_its_reconstructions_on_held_out_images(straight, mini_corpus):
    run, result = straight
    vq = result["vq"]
    assert vq["held_out"] == str(mini_corpus / "val.jsonl") and vq["held_out_images"] > 0
    assert vq == json.loads((run / "vq" / "vq_summary.json").read_text())

    class Lossless:  # decode(encode(x)) == x: no error, and the same reference beside it
        @staticmethod
        def encode(x):
            return x

        @staticmethod
        def decode(codes):
            return codes

    exact = reconstruction_error(Lossless(), mini_corpus / "val.jsonl",
                                 load_config("tiny", COMMON), Tokenizer.load(run / "tokenizer.model"))
    assert exact["held_out_mse"] == 0.0 and exact["held_out_images"] == vq["held_out_images"]
    assert exact["patch_mean_colour_mse"] == vq["patch_mean_colour_mse"] > 0
    assert vq["held_out_mse"] > 0  # a 4-step tokenizer is not lossless


def test_interrupted_and_resumed_run_ends_with_the_same_weights(straight, mini_corpus, tmp_path):
    run_a, _ = straight
    run_b = tmp_path / "run"
    first = run_pretrain("tiny", COMMON + ["train.max_steps=6"], str(mini_corpus / "train.jsonl"),
                         run_dir=str(run_b), vq_ckpt=str(run_a / "vq" / "vq.safetensors"),
                         stop_at=3)
    assert first["main"]["steps"] == 3
    run_pretrain(resume=str(run_b))
    a, meta_a, _ = load_state(run_a / "step_0000006.safetensors")
    b, meta_b, _ = load_state(run_b / "step_0000006.safetensors")
    assert set(a) == set(b)
    worst = max(float(np.abs(a[k].asnumpy() - b[k].asnumpy()).max()) for k in a)
    assert worst <= 1e-6, worst
    assert (meta_a["epoch"], meta_a["batch_in_epoch"]) == (meta_b["epoch"], meta_b["batch_in_epoch"])


def test_eval_retrieval_from_the_run_folder(straight, mini_corpus, tmp_path):
    from zidong.eval.run import run_eval
    run, _ = straight
    metrics = run_eval(run, mini_corpus / "test.jsonl", ["retrieval"], tmp_path / "eval")
    for d in ("t2i", "i2t", "s2i", "s2t", "t2s", "i2s"):
        assert metrics[f"retrieval.{d}.candidates"] == 20
        assert 0 <= metrics[f"retrieval.{d}.R@1"] <= metrics[f"retrieval.{d}.R@10"] <= 1
    assert (tmp_path / "eval" / "report.md").read_text().startswith("# Evaluation")


def test_task_sampling_picks_one_level_per_step_reproducibly():
    from types import SimpleNamespace

    from zidong.config import load_config
    from zidong.train.pretrain_net import LEVEL
    from zidong.train.trainer import Trainer
    cfg = load_config("tiny", ["train.task_sampling=true", "train.objectives.matching=0"])
    weights = np.array([getattr(cfg.train.objectives, o) for o in OBJECTIVES], np.float32)
    levels = []
    for step in range(300):
        fake = SimpleNamespace(cfg=cfg, weights=weights, step=step)
        w = Trainer.step_weights(fake)
        active = {LEVEL[o] for o, x in zip(OBJECTIVES, w) if x > 0}
        assert len(active) == 1 and w[OBJECTIVES.index("matching")] == 0
        assert (Trainer.step_weights(fake) == w).all()
        levels.append(active.pop())
    share = {lv: levels.count(lv) / len(levels) for lv in set(levels)}
    # token 3, modality 3, sample 1 (matching disabled): probabilities 3/7, 3/7, 1/7
    assert abs(share["token"] - 3 / 7) < 0.08 and abs(share["sample"] - 1 / 7) < 0.06
    off = load_config("tiny")
    fake = SimpleNamespace(cfg=off, weights=weights, step=5)
    assert (Trainer.step_weights(fake) == weights).all()
