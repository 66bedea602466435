"""Linear warm-up then cosine decay, as a MindSpore LearningRateSchedule (evaluated in the graph
from the optimizer's global step, so a resumed run continues the same curve)."""
from __future__ import annotations

import math

import mindspore as ms
from mindspore import ops
from mindspore.nn.learning_rate_schedule import LearningRateSchedule


class WarmupCosine(LearningRateSchedule):
    def __init__(self, base: float, warmup: int, total: int, min_ratio: float = 0.1):
        super().__init__()
        self.base, self.warmup, self.min_ratio = float(base), max(int(warmup), 1), float(min_ratio)
        self.decay_steps = max(int(total) - int(warmup), 1)

    def construct(self, global_step):
        s = global_step.astype(ms.float32) + 1.0  # the step being taken, 1-based
        warm = s / self.warmup
        progress = ops.clamp((s - self.warmup) / self.decay_steps, 0.0, 1.0)
        cosine = self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + ops.cos(math.pi * progress))
        return self.base * ops.minimum(warm, cosine)

    def value(self, step: int) -> float:
        """The same curve in Python, for logs (``step`` 1-based)."""
        warm = step / self.warmup
        p = min(max((step - self.warmup) / self.decay_steps, 0.0), 1.0)
        cosine = self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * p))
        return self.base * min(warm, cosine)
