"""The ``zidong`` command line."""
from __future__ import annotations

import argparse
import sys

from zidong import __version__
from zidong.config import ConfigError, load_config
from zidong.data.manifest import DataError


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="small", help="preset name (tiny, small, base, large, xl) "
                   "or a YAML file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set model.fusion.layers=4 (repeatable)")


def cmd_version(args) -> int:
    import mindspore
    print(f"zidong {__version__} (mindspore {mindspore.__version__})")
    return 0


def cmd_plan(args) -> int:
    from zidong.parallel.plan import make_plan, plan_text, violation_text
    from zidong.plan import plan_report
    cfg = load_config(args.config, args.overrides)
    plan = make_plan(cfg)
    print(plan_report(cfg))
    print()
    print(plan_text(plan))
    if not plan.ok:
        print(f"zidong: {args.config}: invalid parallel layout\n{violation_text(plan)}",
              file=sys.stderr)
        return 1
    return 0


def cmd_data_check(args) -> int:
    from zidong.data.check import check_manifest, format_check
    summary, problems = check_manifest(args.manifest)
    print(format_check(summary, problems))
    return 1 if problems else 0


def cmd_data_build(args) -> int:
    import json
    from pathlib import Path

    from zidong.data.corpus.build import build_corpus
    from zidong.data.tokenizer import train_on_manifest
    info = build_corpus(args.out, size=args.size, seed=args.seed, langs=tuple(args.langs.split(",")),
                        eval_size=args.eval_size, photo_size=args.photo_size,
                        weak_fraction=args.weak_fraction, workers=args.workers)
    tok = train_on_manifest(Path(args.out) / "train.jsonl", args.vocab_size)
    tok.save(Path(args.out) / "tokenizer.model")
    print(json.dumps(info, indent=1, ensure_ascii=False))
    print(f"tokenizer: {tok.vocab_size} pieces -> {Path(args.out) / 'tokenizer.model'}")
    return 0


def cmd_data_fashion(args) -> int:
    import json

    from zidong.data.fashion_mnist import import_fashion_mnist
    info = import_fashion_mnist(args.out, limit=args.limit, langs=tuple(args.langs.split(",")),
                                seed=args.seed)
    print(json.dumps(info, indent=1, ensure_ascii=False))
    return 0


def cmd_data_import_folder(args) -> int:
    import json

    from zidong.data.folder import import_folder
    print(json.dumps(import_folder(args.folder, args.out, args.lang), indent=1, ensure_ascii=False))
    return 0


def cmd_data_pack(args) -> int:
    from zidong.data.sources import pack_mindrecord
    info = pack_mindrecord(args.manifest, args.out, strict=args.strict)
    for p in info["manifest_problems"]:
        print(p, file=sys.stderr)
    print(f"packed {info['samples']} samples -> {info['out']}")
    return 0


def cmd_data_tokenizer(args) -> int:
    from zidong.data.manifest import read_manifest
    from zidong.data.tokenizer import Tokenizer
    texts = [s.text for m in args.manifests for s in read_manifest(m)[0] if s.text]
    tok = Tokenizer.train(texts, args.vocab_size)
    print(f"tokenizer: {tok.vocab_size} pieces from {len(texts)} texts -> {tok.save(args.out)}")
    return 0


