"""Training progress: one log line per interval (step, losses, lr, samples/s, ETA), a bar on a
terminal, ``metrics.jsonl`` in the run dir and ``curves.png`` of the losses at the end."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path


class Progress:
    def __init__(self, run_dir: Path, total_steps: int, budget_s: float = 0.0, log=print,
                 append: bool = False):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.total, self.budget, self.log = total_steps, budget_s, log
        self.file = self.path.open("a" if append else "w")
        self.tty = sys.stderr.isatty()
        self.t_train = 0.0  # seconds of training, compilation excluded
        # seconds per step over the recent log intervals. Why not the mean since the start: after
        # a warm start (train.warm_start) the full steps cost about three times the warm ones, and
        # the run's mean put the ETA at half the time that was left
        self.step_s, self._last = None, None

    def _observe(self, step: int) -> None:
        if self._last is not None and step > self._last[0]:
            s = (self.t_train - self._last[1]) / (step - self._last[0])
            self.step_s = s if self.step_s is None else 0.5 * self.step_s + 0.5 * s
        self._last = (step, self.t_train)

    def eta(self, step: int, start_step: int) -> float:
        done = max(step - start_step, 1)
        per_step = self.step_s if self.step_s is not None else self.t_train / done
        by_steps = per_step * (self.total - step)
        if self.budget:
            return max(min(by_steps, self.budget - self.t_train), 0.0)
        return by_steps

    def record(self, row: dict, start_step: int) -> None:
        self._observe(row["step"])
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()
        losses = " ".join(f"{k[5:]} {v:.3f}" for k, v in row.items() if k.startswith("loss."))
        line = (f"step {row['step']:>6}/{self.total}  loss {row['loss']:.3f}  [{losses}]  "
                f"lr {row['lr']:.2e}  {row['samples_per_s']:.1f} samples/s  "
                f"ETA {self.eta(row['step'], start_step) / 60:.1f} min")
        if self.tty:
            frac = min(row["step"] / max(self.total, 1), 1.0)
            bar = "#" * int(30 * frac) + "." * (30 - int(30 * frac))
            print(f"\r[{bar}] ", end="", file=sys.stderr)
        self.log(line)

    def close(self) -> None:
        self.file.close()


def read_metrics(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def plot_curves(metrics_path: Path, out: Path, title: str = "") -> Path:
    """Every ``loss.*`` series against the step, one panel per objective, as PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = read_metrics(metrics_path)
    keys = sorted({k for r in rows for k in r if k.startswith("loss.")})
    cols = 4
    n = max(len(keys), 1)
    fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(4 * cols, 3 * ((n + cols - 1) // cols)),
                             squeeze=False)
    for ax, key in zip(axes.flat, keys):
        pts = [(r["step"], r[key]) for r in rows if key in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts])
        ax.set_title(key[5:])
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out


def now() -> float:
    return time.perf_counter()
