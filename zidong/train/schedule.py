"""Linear warm-up then cosine decay, as a MindSpore LearningRateSchedule (evaluated in the graph
from the optimizer's global step, so a resumed run continues the same curve), and the plan that
sizes such a curve to a wall-clock budget."""
from __future__ import annotations

import math

import mindspore as ms
from mindspore import Parameter, Tensor, ops
from mindspore.nn.learning_rate_schedule import LearningRateSchedule


class WarmupCosine(LearningRateSchedule):
    """``name`` prefixes the two length parameters (``{name}.warmup``, ``{name}.decay_steps``).
    They are Parameters, not constants, so that a budget can resize the curve without a
    recompilation, and so that a checkpoint carries the curve a resumed run must continue."""

    def __init__(self, base: float, warmup: int, total: int, min_ratio: float = 0.1,
                 name: str = "learning_rate"):
        super().__init__()
        self.base, self.min_ratio = float(base), float(min_ratio)
        self.configured = (max(int(warmup), 1), max(int(total), 1))
        self.warmup = Parameter(Tensor(0.0, ms.float32), name=f"{name}.warmup",
                                requires_grad=False)
        self.decay_steps = Parameter(Tensor(0.0, ms.float32), name=f"{name}.decay_steps",
                                     requires_grad=False)
        self.resize(self.configured[1])

    def resize(self, total: int) -> None:
        """Fit the decay to end at step ``total``. The warm-up keeps its configured length (at
        most half the run): it is there for stability, which the budget does not change. Scaled
        with the budget (50 -> 16 steps of the `small` preset's 30 minutes on a slow machine),
        the contrastive objective collapsed to chance (retrieval R@1 0.2% among 500, against
        4.2% with the configured warm-up and no decay). ``ops.assign``, not ``set_data``: a
        compiled step does not see a value given by ``set_data`` (measured on MindSpore 2.10,
        CPU: the learning rate kept its compile-time value)."""
        warmup = max(min(self.configured[0], total // 2), 1)
        ops.assign(self.warmup, Tensor(float(warmup), ms.float32))
        ops.assign(self.decay_steps, Tensor(float(max(total - warmup, 1)), ms.float32))

    def construct(self, global_step):
        s = global_step.astype(ms.float32) + 1.0  # the step being taken, 1-based
        warm = s / self.warmup
        progress = ops.clamp((s - self.warmup) / self.decay_steps, 0.0, 1.0)
        cosine = self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + ops.cos(math.pi * progress))
        return self.base * ops.minimum(warm, cosine)

    def value(self, step: int) -> float:
        """The same curve in Python, for logs (``step`` 1-based)."""
        warmup, decay = float(self.warmup.asnumpy()), float(self.decay_steps.asnumpy())
        p = min(max((step - warmup) / decay, 0.0), 1.0)
        cosine = self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * p))
        return self.base * min(step / warmup, cosine)

    @property
    def total(self) -> int:
        return round(float(self.warmup.asnumpy()) + float(self.decay_steps.asnumpy()))


class BudgetPlan:
    """When a run with a wall-clock budget ends. With ``sized`` (``train.budget_schedule``) the
    schedule is fitted to the budget: sized by ``max_steps`` alone, a slow machine stops while the
    learning rate is still near its peak (the 30-minute benchmark on a 2-core machine did 179 of
    500 steps and ended at 85% of the peak). ``update`` then re-estimates after every step how
    many steps the remaining budget allows, at the mean step time so far, and fits the schedules
    to that; the run ends when the schedule does. Without it the clock alone stops the run."""

    def __init__(self, schedules, max_steps: int, budget_s: float, sized: bool = True):
        self.schedules, self.max_steps, self.budget_s = list(schedules), int(max_steps), budget_s
        self.sized = bool(sized and budget_s)
        self.total = self.schedules[0].total

    def update(self, step: int, steps_timed: int, t_train: float,
               spent: float | None = None) -> int:
        """``t_train`` seconds of training for the ``steps_timed`` steps this process timed,
        ``step`` steps done in all, ``spent`` seconds of the budget used (default ``t_train``;
        more where the budget also counts compilation); returns the planned number of steps."""
        if not self.sized or steps_timed <= 0:
            return self.total
        per_step = t_train / steps_timed
        left = max(self.budget_s - (t_train if spent is None else spent), 0.0)
        total = min(self.max_steps, max(step + int(left / per_step), step))
        if total != self.total and total > 0:
            for s in self.schedules:
                s.resize(total)
            self.total = total
        return self.total

    def done(self, step: int, spent: float) -> bool:
        """Whether the run ends after ``step`` steps with ``spent`` seconds of its budget used: a
        sized schedule ends where it was fitted to (its rank-agreed plan, not this rank's clock),
        an unsized one also when the clock runs out."""
        return step >= self.total or bool(self.budget_s and not self.sized
                                           and spent >= self.budget_s)
