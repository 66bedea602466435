"""``train.warm_start``: the contrastive objective alone on its own graph first, then every
objective, in one run with one optimizer, and a resume across the switch that stays exact."""
import json

import numpy as np
import pytest

from zidong.train.bench import loss_fall
from zidong.train.checkpoint import load_state
from zidong.train.pretrain import run_pretrain
from zidong.train.pretrain_net import OBJECTIVES

from tests.conftest import TINY_RUN as COMMON

WARM = COMMON + ["train.max_steps=6", "train.warm_start=0.5"]  # steps 1-3 warm, 4-6 full


@pytest.fixture(scope="module")
def warm_run(tiny_run, mini_corpus, tmp_path_factory):
    run = tmp_path_factory.mktemp("warm") / "run"
    result = run_pretrain("tiny", WARM, str(mini_corpus / "train.jsonl"), run_dir=str(run),
                          vq_ckpt=str(tiny_run[0] / "vq" / "vq.safetensors"))
    return run, result["main"]


def test_the_warm_phase_trains_the_contrastive_objective_alone(warm_run):
    run, main = warm_run
    assert main["steps"] == 6 and main["warm_until"] == 3
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6] and [r["warm"] for r in rows] == [True, False,
                                                                                 False]
    # steps 1-2: only the contrastive loss exists, and no other head receives a gradient
    assert sorted(k for k in rows[0] if k.startswith("loss.")) == ["loss.contrastive"]
    assert all(rows[0][f"grad_norm.{o}"] == 0 for o in OBJECTIVES if o != "contrastive")
    assert rows[0]["grad_norm.contrastive"] > 0
    # from the switch on, every objective trains and is alive
    trained = [o for o in OBJECTIVES if o != "ctc"]   # ctc is off by default
    for r in rows[1:]:
        assert all(np.isfinite(r[f"loss.{o}"]) and r[f"grad_norm.{o}"] > 0 for o in trained)
    assert all(main["min_grad_norm"][o] > 0 for o in trained)
    _, meta, _ = load_state(run / "step_0000006.safetensors")
    assert meta["warm_until"] == 3


def test_a_run_interrupted_after_the_switch_resumes_exactly(warm_run, tiny_run, mini_corpus,
                                                            tmp_path):
    # the resumed run takes the switch from its checkpoint (with a budget it could not redraw
    # it: the clock decides) and goes on with the same optimizer state and schedule
    run_a, _ = warm_run
    run_b = tmp_path / "run"
    first = run_pretrain("tiny", WARM, str(mini_corpus / "train.jsonl"), run_dir=str(run_b),
                         vq_ckpt=str(tiny_run[0] / "vq" / "vq.safetensors"), stop_at=4)
    assert first["main"]["steps"] == 4 and first["main"]["warm_until"] == 3
    assert run_pretrain(resume=str(run_b))["main"]["warm_until"] == 3
    a, _, _ = load_state(run_a / "step_0000006.safetensors")
    b, _, _ = load_state(run_b / "step_0000006.safetensors")
    assert set(a) == set(b)
    worst = max(float(np.abs(a[k].asnumpy() - b[k].asnumpy()).max()) for k in a)
    assert worst <= 1e-6, worst


def test_a_loss_falls_from_the_first_steps_that_trained_it(tmp_path):
    # log every 10 steps; mlm joins at step 50 (its first row, 60, holds steps 51-60)
    rows = [{"step": s, "loss.contrastive": 10.0 - s / 100} for s in range(10, 301, 10)]
    for r in rows:
        if r["step"] > 50:
            r["loss.mlm"] = 8.0 if r["step"] <= 150 else 2.0
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    fall = loss_fall(path)
    assert set(fall) == {"contrastive", "mlm"}   # the others never trained: left out
    assert fall["mlm"]["first"] == 8.0 and fall["mlm"]["fall"] == pytest.approx(0.75)
    assert fall["contrastive"]["first"] == pytest.approx(np.mean([10 - s / 100
                                                                  for s in range(10, 101, 10)]))