def cmd_data_subset(args) -> int:
    import json

    from zidong.data.manifest import DataError
    from zidong.data.subset import subset_manifests
    try:
        result = subset_manifests(args.inputs, args.out_dir, tuple(args.keep.split(",")),
                                  tuple(r for r in args.require.split(",") if r), args.label,
                                  args.drop_meta)
    except (DataError, FileNotFoundError) as e:
        print(f"zidong: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


def cmd_data_mix(args) -> int:
    import json

    from zidong.data.manifest import DataError
    from zidong.data.mix import mix_manifests, parse_take
    try:
        result = mix_manifests(args.out, [parse_take(t) for t in args.take], args.seed)
    except (DataError, FileNotFoundError) as e:
        print(f"zidong: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1))
    return 0


def cmd_data_align(args) -> int:
    import json

    from zidong.data.align import align_manifest
    from zidong.data.manifest import DataError
    try:
        result = align_manifest(args.data, args.out)
    except (DataError, FileNotFoundError, ImportError) as e:
        print(f"zidong: {e}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


def cmd_data_vqa(args) -> int:
    import json

    from zidong.data.corpus.vqa import make_vqa_manifest
    lang = None if args.lang == "each" else args.lang
    print(json.dumps(make_vqa_manifest(args.data, args.out, args.per_sample, args.seed, lang,
                                       spoken=args.speak, workers=args.workers),
                     indent=1, ensure_ascii=False))
    return 0


def cmd_data_bench(args) -> int:
    import json

    from zidong.data.tokenizer import tokenizer_for
    from zidong.runtime import init_env
    from zidong.train.data_bench import bench_data
    cfg = load_config(args.config, args.overrides)
    init_env(cfg.context)
    tok = tokenizer_for(args.data, cfg.model.text.vocab_size, args.tokenizer)
    result = bench_data(args.data, cfg, tok, steps=args.steps)
    print(json.dumps(result))
    return 0


def cmd_pretrain(args) -> int:
    from zidong.train.pretrain import run_pretrain
    result = run_pretrain(args.config, args.overrides, args.data, args.stage, args.run_dir,
                          args.resume, args.vq_ckpt, args.init_from, args.stop_at)
    main = result.get("main", {})
    print(f"run: {result['run_dir']}")
    if "vq" in result:
        print(f"VQ tokenizer: {result['vq']['checkpoint']} (reconstructions: {result['vq']['grid']})")
    if main:
        print(f"checkpoint: {main['checkpoint']}\ncurves: {main['curves']}")
    return 0


def cmd_eval(args) -> int:
    import json
    from pathlib import Path

    from zidong.eval.run import run_eval
    from zidong.tasks.cli import init_cpu
    init_cpu(args.ckpt)
    metrics = run_eval(args.ckpt, args.data, args.tasks.split(","), Path(args.out),
                       candidates=args.candidates, limit=args.limit,
                       image_scorer=args.image_scorer, speech_scorer=args.speech_scorer,
                       seed=args.seed, beam_size=args.beam, rerank=args.rerank,
                       temperature=args.temperature, top_k=args.top_k, i2s_via=args.i2s_via,
                       ctc_weight=args.ctc_weight)
    print(json.dumps(metrics, indent=1))
    return 0


def cmd_bench_pretrain(args) -> int:
    from pathlib import Path

    from zidong.train.bench import bench_pretrain
    results = bench_pretrain(args.minutes, args.vq_minutes, args.variants.split(","),
                             Path(args.runs), Path(args.doc), reuse=args.reuse, steps=args.steps)
    print(f"wrote {args.doc} ({len(results)} variant(s))")
    return 0


def cmd_merge_ckpt(args) -> int:
    import json

    from zidong.parallel.merge import merge_run
    print(json.dumps(merge_run(args.run_dir, args.out, args.step, args.atol), indent=1))
    return 0


def _add_run_parsers(sub) -> None:
    from zidong.tasks.cli import add_decoding_args
    p = sub.add_parser("merge-ckpt", help="one checkpoint from a distributed run's rank_N/ "
                       "checkpoints (for eval, export, --init-from, another device count)")
    p.add_argument("run_dir")
    p.add_argument("--out", default=None, help="default: RUN_DIR/merged/step_N.safetensors")
    p.add_argument("--step", type=int, default=None, help="default: the latest step of all ranks")
    p.add_argument("--atol", type=float, default=0.0,
                   help="largest difference allowed between data-parallel replicas")
    p.set_defaults(func=cmd_merge_ckpt)
    p = sub.add_parser("bench-pretrain", help="the embedded default under a time budget, "
                       "evaluated, with level ablations -> docs/results.md")
    p.add_argument("--minutes", type=float, default=30.0, help="main-stage training budget")
    p.add_argument("--steps", type=int, default=None, help="instead of --minutes: this many "
                   "main-stage steps per variant, so that an ablation compares equal updates "
                   "whatever the machine's speed at each variant's hour")
    p.add_argument("--vq-minutes", type=float, default=None,
                   help="VQ-stage training budget (default: the preset's train.vq.max_minutes)")
    p.add_argument("--variants", default="full,no_sample_level,no_token_level")
    p.add_argument("--runs", default="runs/bench")
    p.add_argument("--doc", default="docs/results.md")
    p.add_argument("--reuse", action="store_true", help="keep the VQ stage and the variants "
                   "already measured in RUNS/bench.json; run only the missing ones")
    p.set_defaults(func=cmd_bench_pretrain)
    p = sub.add_parser("pretrain", help="three-level self-supervised pretraining (no arguments: "
                       "built-in corpus, VQ stage, small preset on CPU)")
    _add_config_args(p)
    p.add_argument("--data", default=None, help="training manifest (default: the built-in corpus)")
    p.add_argument("--stage", choices=["vq", "main", "all"], default="all")
    p.add_argument("--run-dir", default=None)
    p.add_argument("--resume", default=None, metavar="RUN_DIR", help="continue a run exactly")
    p.add_argument("--vq-ckpt", default=None, help="a trained VQ tokenizer (skips stage 0)")
    p.add_argument("--init-from", default=None, metavar="RUN", help="start from a run's weights")
    p.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                   help="stop at this step as if interrupted (the schedule is unchanged)")
    p.set_defaults(func=cmd_pretrain)
    p = sub.add_parser("eval", help="evaluate a run on a manifest")
    p.add_argument("--ckpt", required=True, help="run folder or checkpoint file")
    p.add_argument("--data", required=True)
    p.add_argument("--tasks", default="retrieval",
                   help="comma-separated: retrieval, caption, asr, vqa, t2i, s2i, t2s, i2s")
    p.add_argument("--out", required=True)
    p.add_argument("--candidates", type=int, default=500)
    p.add_argument("--limit", type=int, default=None,
                   help="at most this many samples per generation task")
    p.add_argument("--image-scorer", default=None, help="a scorer from `zidong scorer train` "
                   "(t2i / s2i attribute accuracy)")
    p.add_argument("--speech-scorer", action="store_true",
                   help="score English generated speech with PocketSphinx (t2s / i2s WER)")
    add_decoding_args(p)
    p.add_argument("--rerank", type=int, default=0, metavar="K", help="re-rank each retrieval "
                   "query's top K with the fusion's matching head (cross-encoder); 0: off")
    p.set_defaults(func=cmd_eval)


def _add_data_parsers(sub) -> None:
    data = sub.add_parser("data", help="data sets: build, check, pack, bench").add_subparsers(
        dest="data_command", required=True)
    p = data.add_parser("check", help="validate a manifest and describe it")
    p.add_argument("manifest")
    p.set_defaults(func=cmd_data_check)
    p = data.add_parser("build", help="generate the built-in tri-shapes corpus")
    p.add_argument("--out", required=True)
    p.add_argument("--size", type=int, default=5000, help="training samples")
    p.add_argument("--eval-size", type=int, default=500, help="samples per evaluation split")
    p.add_argument("--photo-size", type=int, default=1000, help="Tux Paint photo samples")
    p.add_argument("--weak-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--langs", default="en,zh")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--vocab-size", type=int, default=4000, help="upper bound for the tokenizer")
    p.set_defaults(func=cmd_data_build)
    p = data.add_parser("import-fashion-mnist", help="Fashion-MNIST (Debian package) as a manifest")
    p.add_argument("--out", required=True)
    p.add_argument("--limit", type=int, default=None, help="max samples per split")
    p.add_argument("--langs", default="en,zh")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_data_fashion)
    p = data.add_parser("import-folder", help="a folder of image/.txt/audio files paired by name")
    p.add_argument("folder")
    p.add_argument("--out", required=True, help="manifest to write (.jsonl)")
    p.add_argument("--lang", default=None, help="language of all captions (default: detect)")
    p.set_defaults(func=cmd_data_import_folder)
    p = data.add_parser("pack", help="pack a manifest and its media into one MindRecord file")
    p.add_argument("manifest")
    p.add_argument("--out", required=True)
    p.add_argument("--strict", action="store_true", help="fail on the first bad manifest line")
    p.set_defaults(func=cmd_data_pack)
    p = data.add_parser("tokenizer", help="train the subword tokenizer on manifests' texts")
    p.add_argument("manifests", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--vocab-size", type=int, default=4000)
    p.set_defaults(func=cmd_data_tokenizer)
    p = data.add_parser("vqa", help="visual questions with one-word answers from the scene "
                        "graphs of a corpus manifest (EN/ZH)")
    p.add_argument("--data", required=True, help="a manifest whose samples have meta.scene")
    p.add_argument("--out", required=True, help="the VQA manifest to write")
    p.add_argument("--per-sample", type=int, default=None, help="questions per image (default: all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lang", default="each", help="en, zh, or each (the sample's own language)")
    p.add_argument("--speak", action="store_true", help="spoken questions (espeak-ng / flite, "
                   "the corpus's voices) for VQA from speech: WAVs beside the manifest, no text")
    p.add_argument("--workers", type=int, default=2, help="processes speaking (--speak)")
    p.set_defaults(func=cmd_data_vqa)
    p = data.add_parser("align", help="word times of English recordings (PocketSphinx forced "
                        "alignment) into meta.words")
    p.add_argument("data", help="manifest")
    p.add_argument("--out", required=True, help="the manifest written, with meta.words")
    p.set_defaults(func=cmd_data_align)
    p = data.add_parser("mix", help="one manifest from several, each at its own fraction "
                        "(e.g. new data plus a replay of the original)")
    p.add_argument("--take", action="append", required=True, metavar="MANIFEST[=FRACTION]",
                   help="a manifest and the fraction of it to take (default 1); repeatable")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_data_mix)
    p = data.add_parser("subset", help="manifests derived from others: some modalities, samples "
                        "that have one, a label from meta (e.g. for classification)")
    p.add_argument("inputs", nargs="+", help="manifests; each is written to OUT_DIR/<its name>")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--keep", default="text,image,audio", help="modalities to keep")
    p.add_argument("--require", default="", help="drop samples without these modalities")
    p.add_argument("--label", default="keep",
                   help="keep, none, or meta:KEY[+KEY...] (dotted meta paths, summed)")
    p.add_argument("--drop-meta", action="store_true", help="write every sample's meta as {}")
    p.set_defaults(func=cmd_data_subset)
    p = data.add_parser("bench", help="pipeline vs model throughput (samples/s)")
    p.add_argument("--data", required=True, help="manifest or packed MindRecord")
    p.add_argument("--tokenizer", default=None)
    p.add_argument("--steps", type=int, default=10)
    _add_config_args(p)
    p.set_defaults(func=cmd_data_bench)


def cmd_scorer_train(args) -> int:
    from zidong.config import ContextConfig
    from zidong.eval.scorer_net import DEFAULT_CONFIG, NET_CONFIGS, SCORER_CPU_ISA
    from zidong.eval.scorer_train import format_reports, train_scorer
    from zidong.runtime import init_env
    from zidong.train.pretrain import cache_dir
    if args.net is not None and args.net not in NET_CONFIGS:
        print(f"zidong: scorer train --net {args.net}: expected one of {sorted(NET_CONFIGS)}",
              file=sys.stderr)
        return 2
    config = NET_CONFIGS[args.net] if args.net else DEFAULT_CONFIG
    init_env(ContextConfig(seed=args.seed, cpu_isa=SCORER_CPU_ISA))
    corpus = args.corpus or cache_dir() / "corpus"   # scored if built; never built from here
    info = train_scorer(args.out, steps=args.steps, minutes=args.minutes, seed=args.seed,
                        batch=args.batch, workers=args.workers, corpus=corpus,
                        config=config)
    reports = {f"heldout.{k}": v for k, v in info["heldout"].items()}
    reports.update(info["corpus"])
    print(format_reports(reports))
    print(f"scorer: {info['path']}")
    return 0


def cmd_scorer_eval(args) -> int:
    from zidong.config import ContextConfig
    from zidong.eval.image_scorer import Scorer
    from zidong.eval.scorer_net import SCORER_CPU_ISA
    from zidong.eval.scorer_train import format_reports, manifest_report
    from zidong.runtime import init_env
    init_env(ContextConfig(cpu_isa=SCORER_CPU_ISA))
    try:
        report = manifest_report(Scorer.load(args.scorer), args.data)
    except (FileNotFoundError, ValueError) as e:
        print(f"zidong: {e}", file=sys.stderr)
        return 2
    print(format_reports({args.data: report}))
    return 0


def _add_scorer_parsers(sub) -> None:
    scorer = sub.add_parser("scorer", help="the independent image attribute scorer (reads a "
                            "scene back from an image)").add_subparsers(dest="scorer_command",
                                                                        required=True)
    p = scorer.add_parser("train", help="train on scenes rendered on the fly; writes "
                          "OUT/scorer.safetensors and OUT/scorer.json (held-out accuracy)")
    p.add_argument("--out", required=True, help="folder for the scorer")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--minutes", type=float, default=None,
                   help="training time budget (default 10 when --steps is not given either)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--workers", type=int, default=None, help="render processes (default: cores - 1)")
    p.add_argument("--net", default=None, help="merge or conv (default: the one "
                   "zidong/eval/scorer_net.py measured best, DEFAULT_CONFIG)")
    p.add_argument("--corpus", default=None, help="corpus folder whose test splits are scored "
                   "(default: the built-in corpus in the cache, if built)")
    p.set_defaults(func=cmd_scorer_train)
    p = scorer.add_parser("eval", help="per-attribute accuracy on a manifest's images (meta.scene)")
    p.add_argument("--scorer", required=True, help="scorer folder or .safetensors file")
    p.add_argument("--data", required=True, help="manifest whose samples carry meta.scene")
    p.set_defaults(func=cmd_scorer_eval)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zidong", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print versions").set_defaults(func=cmd_version)
    p = sub.add_parser("plan", help="parameter count per component, parallel layout checked "
                       "against the device mesh, memory per device (exit 1 if a rule fails)")
    _add_config_args(p)
    p.set_defaults(func=cmd_plan)
    _add_data_parsers(sub)
    _add_run_parsers(sub)
    _add_scorer_parsers(sub)
    from zidong.tasks.cli import add_task_parsers
    add_task_parsers(sub)
    from zidong.export.cli import add_export_parsers
    add_export_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"zidong: config error: {e}", file=sys.stderr)
        return 2
    except DataError as e:
        print(f"zidong: data error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
