"""The task subcommands: ``zidong generate`` (one task on one input) and ``zidong finetune``."""
from __future__ import annotations

import json

from zidong.tasks.spec import ASR_CTC_WEIGHT, CONDITION, I2S_VIA, VQA_LIMIT


def init_cpu(ckpt=None) -> None:
    """This machine's CPU in graph mode; with ``ckpt``, under that run's oneDNN cap."""
    from zidong.config import ContextConfig
    from zidong.runtime import init_env
    if ckpt is None:
        init_env(ContextConfig())
    else:   # imported only here: ``zidong infer`` must not load the model classes
        from zidong.eval.load import run_context
        init_env(run_context(ckpt))


def cmd_generate(args) -> int:
    from zidong.tasks.generate import generate
    init_cpu(args.ckpt)
    record = generate(args.task, args.ckpt, args.out, args.text, args.image, args.audio,
                      args.lang, args.seed, args.temperature, args.top_k, args.beam,
                      args.i2s_via, args.ctc_weight)
    print(json.dumps(record, indent=1, ensure_ascii=False))
    return 0


def cmd_finetune(args) -> int:
    if args.task == "generation":
        return _finetune_generation(args)
    from zidong.tasks.classify import LR as CLASSIFY_LR
    from zidong.tasks.classify import finetune_classify
    if not args.data:
        import sys
        print("zidong: --task classify needs --data MANIFEST (with 'label' fields)", file=sys.stderr)
        return 2
    init_cpu()
    finetune_classify(args.data, args.run_dir, args.label_fraction, args.init_from, args.config,
                      args.overrides, args.eval_data, tuple(args.modalities.split(",")),
                      args.steps, args.minutes, args.batch_size or 32,
                      args.lr or CLASSIFY_LR, args.seed or 0)
    return 0


def _finetune_generation(args) -> int:
    import sys

    from zidong.tasks.finetune_generation import DECODERS, LR, finetune_generation
    decoders = tuple(d.strip() for d in args.decoders.split(",") if d.strip())
    if not decoders or not set(decoders) <= set(DECODERS):
        print(f"zidong: --decoders {args.decoders}: choose among {','.join(DECODERS)}",
              file=sys.stderr)
        return 2
    if not args.init_from:
        print("zidong: --task generation continues a pretraining run: pass --init-from RUN",
              file=sys.stderr)
        return 2
    # the options become overrides ahead of --set, which wins
    given = [f"train.batch_size={args.batch_size}"] if args.batch_size else []
    given += [f"context.seed={args.seed}"] if args.seed is not None else []
    result = finetune_generation(args.init_from, args.data, args.run_dir, args.steps,
                                 args.minutes, args.lr or LR, given + args.overrides,
                                 decoders=decoders)
    print(f"run: {result['run_dir']}\ncheckpoint: {result['main']['checkpoint']}")
    return 0


def cmd_bench_tasks(args) -> int:
    from pathlib import Path

    from zidong.tasks.bench import bench_tasks
    bench_tasks(args.pretrained, Path(args.out), Path(args.doc), args.scorer_steps,
                args.finetune_steps, args.finetune_minutes, args.photo_minutes, args.limit,
                args.vqa_minutes, args.vqa_limit, args.speech_steps, args.speech_minutes,
                args.asr_minutes)
    print(f"results: {args.doc} (section 'tasks')")
    return 0


def cmd_bench_labels(args) -> int:
    from pathlib import Path

    from zidong.tasks.bench_labels import bench_labels
    bench_labels(args.pretrained, Path(args.out), Path(args.doc), args.fmnist_limit,
                 args.fmnist_eval, args.pretrain_minutes, args.steps)
    print(f"results: {args.doc} (section 'labels')")
    return 0


def add_input_args(p) -> None:
    """The single-input options shared by ``zidong generate`` and ``zidong infer``."""
    p.add_argument("--text", default=None, help="text prompt (t2i, t2s), question (vqa) or "
                   "retrieval query")
    p.add_argument("--image", default=None, help="image file (caption, vqa, i2s)")
    p.add_argument("--audio", default=None, help="WAV file (asr, s2i)")
    p.add_argument("--lang", default="en", help="language of the text / speech, and of a caption")
    add_decoding_args(p)
    p.add_argument("--out", required=True)


