"""Small prediction heads: LayerNorm -> Linear (-> GELU -> Linear) over fused positions."""
from __future__ import annotations

from mindspore import nn

from zidong.models.layers import Linear, layer_norm


class Head(nn.Cell):
    def __init__(self, dim: int, out: int, hidden: int | None = None):
        super().__init__()
        self.ln = layer_norm(dim)
        self.two_layer = hidden is not None
        if self.two_layer:
            self.fc = Linear(dim, hidden)
            self.act = nn.GELU(approximate=False)
            self.out = Linear(hidden, out)
        else:
            self.out = Linear(dim, out)

    def construct(self, x):
        x = self.ln(x)
        if self.two_layer:
            x = self.act(self.fc(x))
        return self.out(x)
