"""``zidong plan``: what a config will build, before anything is built."""
from __future__ import annotations

from zidong.config import Config
from zidong.models.param_count import count_parameters


def _human(n: int) -> str:
    for unit, div in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def plan_report(cfg: Config) -> str:
    counts = count_parameters(cfg.model)
    m = cfg.model
    lines = [f"config: {cfg.name}  (device {cfg.context.device}, {cfg.context.precision}, "
             f"amp {cfg.context.amp_level})",
             f"unified space: {m.unified_dim}; fused sequence: {m.fused_len} positions "
             f"(text {1 + m.text.max_len}, image {1 + m.vision_patches}, "
             f"speech {1 + m.speech_tokens}, CLS 1); image codes: {m.image_tokens}",
             "", f"{'component':<18}{'parameters':>16}{'':>10}"]
    for name, n in counts.items():
        if name == "total":
            continue
        lines.append(f"{name:<18}{n:>16,}{_human(n):>10}")
    lines.append(f"{'total':<18}{counts['total']:>16,}{_human(counts['total']):>10}")
    return "\n".join(lines)