def add_decoding_args(p) -> None:
    """How outputs are decoded, shared by ``zidong generate``, ``zidong infer`` and ``zidong eval``."""
    p.add_argument("--seed", type=int, default=0, help="image sampling seed (t2i, s2i)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="image code sampling temperature (t2i, s2i); 0: greedy")
    p.add_argument("--top-k", type=int, default=0,
                   help="sample image codes among the k most likely (t2i, s2i); 0: all")
    p.add_argument("--beam", type=int, default=4, help="beam size (caption, asr, vqa)")
    p.add_argument("--i2s-via", choices=I2S_VIA, default=I2S_VIA[0],
                   help="i2s: say the model's own caption of the image (t2s), or decode speech "
                        "from the image's memory directly")
    p.add_argument("--ctc-weight", type=float, default=None,
                   help=f"asr: weight of the speech encoder's CTC scores in joint CTC/attention "
                        f"beam search, for a run that trained the ctc head (default "
                        f"{ASR_CTC_WEIGHT}; 0: the text decoder alone)")


def add_task_parsers(sub) -> None:
    p = sub.add_parser("generate", help="one task on one input: caption, asr, vqa, t2i, s2i, "
                       "t2s, i2s")
    p.add_argument("--task", required=True, choices=sorted(CONDITION))
    p.add_argument("--ckpt", required=True, help="run folder or checkpoint file")
    add_input_args(p)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("finetune", help="task fine-tuning: classification with a fraction of "
                       "the labels, from a pretrained run or from scratch; or the generation "
                       "tasks (caption, asr, t2i, s2i, t2s, i2s) continued from a run")
    p.add_argument("--task", required=True, choices=["classify", "generation"])
    p.add_argument("--data", default=None, help="manifest (classify: with 'label' fields; "
                   "generation: default the run's own training data)")
    p.add_argument("--label-fraction", type=float, default=1.0)
    p.add_argument("--init-from", default=None, metavar="RUN", help="a pretraining run "
                   "(default: the same architecture from scratch, see --config)")
    p.add_argument("--config", default="small", help="architecture when training from scratch")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--eval-data", default=None, help="manifest to report cls.acc on")
    p.add_argument("--modalities", default="text,image,speech",
                   help="what the classifier may see, e.g. image")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--minutes", type=float, default=0.0, help="wall-clock budget (0: none)")
    p.add_argument("--batch-size", type=int, default=None,
                   help="default: classify 32, generation the run's own")
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate (default: classify 1e-4, generation 3e-4)")
    p.add_argument("--seed", type=int, default=None, help="default: classify 0, generation "
                   "the run's own")
    p.add_argument("--decoders", default="text,image,speech", help="generation: the decoders "
                   "to fine-tune, each on an equal share of the batch (e.g. text for VQA)")
    p.add_argument("--run-dir", required=True)
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("bench-tasks", help="issue 5's figures from a pretraining run: scorer, "
                       "generation fine-tuning, evaluation, photo-domain continuation "
                       "-> docs/results.md")
    p.add_argument("--pretrained", required=True, metavar="RUN", help="a pretraining run")
    p.add_argument("--out", default="runs/bench_tasks", help="stage outputs (a stage whose "
                   "output exists is kept)")
    p.add_argument("--doc", default="docs/results.md")
    p.add_argument("--scorer-steps", type=int, default=3000)
    p.add_argument("--finetune-steps", type=int, default=500)
    p.add_argument("--finetune-minutes", type=float, default=30.0)
    p.add_argument("--photo-minutes", type=float, default=10.0)
    p.add_argument("--vqa-minutes", type=float, default=10.0, help="the fine-tune continued "
                   "with VQA questions mixed in")
    p.add_argument("--limit", type=int, default=64, help="samples per generation task")
    p.add_argument("--vqa-limit", type=int, default=VQA_LIMIT, help="questions scored for VQA")
    p.add_argument("--speech-steps", type=int, default=1200,
                   help="the speech decoder's own fine-tune (fresh, aligned mode)")
    p.add_argument("--speech-minutes", type=float, default=40.0)
    p.add_argument("--asr-minutes", type=float, default=30.0, help="speech recognition's "
                   "fine-tune: speech encoder + text decoder, with the ctc objective")
    p.set_defaults(func=cmd_bench_tasks)

    p = sub.add_parser("bench-labels", help="label efficiency: classification with 1/5/10/100%% "
                       "of the labels, pretrained vs scratch (Fashion-MNIST, tri-shapes) "
                       "-> docs/results.md")
    p.add_argument("--pretrained", required=True, metavar="RUN",
                   help="a pretraining run on the built-in corpus (tri-shapes)")
    p.add_argument("--out", default="runs/bench_labels", help="stage outputs (a stage whose "
                   "output exists is kept)")
    p.add_argument("--doc", default="docs/results.md")
    p.add_argument("--fmnist-limit", type=int, default=5000,
                   help="Fashion-MNIST images per split (the first N)")
    p.add_argument("--fmnist-eval", type=float, default=0.4,
                   help="fraction of those test images the classifiers are scored on")
    p.add_argument("--pretrain-minutes", type=float, default=10.0,
                   help="image-only pretraining on Fashion-MNIST")
    p.add_argument("--steps", type=int, default=100, help="steps per classifier")
    p.set_defaults(func=cmd_bench_labels)
