"""``zidong data check``: validate a manifest and describe what it holds."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from zidong.data.manifest import Problem, read_manifest, resolve


def _image_size(path: Path) -> tuple[int, int, str]:
    from PIL import Image
    with Image.open(path) as img:
        img.verify()  # checks the file's integrity without decoding all pixels
    with Image.open(path) as img:
        return img.size[0], img.size[1], img.mode


def _audio_info(path: Path) -> tuple[float, int, int]:
    import soundfile as sf
    info = sf.info(str(path))
    return info.frames / info.samplerate, info.samplerate, info.channels


def check_manifest(path: str | Path) -> tuple[dict, list[Problem]]:
    """Counts per modality combination / language / image size / audio format, duration
    statistics, and every problem with its line number."""
    path = Path(path)
    samples, problems = read_manifest(path)
    combos, langs, sizes, modes, formats = Counter(), Counter(), Counter(), Counter(), Counter()
    durations = []
    for s in samples:
        combos[s.combination()] += 1
        langs[s.lang or "-"] += 1
        if s.text is not None and not s.text.strip():
            problems.append(Problem(str(path), s.line, "text is empty or whitespace only"))
        for key in ("image", "audio"):
            rel = getattr(s, key)
            if rel is None:
                continue
            file = resolve(path, rel)
            if not file.is_file():
                problems.append(Problem(str(path), s.line, f"{key} file not found: {file}"))
                continue
            try:
                if key == "image":
                    w, h, mode = _image_size(file)
                    sizes[f"{w}x{h}"] += 1
                    modes[mode] += 1
                else:
                    seconds, sr, ch = _audio_info(file)
                    if seconds <= 0:
                        raise ValueError("no samples")
                    durations.append(seconds)
                    formats[f"{sr} Hz, {ch} ch"] += 1
            except Exception as e:  # any decoder error is a problem of this line, not a crash
                problems.append(Problem(str(path), s.line, f"unreadable {key} {file}: {e}"))
    problems.sort(key=lambda p: p.line)
    d = np.asarray(durations) if durations else np.zeros(1)
    summary = {
        "manifest": str(path), "samples": len(samples), "problems": len(problems),
        "combinations": dict(combos.most_common()), "languages": dict(langs.most_common()),
        "image_sizes": dict(sizes.most_common()), "image_modes": dict(modes.most_common()),
        "audio_formats": dict(formats.most_common()),
        "audio_seconds": {"count": len(durations), "mean": round(float(d.mean()), 3),
                          "p95": round(float(np.percentile(d, 95)), 3),
                          "max": round(float(d.max()), 3), "total": round(float(d.sum()), 1)},
    }
    return summary, problems


def format_check(summary: dict, problems: list[Problem]) -> str:
    lines = [f"{summary['manifest']}: {summary['samples']} usable line(s), "
             f"{summary['problems']} problem(s)"]
    for key in ("combinations", "languages", "image_sizes", "image_modes", "audio_formats"):
        if summary[key]:
            lines.append(f"{key.replace('_', ' ')}: " +
                         ", ".join(f"{k} {v}" for k, v in summary[key].items()))
    a = summary["audio_seconds"]
    if a["count"]:
        lines.append(f"audio seconds: mean {a['mean']}, p95 {a['p95']}, max {a['max']}, "
                     f"total {a['total']}")
    lines += [str(p) for p in problems]
    return "\n".join(lines)
