"""The progress line's ETA follows the recent step time: after the warm start the full steps cost
three times as much, and the mean since the start said half the time that was left."""
from zidong.train.progress import Progress


def test_eta_follows_the_recent_step_time(tmp_path):
    lines = []
    p = Progress(tmp_path, total_steps=200, log=lines.append)
    for step in range(1, 151):
        p.t_train += 1.0 if step <= 100 else 3.0   # warm steps, then full ones
        if step % 10 == 0:
            p.record({"step": step, "loss": 1.0, "lr": 1e-4, "samples_per_s": 1.0}, 0)
    left = 50 * 3.0
    assert abs(p.eta(150, 0) - left) < 0.1 * left, p.eta(150, 0)
    assert lines[-1].endswith(f"ETA {p.eta(150, 0) / 60:.1f} min")
    p.close()
    # with a budget, whichever ends first
    q = Progress(tmp_path, total_steps=200, budget_s=200.0, log=lines.append)
    q.t_train = 190.0
    assert q.eta(150, 0) == 10.0
    q.close()
