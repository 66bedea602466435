"""``zidong generate``: one task on one input (a text, an image file and/or a WAV file), written to
an output folder: ``output.txt`` for text tasks, ``image.png`` for t2i / s2i, ``speech.wav`` for
t2s / i2s, plus ``generate.json`` saying what was asked and from which checkpoint."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from zidong.tasks.spec import CONDITION, OUTPUT

# which argument carries each conditioning modality
ARGUMENT = {"text": "text", "image": "image", "speech": "audio"}


def check_inputs(task: str, given: dict) -> None:
    """Refuse a task given an input it does not use, or missing one it needs (named by its
    flag); ``retrieve`` takes exactly one query. Files must exist."""
    if task == "retrieve":
        if sum(bool(v) for v in given.values()) != 1:
            raise ValueError("task retrieve takes one query: --text, --image or --audio")
    else:
        needed = [ARGUMENT[m] for m in CONDITION[task]]
        missing = [f"--{a}" for a in needed if not given[a]]
        if missing:
            raise ValueError(f"task {task} needs {' and '.join(missing)}")
        extra = [f"--{a}" for a, v in given.items() if v and a not in needed]
        if extra:
            raise ValueError(f"task {task} does not use {' or '.join(extra)}")
    for a in ("image", "audio"):
        if given[a] and not Path(given[a]).is_file():
            raise FileNotFoundError(f"--{a} {given[a]}: no such file")


def save_png(path: Path, pixels: np.ndarray) -> Path:
    from PIL import Image
    Image.fromarray(pixels).save(path)
    return path


def save_wav(path: Path, wave: np.ndarray, sample_rate: int) -> Path:
    import soundfile as sf
    peak = float(np.abs(wave).max()) if wave.size else 0.0
    # Griffin-Lim output is not bounded: normalise so the 16-bit file does not clip
    sf.write(str(path), wave / peak * 0.9 if peak > 0 else wave, sample_rate, subtype="PCM_16")
    return path


def generate(task: str, ckpt, out, text: str | None = None, image: str | None = None,
             audio: str | None = None, lang: str = "en", seed: int = 0,
             temperature: float = 1.0, top_k: int = 0, beam_size: int = 4,
             i2s_via: str = "caption", ctc_weight: float | None = None) -> dict:
    if task not in CONDITION:
        raise ValueError(f"unknown task {task!r}; available: {', '.join(CONDITION)}")
    given = {"text": text, "image": image, "audio": audio}
    check_inputs(task, given)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    from zidong.tasks.engine import TaskEngine
    engine = TaskEngine(ckpt, batch_size=1)
    engine.i2s_via = i2s_via
    if ctc_weight is not None:
        engine.ctc_weight = ctc_weight
    batch = engine.batch_of(text, image, audio, lang)
    record = {"task": task, "checkpoint": str(ckpt), "step": engine.meta["step"],
              "inputs": {k: v for k, v in given.items() if v}, "lang": lang}
    record.update(write_output(engine, batch, task, out, lang, seed, temperature, top_k,
                               beam_size))
    (out / "generate.json").write_text(json.dumps(record, indent=1, ensure_ascii=False))
    return record


def write_output(runner, batch: dict, task: str, out: Path, lang: str, seed: int,
                 temperature: float, top_k: int, beam_size: int) -> dict:
    """Run one generation task on a one-sample batch with any ``TaskRunner`` (checkpoint or
    MINDIR) and write ``output.txt``, ``image.png`` or ``speech.wav``; returns what to record.
    ``lang`` chooses a caption's language and i2s's spoken one; other tasks use the input's."""
    kind = OUTPUT[task]
    if kind == "text":
        result = runner.text(batch, task, lang=lang if task == "caption" else None,
                             beam_size=beam_size)[0]
        (out / "output.txt").write_text(result + "\n", encoding="utf-8")
        record = {"output": str(out / "output.txt"), "text": result}
        if task == "asr":   # 0: the text decoder alone; else joint CTC/attention
            record["ctc_weight"] = runner.asr_ctc_weight()
        return record
    if kind == "image":
        pixels = runner.images(batch, task, temperature, top_k, seed)[0]
        return {"output": str(save_png(out / "image.png", pixels)), "seed": seed,
                "temperature": temperature, "top_k": top_k}
    said, mels = runner.spoken(batch, task, lang if task == "i2s" else None, beam_size)
    wave = runner.vocode(mels[0])
    sr = runner.cfg.model.speech.sample_rate
    return {"output": str(save_wav(out / "speech.wav", wave, sr)),
            "seconds": round(len(wave) / sr, 2),
            **({"said": said[0]} if said[0] is not None else {})}
