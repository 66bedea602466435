"""Benchmarks as a list of stages, each a ``zidong`` command in a process of its own (MindSpore
keeps a compiled graph's memory until exit) whose output file says it is done: a stage whose
output exists is kept, so an interrupted benchmark resumes where it stopped, and every figure in
the document comes from a command printed beside it."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path


def run_zidong(argv: list[str], log_path: Path) -> float:
    """Run ``zidong ARGV``; its output goes to ``log_path``. Returns the wall time."""
    code = "import sys; from zidong.cli import main; sys.exit(main(sys.argv[1:]))"
    t0 = time.time()
    with open(log_path, "w") as f:
        done = subprocess.run([sys.executable, "-c", code, *argv], stdout=f,
                              stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"zidong {' '.join(argv)} failed (exit {done.returncode}); see {log_path}")
    return time.time() - t0


def run_stages(stages: list[tuple[str, list[str], Path]], out: Path, record_name: str,
               log=print) -> dict:
    """Run (name, zidong argv, done-file) stages in order; ``out/record_name`` records each
    stage's command and time. A stage folder without its done-file is refused (running elsewhere,
    or interrupted: delete it to rerun). Returns the record of this plan's stages."""
    out.mkdir(parents=True, exist_ok=True)
    record_path = out / record_name
    record = json.loads(record_path.read_text()) if record_path.is_file() else {"stages": {}}
    for name, argv, done in stages:
        made_by = record["stages"].get(name, {}).get("argv")
        if done.exists() and made_by is not None and made_by != argv:
            # keeping it would print beside its figures a command that did not make them
            raise RuntimeError(f"[{name}] {done} was made by `zidong {' '.join(made_by)}`, but "
                               f"this benchmark runs `zidong {' '.join(argv)}`: delete "
                               f"{done.parent if done.parent != out else done} to rerun it")
        if done.exists():
            log(f"[{name}] kept: {done} exists")
        elif done.parent != out and done.parent.exists():
            raise RuntimeError(f"{done.parent} exists without {done.name}: the stage is running "
                               f"elsewhere or was interrupted; delete the folder to rerun it")
        else:
            log(f"[{name}] zidong {' '.join(argv)}")
            seconds = run_zidong(argv, out / f"{name}.log")
            record["stages"][name] = {"argv": argv, "seconds": round(seconds, 1),
                                      "finished": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                time.gmtime())}
            record_path.write_text(json.dumps(record, indent=1))
            log(f"[{name}] done in {seconds / 60:.1f} min")
        record["stages"].setdefault(name, {})["argv"] = argv
    # the stages of this plan, in its order (a record may hold stages an older plan had)
    return {**record, "stages": {name: record["stages"][name] for name, _, _ in stages}}
