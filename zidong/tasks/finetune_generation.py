"""``zidong finetune --task generation``: the pretraining step continued from a run, narrowed to
the conditions the generation tasks run under.

Pretraining generates a hidden modality from whatever else the sample has (often two sources) out
of token-masked inputs, on a few slots per batch. The tasks condition on one clean source:
caption (image), ASR (speech), t2i / s2i, t2s / i2s. So the fine-tune uses the same graph and
trainer with the data settings of the tasks: no token masking, every slot sample hides all but
one source (``single_source_prob`` 1), a third of the batch per decoder, no matching negatives.

Only the decoders train: the encoders and the fusion are frozen (``train.freeze``). Trained
together with the decoders, they made every input's fused memory the same (a decoder that has not
yet learnt to read its memory lowers its loss fastest by flattening it), so the captions were
one template sentence for every image; frozen, the memory keeps what pretraining put in it and
the decoders learn to read it (docs/results.md). With nothing left to align, the sample- and
token-level objectives are off, and each step costs only the decoders' backward pass.
"""
from __future__ import annotations

from zidong.train.pretrain import run_pretrain


FROZEN_FOR_GENERATION = ("text_encoder", "vision_encoder", "speech_encoder", "fusion")


DECODERS = {"text": "text_gen", "image": "image_gen", "speech": "speech_gen"}


def generation_overrides(batch_size: int, decoders=tuple(DECODERS)) -> list[str]:
    """Config overrides turning pretraining into generation fine-tuning at ``batch_size``, for
    ``decoders`` (text, image, speech): each gets an equal share of the batch (a decoder that is
    off would otherwise leave its share of every batch unused)."""
    unknown = sorted(set(decoders) - set(DECODERS))
    if unknown or not decoders:
        raise ValueError(f"decoders {','.join(decoders) or '(none)'}: choose among "
                         f"{', '.join(DECODERS)}")
    n = len(set(decoders))
    if batch_size < n:
        raise ValueError(f"train.batch_size {batch_size}: generation fine-tuning of {n} "
                         f"decoders needs >= {n} (one slot per decoder)")
    on = [f"train.objectives.{obj}={int(name in decoders)}" for name, obj in DECODERS.items()]
    return [
        "data.masking.text_count=0", "data.masking.image_count=0", "data.masking.speech_spans=0",
        f"data.masking.hide_per_batch={batch_size // n}", "data.masking.single_source_prob=1.0",
        "data.masking.match_negatives=0",
        "train.objectives.mlm=0", "train.objectives.mim=0", "train.objectives.msm=0",
        "train.objectives.matching=0", "train.objectives.ctc=0", *on,
        "train.objectives.contrastive=0", "train.warm_start=0",
        # no clean encoder pass (nothing contrastive to feed), so every row must be fused (a
        # preset's ``fusion_batch`` < batch_size left rows with only the clean pass, and the
        # decoder slots above span the whole batch)
        "train.clean_contrastive=false", "train.fusion_batch=0",
        # a decoder left out is frozen as well: trainable, its weights still drift under the
        # optimizer's weight decay (a 1,200-step speech-only fine-tune shrank the image and
        # text decoders' tensors by up to 0.7%, and the sampled t2i images changed with them)
        "train.freeze=" + ",".join(FROZEN_FOR_GENERATION + tuple(
            f"{name}_decoder" for name in DECODERS if name not in decoders)),
    ]


LR = 3e-4  # peak rate of the continued pretraining (its warm-up + cosine restart)


def finetune_generation(init_from, data: str | None, run_dir, steps: int, minutes: float,
                        lr: float, overrides=(), log=print, decoders=tuple(DECODERS)) -> dict:
    """Continue ``init_from`` on ``data`` (default: the run's own training manifest) for ``steps``
    steps or ``minutes`` of training, whichever ends first, training ``decoders``; ``overrides``
    come last and win."""
    import json
    from zidong.eval.load import resolve_checkpoint
    from zidong.train.checkpoint import load_state
    ckpt = resolve_checkpoint(init_from)
    meta = load_state(ckpt)[1]
    batch = int(dict(o.split("=", 1) for o in overrides).get("train.batch_size",
                                                             meta["config"]["train"]["batch_size"]))
    if data is None:
        info = ckpt.parent / "run.json"
        data = json.loads(info.read_text())["data"] if info.is_file() else None
        if data is None:
            raise FileNotFoundError(f"{info}: missing, so the run's training data is unknown; "
                                    f"pass --data")
    schedule = [f"train.max_steps={steps}", f"train.max_minutes={minutes}", f"train.lr={lr}",
                f"train.warmup_steps={min(20, max(1, steps // 10))}",
                # the cosine over ``steps``, as measured (docs/tasks.md), whatever the run's preset
                "train.budget_schedule=false"]
    overrides = generation_overrides(batch, decoders) + schedule + list(overrides)
    return run_pretrain(overrides=overrides,
                        data=data, run_dir=str(run_dir), init_from=str(init_from), log=log)
