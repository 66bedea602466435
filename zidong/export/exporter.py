"""``export_run``: a pretraining run -> one MINDIR per inference graph, the tokenizer and
``export.json`` (see ``bundle``)."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import mindspore as ms

from zidong import __version__
from zidong.audio.features import LOG_MEL_FLOOR, LOG_MEL_MEAN, LOG_MEL_STD
from zidong.config.special_tokens import BOS_ID, EOS_ID, LANG_IDS, LANG_INDEX, PAD_ID
from zidong.eval.load import load_ctc, load_matching, load_run, resolve_checkpoint
from zidong.export.bundle import (FORMAT_VERSION, MANIFEST, TASK_GRAPHS, TASKS, TOKENIZER,
                                  file_record)
from zidong.export.graphs import graph_specs, input_placeholders
from zidong.integrity import sha256_file


def _replace(path: Path) -> None:
    """MindSpore writes its exports read-only (0400): make room for a new one."""
    if path.exists():
        os.chmod(path, 0o600)
        path.unlink()


def _tensor_info(items) -> list[dict]:
    return [{"name": n, "shape": [None, *shape], "dtype": dtype} for n, shape, dtype in items]


def preprocessing(cfg) -> dict:
    """What a runtime in another language needs to prepare inputs as training did."""
    m, d = cfg.model, cfg.data
    sc = m.speech
    return {
        "text": {"tokenizer": TOKENIZER, "kind": "sentencepiece (CJK characters split apart "
                 "before encoding)", "max_len": m.text.max_len, "pad_id": PAD_ID, "bos_id": BOS_ID,
                 "eos_id": EOS_ID, "decoder_start_ids": LANG_IDS,
                 "encoder_input": "ids padded with pad_id to max_len, mask 1 for real tokens"},
        "image": {"size": m.vision.image_size, "channels": m.vision.channels, "layout": "NCHW RGB",
                  "resize": "bicubic to size x size", "normalise": "(x / 255 - mean) / std",
                  "mean": d.image_mean, "std": d.image_std},
        "speech": {"sample_rate": sc.sample_rate, "n_mels": sc.n_mels, "n_fft": sc.n_fft,
                   "hop_length": sc.hop_length, "win_length": sc.win_length, "power": 2.0,
                   "log": f"natural log of max(mel, {float(1e-5)})", "max_frames": sc.max_frames,
                   "pad_value": LOG_MEL_FLOOR, "normalise": "(log_mel - mean) / std",
                   "mean": LOG_MEL_MEAN, "std": LOG_MEL_STD, "lang_index": LANG_INDEX,
                   "vocoder": "Griffin-Lim, 32 iterations, seed 0 (zidong.audio.mel_to_audio)"},
    }


def _graphs_for(tasks) -> list[str]:
    names = []
    for t in tasks:
        names += [g for g in TASK_GRAPHS[t] if g not in names]
    return names


def export_run(run, out, tasks=None, log=sys.stderr) -> dict:
    """Export the graphs ``tasks`` need (default: every task) to ``out``; returns export.json's
    content. The batch dimension is dynamic (measured to work on the CPU with MindSpore 2.10)."""
    tasks = list(tasks or TASKS)
    unknown = [t for t in tasks if t not in TASK_GRAPHS]
    if unknown:
        raise ValueError(f"unknown task(s) {', '.join(unknown)}; available: {', '.join(TASKS)}")
    ckpt = resolve_checkpoint(run)
    model, cfg, tokenizer, meta = load_run(ckpt)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs = graph_specs(cfg.model)
    names = _graphs_for(tasks)
    skipped = {}
    heads = {"match": None, "ctc": None}
    if "retrieve" in tasks:
        try:
            heads["match"] = load_matching(ckpt, cfg.model.unified_dim)
            names.append("match")
        except ValueError as e:
            skipped["match"] = str(e)
    if "asr" in tasks:   # joint CTC/attention recognition, when the run trained the ctc head
        try:
            heads["ctc"] = load_ctc(ckpt, cfg)
            names.append("ctc")
        except ValueError as e:
            skipped["ctc"] = str(e)
    _replace(out / MANIFEST)  # a half-written folder is then never mistaken for a complete one
    graphs = {}
    for name in names:
        spec = specs[name]
        net = spec.build(model, heads)
        net.set_train(False)
        path = out / f"{name}.mindir"
        _replace(path)
        print(f"export: {name} -> {path}", file=log)
        ms.export(net, *input_placeholders(spec), file_name=str(out / name), file_format="MINDIR")
        os.chmod(path, 0o644)
        graphs[name] = {**file_record(path), "what": spec.what, "inputs": _tensor_info(spec.inputs),
                        "outputs": _tensor_info(spec.outputs)}
    tok = out / TOKENIZER
    _replace(tok)
    tokenizer.save(tok)
    info = {
        "format_version": FORMAT_VERSION, "zidong": __version__, "mindspore": ms.__version__,
        "format": "MINDIR", "batch": "dynamic (null in shapes)",
        "source": {"checkpoint": str(ckpt.resolve()), "sha256": sha256_file(ckpt),
                   "step": meta.get("step"), "config": meta["config"].get("name")},
        "tasks": [t for t in tasks if all(g in graphs for g in TASK_GRAPHS[t])],
        "graphs": graphs, "not_exported": skipped,
        "tokenizer": file_record(tok), "preprocessing": preprocessing(cfg),
        "config": meta["config"],
    }
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(info, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(out / MANIFEST)
    return info


EMBEDDERS = ("text_embed", "image_embed", "speech_embed")


def export_other(run, out, fmt: str, batch: int = 1, log=sys.stderr) -> dict:
    """The three embedders as ONNX (static shapes: ``batch`` rows) or AIR (Ascend only).

    MindSpore 2.10 refuses AIR off Ascend, and its ONNX exporter has no Erf (the exact GELU every
    zidong transformer uses): both are reported as errors naming the graph and MindSpore's reason,
    never written as half an export."""
    fmt = fmt.upper()
    if fmt not in ("ONNX", "AIR"):
        raise ValueError(f"format {fmt!r}: export_other writes ONNX or AIR (MINDIR: export_run)")
    device = ms.get_context("device_target")
    if fmt == "AIR" and device != "Ascend":
        raise ValueError(f"AIR export needs an Ascend device; this process runs on {device} "
                         f"(MindSpore: \"Only support export file in 'AIR' format with Ascend "
                         f"backend.\"). Export MINDIR and convert it for Ascend with "
                         f"converter_lite (docs/deploy.md)")
    ckpt = resolve_checkpoint(run)
    model, cfg, _, _ = load_run(ckpt)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    specs = graph_specs(cfg.model)
    files = {}
    for name in EMBEDDERS:
        net = specs[name].build(model, {})
        net.set_train(False)
        suffix = ".onnx" if fmt == "ONNX" else ".air"
        _replace(out / (name + suffix))
        print(f"export: {name} -> {out / (name + suffix)}", file=log)
        try:
            ms.export(net, *input_placeholders(specs[name], batch), file_name=str(out / name),
                      file_format=fmt)
        except (RuntimeError, ValueError, TypeError) as e:
            reason = str(e).strip().splitlines()[0]
            raise ValueError(f"{fmt} export of {name} failed in MindSpore {ms.__version__}: "
                             f"{reason}") from None
        files[name] = {**file_record(out / (name + suffix)), "batch": batch,
                       "inputs": _tensor_info(specs[name].inputs)}
    info = {"format": fmt, "source": str(ckpt.resolve()), "graphs": files}
    (out / f"export_{fmt.lower()}.json").write_text(json.dumps(info, indent=1))
    return info
