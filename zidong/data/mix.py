"""``zidong data mix``: one manifest from several, each sampled at its own fraction. Continuing a
run on new data alone forgets the old (docs/tasks.md measures it); a mix that replays part of the
original data beside the new is the standard remedy, and needs nothing from the trainer."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from zidong.data.manifest import DataError, read_manifest, rebase, write_manifest


def parse_take(spec: str) -> tuple[Path, float]:
    """``MANIFEST=FRACTION`` (fraction in (0, 1]; ``MANIFEST`` alone means all of it)."""
    path, _, frac = spec.rpartition("=") if "=" in spec else (spec, "", "1")
    try:
        value = float(frac)
    except ValueError:
        raise DataError(f"--take {spec}: {frac!r} is not a fraction") from None
    if not 0 < value <= 1:
        raise DataError(f"--take {spec}: the fraction must be in (0, 1], got {value}")
    return Path(path), value


def mix_manifests(out, takes: list[tuple[Path, float]], seed: int = 0) -> dict:
    """Write ``out`` with round(fraction x size) samples of each manifest (drawn with ``seed``,
    kept in manifest order), media paths rewritten relative to ``out``'s folder. Sample ids must
    stay unique across the inputs."""
    out = Path(out)
    folder = out.resolve().parent
    mixed, seen, counts = [], {}, {}
    for k, (path, frac) in enumerate(takes):
        samples, problems = read_manifest(path)
        if problems:
            raise DataError(f"{path}: {len(problems)} bad line(s), e.g. {problems[0]}; "
                            f"`zidong data check` lists them")
        n = max(1, round(frac * len(samples)))
        keep = np.sort(np.random.default_rng([seed, k]).permutation(len(samples))[:n])
        for i in keep:
            s = samples[i]
            if s.id in seen:
                raise DataError(f"sample id {s.id!r} is in both {seen[s.id]} and {path}")
            seen[s.id] = path
            mixed.append(rebase(s, path, folder))
        counts[str(path)] = {"taken": int(n), "of": len(samples)}
    write_manifest(out, mixed)
    return {"out": str(out), "samples": len(mixed), "from": counts, "seed": seed}
