"""``zidong export`` (a run -> MINDIR folder) and ``zidong infer`` (any task from that folder
alone). ``infer`` imports only the runtime, never the model classes."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from zidong.tasks.cli import add_input_args, init_cpu
from zidong.tasks.generate import check_inputs
from zidong.tasks.spec import CONDITION

INFER_TASKS = ("retrieve",) + tuple(CONDITION)
MODALITY_OF = {"text": "text", "image": "image", "audio": "speech"}


def _fail(e: Exception) -> int:
    print(f"zidong: {e}", file=sys.stderr)
    return 2


def cmd_export(args) -> int:
    from zidong.export.exporter import export_other, export_run
    init_cpu(args.ckpt)
    tasks = args.tasks.split(",") if args.tasks else None
    try:
        if args.format != "MINDIR":
            if tasks and tasks != ["retrieve"]:
                raise ValueError(f"--format {args.format} exports the embedders only "
                                 f"(--tasks retrieve)")
            print(json.dumps(export_other(args.ckpt, args.out, args.format, args.batch), indent=1))
            return 0
        info = export_run(args.ckpt, args.out, tasks)
    except (ValueError, FileNotFoundError) as e:
        return _fail(e)
    print(json.dumps({"out": str(args.out), "tasks": info["tasks"],
                      "graphs": {k: v["file"] for k, v in info["graphs"].items()},
                      "not_exported": info["not_exported"]}, indent=1))
    return 0


def infer(task: str, mindir, out, text=None, image=None, audio=None, lang: str = "en",
          seed: int = 0, temperature: float = 1.0, top_k: int = 0, beam_size: int = 4,
          data=None, target: str | None = None, top: int = 10, rerank: int = 0,
          i2s_via: str = "caption", ctc_weight: float | None = None) -> dict:
    """What ``zidong generate`` does, from an export folder; plus ``retrieve`` (a query against
    the samples of a manifest). Writes the same files as ``generate`` and ``infer.json``."""
    from zidong.export.infer import MindirEngine
    from zidong.tasks.generate import write_output
    given = {"text": text, "image": image, "audio": audio}
    check_inputs(task, given)
    if task == "retrieve" and not (data and target):
        raise ValueError("task retrieve needs --data (the candidates' manifest) and --target")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    engine = MindirEngine(mindir, batch_size=1)
    engine.i2s_via = i2s_via
    if ctc_weight is not None:
        engine.ctc_weight = ctc_weight
    engine.bundle.require(task)
    batch = engine.batch_of(text, image, audio, lang)
    record = {"task": task, "mindir": str(mindir),
              "inputs": {k: v for k, v in given.items() if v}, "lang": lang}
    if task == "retrieve":
        source = MODALITY_OF[next(a for a, v in given.items() if v)]
        ranked = engine.retrieve(batch, source, data, target, top, rerank)
        (out / "ranking.json").write_text(json.dumps(ranked, indent=1, ensure_ascii=False))
        record.update(output=str(out / "ranking.json"), data=str(data), target=target,
                      ranking=[r["id"] for r in ranked])
    else:
        record.update(write_output(engine, batch, task, out, lang, seed, temperature, top_k,
                                   beam_size))
    (out / "infer.json").write_text(json.dumps(record, indent=1, ensure_ascii=False))
    return record


def cmd_infer(args) -> int:
    init_cpu()
    try:
        record = infer(args.task, args.mindir, args.out, args.text, args.image, args.audio,
                       args.lang, args.seed, args.temperature, args.top_k, args.beam, args.data,
                       args.target, args.top, args.rerank, args.i2s_via, args.ctc_weight)
    except (ValueError, FileNotFoundError) as e:  # BundleError and DataError are ValueErrors
        return _fail(e)
    print(json.dumps(record, indent=1, ensure_ascii=False))
    return 0


def _checkpoint_path(path):
    from zidong.eval.load import resolve_checkpoint
    return resolve_checkpoint(path)


def cmd_ckpt_list(args) -> int:
    from zidong.export.checkpoint_tools import list_tensors
    try:
        info = list_tensors(_checkpoint_path(args.ckpt))
    except (ValueError, FileNotFoundError) as e:
        return _fail(e)
    rows = [r for r in info["tensors"] if args.all or r[0].startswith("model.")]
    for name, shape, dtype in rows:
        print(f"{name}\t{shape}\t{dtype}")
    print(f"# {len(rows)} of {len(info['tensors'])} tensors shown (--all: optimizer state too); "
          f"{info['parameters']} values in all; meta {json.dumps(info['meta'])}")
    return 0


def cmd_ckpt_convert(args) -> int:
    from zidong.export.checkpoint_tools import convert
    try:
        print(json.dumps(convert(_checkpoint_path(args.src), args.dst)))
    except (ValueError, FileNotFoundError) as e:
        return _fail(e)
    return 0


def cmd_ckpt_check(args) -> int:
    """Exit 0 if the checkpoint fits the config exactly, 1 with the report if not."""
    from zidong.config import load_config
    from zidong.export.checkpoint_tools import load_into
    from zidong.models import create_model
    init_cpu()
    cfg = load_config(args.config, args.overrides)
    try:
        report = load_into(create_model(cfg.model), _checkpoint_path(args.ckpt),
                           allow_partial=True)
    except (ValueError, FileNotFoundError) as e:
        return _fail(e)
    print(report.text())
    return 0 if report.exact else 1


def add_export_parsers(sub) -> None:
    p = sub.add_parser("export", help="export a run's inference graphs to MINDIR (+ export.json)")
    p.add_argument("--ckpt", required=True, help="run folder or checkpoint file")
    p.add_argument("--out", required=True, help="folder for the MINDIR files")
    p.add_argument("--tasks", default=None, help="comma-separated subset of "
                   f"{','.join(INFER_TASKS)} (default: all)")
    p.add_argument("--format", default="MINDIR", choices=("MINDIR", "ONNX", "AIR"),
                   help="ONNX / AIR: the three embedders only, at a static --batch")
    p.add_argument("--batch", type=int, default=1, help="ONNX / AIR: the fixed batch size")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("infer", help="run a task from an export folder only (no checkpoint)")
    p.add_argument("--mindir", required=True, help="folder written by `zidong export`")
    p.add_argument("--task", required=True, choices=INFER_TASKS)
    add_input_args(p)
    p.add_argument("--data", default=None, help="retrieve: manifest of the candidates")
    p.add_argument("--target", default=None, choices=("text", "image", "speech"),
                   help="retrieve: the candidates' modality")
    p.add_argument("--top", type=int, default=10, help="retrieve: how many to list")
    p.add_argument("--rerank", type=int, default=0, metavar="K",
                   help="retrieve: re-order the first K with the matching head")
    p.set_defaults(func=cmd_infer)

    p = sub.add_parser("ckpt", help="checkpoint tools: list tensors, convert .ckpt <-> "
                       ".safetensors, check a checkpoint against a config")
    ck = p.add_subparsers(dest="ckpt_command", required=True)
    q = ck.add_parser("list", help="tensor names, shapes and dtypes")
    q.add_argument("ckpt", help="run folder or checkpoint file")
    q.add_argument("--all", action="store_true", help="optimizer state too")
    q.set_defaults(func=cmd_ckpt_list)
    q = ck.add_parser("convert", help="convert between .ckpt and .safetensors (by suffix), "
                      "checked bit-exact")
    q.add_argument("src")
    q.add_argument("dst")
    q.set_defaults(func=cmd_ckpt_convert)
    q = ck.add_parser("check", help="which tensors of a checkpoint fit a (different) config: "
                      "missing, unexpected, shape mismatches (exit 1 unless all fit)")
    q.add_argument("ckpt")
    q.add_argument("--config", default="small")
    q.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    q.set_defaults(func=cmd_ckpt_check)
