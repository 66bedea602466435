"""Data parallel on the CPU through MindSpore's msrun (tools/launch.sh): 2 workers on 127.0.0.1
train the tiny preset, are interrupted, resume from their per-rank checkpoints, end with identical
weights equal to one process on the same global batch, and merge into one checkpoint that loads
into a single-process model. Every process the test starts is killed at the end, even on failure
(found by a marker in its environment, whoever its parent is by then)."""
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest

from zidong.train.checkpoint import load_state

REPO = Path(__file__).resolve().parents[2]
COMMON = ["train.batch_size=8", "train.max_steps=4", "train.log_every=1", "train.ckpt_every=2",
          "train.keep_last=4", "train.warmup_steps=2", "data.workers=1"]
DP = ["parallel.devices_per_node=2", "parallel.data_parallel=2"]

# ~5 min on 2 cores (three compilations of the tiny pretraining step), yet in the default run: no
# benchmark covers data parallel, so this is the only place it is checked


def _sets(items):
    return [a for kv in items for a in ("--set", kv)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tagged(tag: str) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit() and int(d.name) != os.getpid():
            try:
                env = (d / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"ZIDONG_TEST_TAG={tag}".encode() in env:
                pids.append(int(d.name))
    return pids


def _kill_tagged(tag: str) -> None:
    for pid in _tagged(tag):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def launch(args, log_dir, timeout=900, cluster_timeout=120):
    """tools/launch.sh with 2 local workers; returns (exit status, output); kills what it started."""
    tag = uuid.uuid4().hex
    env = dict(os.environ, ZIDONG_TEST_TAG=tag, GLOG_v="3")
    cmd = ["bash", str(REPO / "tools" / "launch.sh"), "--local-workers", "2", "--master-port",
           str(_free_port()), "--log-dir", str(log_dir), "--timeout", str(cluster_timeout), "--"]
    proc = subprocess.Popen(cmd + [str(a) for a in args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        _kill_tagged(tag)
        proc.kill()
        proc.wait()
    assert not _tagged(tag)
    return proc.returncode, out


def _worst(a: dict, b: dict) -> float:
    assert set(a) == set(b)
    return max(float(np.abs(a[k].asnumpy().astype(np.float64) - b[k].asnumpy()).max(initial=0))
               for k in a)


@pytest.fixture(scope="module")
def dp(tmp_path_factory):
    from zidong.data.corpus.build import build_corpus
    from zidong.train.pretrain import run_pretrain
    root = tmp_path_factory.mktemp("dp")
    build_corpus(root / "corpus", size=48, eval_size=4, photo_size=2, progress=False, workers=1)
    data = root / "corpus" / "train.jsonl"
    vq = run_pretrain("tiny", ["train.vq.steps=4", "train.vq.batch_size=8"], str(data),
                      stage="vq", run_dir=str(root / "vq"))["vq"]["checkpoint"]
    run = root / "run"
    status, out = launch(["pretrain", "--config", "tiny", "--data", data, "--run-dir", run,
                          "--vq-ckpt", vq, "--stop-at", 2] + _sets(COMMON + DP), root / "logs1")
    assert status == 0, out[-4000:]
    at_stop = [load_state(run / f"rank_{r}" / "step_0000002.safetensors")[0] for r in (0, 1)]
    status, out = launch(["pretrain", "--resume", run], root / "logs2")
    assert status == 0, out[-4000:]
    ref = root / "ref"
    args = [Path(__file__).with_name("dp_reference.py"), ref, data, run / "tokenizer.model", vq, 2]
    done = subprocess.run([sys.executable] + [str(a) for a in args] + COMMON,
                          capture_output=True, text=True, timeout=900,
                          env=dict(os.environ, GLOG_v="3"))
    assert done.returncode == 0, done.stderr[-4000:]
    return {"root": root, "run": run, "ref": ref, "at_stop": at_stop}


def test_both_ranks_checkpoint_to_their_own_folder_and_only_rank_0_writes_shared_files(dp):
    run = dp["run"]
    for r in (0, 1):
        names = sorted(p.name for p in (run / f"rank_{r}").glob("step_*.safetensors"))
        assert names == ["step_0000002.safetensors", "step_0000004.safetensors"]
    assert not list(run.glob("step_*.safetensors"))
    for name in ("run.json", "tokenizer.model", "metrics.jsonl", "summary.json", "curves.png"):
        assert (run / name).is_file(), name
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert json.loads((run / "summary.json").read_text())["ranks"] == 2
    _, meta, _ = load_state(run / "rank_1" / "step_0000004.safetensors")
    assert (meta["rank"], meta["world"], meta["step"]) == (1, 2, 4)


def test_ranks_hold_identical_weights_before_and_after_resume(dp):
    a, b = dp["at_stop"]
    assert _worst(a, b) == 0.0
    a, b = (load_state(dp["run"] / f"rank_{r}" / "step_0000004.safetensors")[0] for r in (0, 1))
    assert _worst(a, b) == 0.0


def test_resumed_data_parallel_run_equals_one_process_on_the_global_batch(dp):
    # the bar: <= 1e-6 for every tensor (weights and optimizer moments) at both steps
    for step in (2, 4):
        dist = dp["at_stop"][0] if step == 2 else \
            load_state(dp["run"] / "rank_0" / "step_0000004.safetensors")[0]
        ref, _, _ = load_state(dp["ref"] / f"step_{step:07d}.safetensors")
        assert any(k.startswith("adam_m.") for k in dist)  # optimizer moments are compared too
        worst = _worst(dist, ref)
        print(f"step {step}: worst abs difference to the single-process reference {worst:.3g}")
        assert worst <= 1e-6, (step, worst)
    # the logged losses are the mean over ranks, as the reference's mean over micro-batches
    rows = [json.loads(x) for x in (dp["run"] / "metrics.jsonl").read_text().splitlines()]
    ref_rows = [json.loads(x) for x in (dp["ref"] / "metrics.jsonl").read_text().splitlines()]
    for r, q in zip(rows, ref_rows):
        assert abs(r["loss"] - q["loss"]) <= 1e-5 * max(1.0, abs(q["loss"]))


def test_merged_checkpoint_loads_into_a_single_process_model(dp):
    from zidong.eval.load import load_run
    from zidong.parallel.merge import merge_run
    info = merge_run(dp["run"])
    assert (info["step"], info["ranks"], info["max_rank_difference"]) == (4, 2, 0.0)
    model, cfg, _, meta = load_run(info["out"])
    assert (meta["world"], meta["merged_from_world"]) == (1, 2)
    assert cfg.parallel.device_num == 1
    rank0, _, _ = load_state(dp["run"] / "rank_0" / "step_0000004.safetensors")
    for p in model.get_parameters():
        np.testing.assert_array_equal(p.asnumpy(), rank0["model." + p.name].asnumpy())


def test_a_worker_that_dies_fails_the_launch_with_its_log_named(tmp_path):
    # 2 workers, but the config describes 1 device: every worker stops with a config error
    status, out = launch(["pretrain", "--config", "tiny", "--run-dir", tmp_path / "run",
                          "--vq-ckpt", "nowhere"], tmp_path / "logs", cluster_timeout=30)
    assert status != 0
    assert "launch.sh: the job failed" in out
    assert "worker_0.log" in out or "worker_1.log" in out
    assert "launched with 2 workers but the config describes" in out
