"""A compiled training step: forward, backward, optional global-norm clipping, optimizer update.

The whole step is one ``ms.jit`` graph, so it compiles once per input shape signature.
"""
from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops


def make_train_step(loss_fn, optimizer: nn.Optimizer, clip_norm: float | None = None,
                    has_aux: bool = False):
    """``loss_fn(*inputs)`` returns the loss (or ``(loss, *aux)`` with ``has_aux``); the step
    returns what ``loss_fn`` returned, computed before the update."""
    grad_fn = ms.value_and_grad(loss_fn, None, optimizer.parameters, has_aux=has_aux)

    @ms.jit
    def step(*inputs):
        out, grads = grad_fn(*inputs)
        if clip_norm is not None:
            grads = ops.clip_by_global_norm(grads, clip_norm)
        optimizer(grads)
        return out

    return step
