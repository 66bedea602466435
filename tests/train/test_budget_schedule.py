"""A wall-clock budget sizes the learning-rate schedule: the compiled step sees the resized
curve, the plan follows the measured step time, and a budgeted run ends with its rate decayed."""
import json

import mindspore as ms
import pytest
from mindspore import nn

from zidong.train.schedule import BudgetPlan, WarmupCosine

from tests.conftest import TINY_RUN as COMMON


def _compiled_lr(schedule):
    net = nn.Dense(2, 2)
    opt = nn.AdamWeightDecay(net.trainable_params(), learning_rate=schedule)

    @ms.jit
    def lr_now():
        return opt.get_lr()
    return opt, lr_now


def test_a_resize_reaches_the_compiled_graph_without_recompiling():
    schedule = WarmupCosine(1.0, 10, 100, min_ratio=0.1)
    opt, lr_now = _compiled_lr(schedule)
    opt.global_step.set_data(ms.Tensor([49], ms.int32))      # taking step 50
    before = float(lr_now().asnumpy())
    assert before == pytest.approx(schedule.value(50), rel=1e-5)
    schedule.resize(50)                       # the budget allows only 50 steps: 50 is the last
    assert schedule.total == 50 and float(schedule.warmup.asnumpy()) == 10.0
    after = float(lr_now().asnumpy())
    assert after == pytest.approx(0.1, rel=1e-5) and after < before
    assert schedule.value(50) == pytest.approx(after, rel=1e-5)


def test_the_plan_follows_the_measured_step_time():
    a, b = WarmupCosine(1.0, 50, 500), WarmupCosine(10.0, 50, 500, name="learning_rate.t")
    plan = BudgetPlan([a, b], max_steps=500, budget_s=100.0)
    assert plan.update(step=11, steps_timed=10, t_train=10.0) == 11 + 90   # 1 s a step
    assert a.total == b.total == 101 and float(a.warmup.asnumpy()) == 50.0  # warm-up kept
    assert plan.update(step=51, steps_timed=50, t_train=25.0) == 51 + 150  # faster: 0.5 s
    assert plan.update(step=52, steps_timed=51, t_train=1.0) == 500        # capped at max_steps
    assert plan.update(step=60, steps_timed=59, t_train=120.0) == 60       # spent: stop here
    assert float(a.warmup.asnumpy()) == 30.0             # a warm-up is at most half the run
    # a budget that also counts compilation: the rate from the timed steps, the rest from spent
    plan = BudgetPlan([WarmupCosine(1.0, 50, 500)], max_steps=500, budget_s=100.0)
    assert plan.update(step=11, steps_timed=10, t_train=10.0, spent=40.0) == 11 + 60
    off = BudgetPlan([WarmupCosine(1.0, 50, 500)], max_steps=500, budget_s=0.0)
    assert off.update(step=11, steps_timed=10, t_train=1e6) == 500



def test_a_sized_run_ends_by_its_plan_an_unsized_one_by_the_clock():
    sized = BudgetPlan([WarmupCosine(1.0, 50, 500)], max_steps=500, budget_s=100.0)
    sized.update(step=11, steps_timed=10, t_train=10.0)                     # plans 101 steps
    assert not sized.done(100, spent=150.0)   # the rank-agreed plan, not this rank's clock
    assert sized.done(101, spent=90.0)
    clock = BudgetPlan([WarmupCosine(1.0, 50, 500)], max_steps=500, budget_s=100.0, sized=False)
    assert clock.update(step=11, steps_timed=10, t_train=10.0) == 500     # schedule untouched
    assert not clock.done(11, spent=99.0) and clock.done(11, spent=100.0)
    assert clock.done(500, spent=0.0)
    unbudgeted = BudgetPlan([WarmupCosine(1.0, 50, 500)], max_steps=500, budget_s=0.0)
    assert not unbudgeted.done(499, spent=1e9) and unbudgeted.done(500, spent=0.0)

def test_a_budgeted_run_ends_with_its_rate_decayed(tiny_run, mini_corpus, tmp_path):
    from zidong.train.pretrain import run_pretrain
    run_a, _ = tiny_run
    lr, ratio = 1e-3, 0.1
    result = run_pretrain("tiny", COMMON + ["train.max_steps=100000", "train.max_minutes=0.1",
                                            f"train.lr={lr}", f"train.min_lr_ratio={ratio}",
                                            "train.warmup_steps=20", "train.ckpt_every=100000",
                                            "train.budget_schedule=true"],
                          str(mini_corpus / "train.jsonl"), run_dir=str(tmp_path / "run"),
                          vq_ckpt=str(run_a / "vq" / "vq.safetensors"))["main"]
    assert 2 < result["steps"] < 100000
    # the cosine is at its floor on the last step, wherever the budget ended it (sized by
    # max_steps, this run would have stopped in its warm-up)
    assert result["final_lr"] == pytest.approx(lr * ratio, rel=1e-4)
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["planned_steps"] == result["steps"] == rows[-1]["step"]
    assert result["train_seconds"] < 6.0 + 10 * result["train_seconds"] / result["steps"]
