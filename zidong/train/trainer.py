"""The pretraining loop: data -> PretrainNet -> AdamW (warm-up + cosine) in one compiled step, with
clipping, gradient accumulation, overflow skipping, checkpoints, exact resume and progress.

Mixed precision (Ascend): O1/O2 through ``amp.auto_mixed_precision`` and the functional
``amp.DynamicLossScaler`` + ``amp.all_finite`` path (the loss-scale Cells do not run on CPU). On
CPU the step runs in fp32 and still skips, and counts, a step whose gradients are not finite.

Data parallel (launched by msrun or a rank table, ``zidong.parallel.dist``): every rank reads its own
strided shard of each epoch, gradients are averaged over the ranks by ``nn.DistributedGradReducer``
inside the compiled step (after accumulation, if any), logged losses are averaged over the ranks,
each rank checkpoints to ``rank_N/`` and only rank 0 writes the run's shared files.

Model / pipeline parallel and optimizer sharding (Ascend only, not verified on hardware): one
semi-auto-parallel graph over the global batch, which every rank reads whole; see
``zidong.parallel.semi_auto``. ``parallel.recompute`` recomputes every block in any mode.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import mindspore as ms
from mindspore import amp, nn, ops

from zidong.config.schema import Config
from zidong.data.pipeline import DataPipeline
from zidong.models import create_model
from zidong.parallel.dist import DistInfo, mean_over_ranks
from zidong.parallel.semi_auto import gradient_reducer, needs_semi_auto, pipeline_net, wrap_step
from zidong.parallel.strategy import apply_recompute, attach_strategies
from zidong.train.batchnorm import batchnorm_cells, recalibrate_on
from zidong.train.checkpoint import checkpoints, load_state, prune, save_state
from zidong.train.pretrain_net import BATCH, CONTRASTIVE, LEVEL, OBJECTIVES, OWN_PARAMS, PretrainNet
from zidong.train.progress import Progress, now, plot_curves
from zidong.train.schedule import BudgetPlan, WarmupCosine
from zidong.train.vq_stage import load_vq_weights

FROZEN = "model.image_tokenizer."
SCHEDULE_PARAMS = "learning_rate"  # the schedules' lengths (schedule.WarmupCosine)


def _param_groups(params, cfg, schedule, temp_schedule):
    from zidong.train.param_groups import no_decay
    decay = [p for p in params if not no_decay(p.name)]
    plain = [p for p in params if no_decay(p.name) and "logit_scale" not in p.name]
    temp = [p for p in params if "logit_scale" in p.name]
    groups = [{"params": decay, "weight_decay": cfg.train.weight_decay},
              {"params": plain, "weight_decay": 0.0}]
    if temp:
        groups.append({"params": temp, "weight_decay": 0.0, "lr": temp_schedule})
    return groups


class Trainer:
    def __init__(self, cfg: Config, run_dir: str | Path, train_data: str | Path, tokenizer,
                 vq_checkpoint: str | Path | None = None, log=print, dist: DistInfo | None = None):
        self.cfg, self.run_dir, self.log = cfg, Path(run_dir), log
        self.dist = dist or DistInfo()
        # checkpoints: rank_N/ per rank when distributed; shared files (metrics, curves, summary)
        # from rank 0 only, the other ranks keep theirs in their own rank_N/
        self.ckpt_dir = self.run_dir / f"rank_{self.dist.rank}" if self.dist.distributed \
            else self.run_dir
        self.out_dir = self.run_dir if self.dist.is_main else self.ckpt_dir
        self.ckpt_dir.mkdir(parents=True, exist_ok=True)
        self.tokenizer, self.train_data = tokenizer, train_data
        t = cfg.train
        # model / pipeline parallel or optimizer sharding: one semi-auto-parallel graph (Ascend)
        # over the global batch, which every rank reads whole ("full_batch"; the compiler gives
        # each device its slice); data parallel: each rank reads its own shard
        self.semi_auto = self.dist.distributed and needs_semi_auto(cfg)
        shards = 1 if self.semi_auto else self.dist.world
        rows = t.batch_size * (cfg.parallel.data_parallel if self.semi_auto else 1)
        piped = self.semi_auto and cfg.parallel.pipeline_stage > 1
        self.pipeline = DataPipeline(train_data, cfg, tokenizer, rows, seed=cfg.context.seed,
                                     shuffle=cfg.data.shuffle, num_shards=shards,
                                     shard_id=self.dist.rank % shards,
                                     layout_rows=rows // cfg.parallel.micro_batch_num
                                     if piped else None)
        if self.pipeline.batches_per_epoch == 0:
            raise ValueError(f"{train_data}: fewer valid samples than one batch of {rows}")
        ms.set_seed(cfg.context.seed)
        self.model = create_model(cfg.model)
        if vq_checkpoint:
            load_vq_weights(self.model.image_tokenizer, vq_checkpoint)
        self.net = PretrainNet(self.model, cfg)
        # its temperature is capped after each update; taken before amp may wrap the net
        self.contrastive = self.net.contrastive
        if cfg.parallel.recompute:
            apply_recompute(self.net)
        if self.semi_auto:
            attach_strategies(self.net, cfg)
        self.weights = np.array([getattr(t.objectives, o) for o in OBJECTIVES], np.float32)
        self.warm_weights = np.where(np.arange(len(OBJECTIVES)) == CONTRASTIVE, self.weights,
                                     0).astype(np.float32)
        self.net.set_train(True)
        self.model.image_tokenizer.set_train(False)  # frozen: no codebook updates either
        for name in t.frozen:   # nor moving BatchNorm statistics in a frozen component
            getattr(self.model, name).set_train(False)
        if cfg.context.amp_level != "O0":
            dtype = ms.bfloat16 if cfg.context.precision == "bf16" else ms.float16
            self.net = amp.auto_mixed_precision(self.net, cfg.context.amp_level, dtype=dtype)
        frozen = (FROZEN,) + tuple(f"model.{c}." for c in t.frozen)
        self.params = [p for p in self.net.trainable_params() if not p.name.startswith(frozen)]
        self.schedule = WarmupCosine(t.lr, t.warmup_steps, t.max_steps, t.min_lr_ratio)
        temp = WarmupCosine(t.lr * t.temperature_lr_scale, t.warmup_steps, t.max_steps,
                            t.min_lr_ratio, name="learning_rate.temperature")
        self.schedules = (self.schedule, temp)
        self.optimizer = nn.AdamWeightDecay(_param_groups(self.params, cfg, self.schedule, temp),
                                            learning_rate=self.schedule)
        self.scaler = amp.DynamicLossScaler(2.0 ** 16, 2, 1000) \
            if cfg.context.amp_level != "O0" else None
        self.step_fn, self.accum_fn = self._compile_steps()
        self.step, self.epoch, self.batch_in_epoch, self.skipped = 0, 0, 0, 0
        self.warm_until = None  # the step where the warm start ended (train.warm_start)

    # ---- setup ----------------------------------------------------------------------------------
    def _own_indices(self) -> list[list[int]]:
        # positions in the gradient tuple, which follows the optimizer's parameters: its groups
        # (decay, no decay, temperature) reorder them relative to ``self.params``
        names = [p.name for p in self.optimizer.parameters]
        return [[i for i, n in enumerate(names) if n.startswith(OWN_PARAMS[o])] for o in OBJECTIVES]

    def _compile_steps(self):
        net, opt, scaler, clip = self.net, self.optimizer, self.scaler, self.cfg.train.clip_norm
        contrastive = self.contrastive
        own = self._own_indices()
        accum = self.cfg.train.grad_accum
        world = self.dist.world
        semi = self.semi_auto
        if semi:
            # the global view: gradients are reduced by the compiler (and by the pipeline's
            # reducer), losses are already the global batch's
            reducer, all_reduce = gradient_reducer(self.cfg, opt), None
        else:
            # data parallel: the mean of every rank's gradients, inside the compiled step
            reducer = nn.DistributedGradReducer(opt.parameters, mean=True, degree=world) \
                if world > 1 else None
            all_reduce = ops.AllReduce() if world > 1 else None
        piped = pipeline_net(net, self.cfg) if semi and self.cfg.parallel.pipeline_stage > 1 \
            else None

        def mean_over_ranks(x):
            return all_reduce(x) / world if all_reduce is not None else x

        def forward(*batch):
            if piped is not None:
                v = piped(*batch)
                out = (v[0],) + ops.unstack(v[1:])
            else:
                out = net(*batch)
            total = scaler.scale(out[0]) if scaler is not None else out[0]
            return (total,) + out[1:]

        grad_fn = ms.value_and_grad(forward, None, opt.parameters, has_aux=True)

        def norms(grads):
            return ops.stack([ops.sqrt(ops.addn([(grads[i] ** 2).sum() for i in idx]))
                              if idx else ops.zeros((), ms.float32) for idx in own])

        def apply(grads):
            finite = amp.all_finite(grads)
            if scaler is not None:
                scaler.adjust(finite)
            grads = ops.clip_by_global_norm(grads, clip)
            if finite:
                opt(grads)
                contrastive.cap()
            return finite

        @ms.jit
        def step(*batch):
            out, grads = grad_fn(*batch)
            if reducer is not None:
                grads = reducer(grads)
            if scaler is not None:
                grads = scaler.unscale(grads)
            gnorm = norms(grads)
            finite = apply(grads)
            return mean_over_ranks(ops.stack(out[1:])), gnorm, finite

        if semi:
            return wrap_step(step, self.cfg, self.ckpt_dir), None
        if accum == 1:
            return step, None
        buffers = ms.ParameterTuple(opt.parameters).clone(prefix="accum", init="zeros")

        @ms.jit
        def micro(*batch):
            out, grads = grad_fn(*batch)
            if scaler is not None:
                grads = scaler.unscale(grads)
            for buf, g in zip(buffers, grads):
                ops.assign_add(buf, g / accum)
            return mean_over_ranks(ops.stack(out[1:])), norms(grads)

        @ms.jit
        def flush():
            grads = tuple(buffers)
            if reducer is not None:
                grads = reducer(grads)
            finite = apply(grads)
            for buf in buffers:
                ops.assign(buf, ops.zeros_like(buf))
            return finite

        self.flush_fn = flush
        return step, micro

    # ---- checkpoints ----------------------------------------------------------------------------
    def state_params(self):
        seen, out = set(), []
        for p in list(self.net.get_parameters()) + list(self.optimizer.get_parameters()):
            if p.name not in seen:
                seen.add(p.name)
                out.append(p)
        return out

    def recalibrate_batchnorm(self) -> None:
        """The vision encoder's BatchNorm statistics re-estimated on clean training images
        (``train.bn_recalibrate`` batches; zidong/train/batchnorm.py says why). Not for a frozen
        encoder, whose statistics stay, nor under semi-auto parallel, where the encoder's layout
        belongs to the sharded graph."""
        t = self.cfg.train
        n, encoder = t.bn_recalibrate, self.model.vision_encoder
        if not n or not batchnorm_cells(encoder) or "vision_encoder" in t.frozen:
            return
        if self.semi_auto:
            self.log("BatchNorm statistics not re-estimated: semi-auto parallel")
            return
        cells = recalibrate_on(encoder, self.train_data, self.cfg, self.tokenizer, n,
                               self.dist.world, self.dist.rank)
        self.log(f"BatchNorm statistics of {cells} layer(s) re-estimated on {n} clean batches "
                 f"of {t.batch_size} images")

    def save(self) -> Path:
        meta = {"step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                "skipped_steps": self.skipped, "config": asdict(self.cfg),
                "tokenizer_sha256": self.tokenizer.sha256, "rank": self.dist.rank,
                "world": self.dist.world, "warm_until": self.warm_until}
        rng = np.asarray(ms.get_rng_state().asnumpy(), np.uint8).tobytes() \
            if hasattr(ms, "get_rng_state") else b""
        path = self.ckpt_dir / f"step_{self.step:07d}.safetensors"
        save_state(path, self.state_params(), meta,
                   {"tokenizer": self.tokenizer.proto, "rng": rng})
        prune(self.ckpt_dir, self.cfg.train.keep_last)
        return path

    def resume(self, path: str | Path | None = None) -> None:
        path = Path(path) if path else (checkpoints(self.ckpt_dir) or [None])[-1]
        if path is None:
            raise FileNotFoundError(f"{self.ckpt_dir}: no checkpoint to resume from")
        params, meta, blobs = load_state(path)
        if meta.get("merged_from_world") or meta.get("world", 1) != self.dist.world:
            # the data position (a batch of this rank's shard) means nothing for another world size
            raise ValueError(f"{path}: saved by a run of "
                             f"{meta.get('merged_from_world') or meta.get('world', 1)} rank(s), resumed "
                             f"with {self.dist.world}; merge it (tools/merge_checkpoints.py) and use "
                             f"--init-from instead")
        if blobs["tokenizer"] != self.tokenizer.proto:
            raise ValueError(f"{path}: saved with another tokenizer than this run's")
        missing, _ = ms.load_param_into_net(self.net, params, strict_load=True)
        missing += ms.load_param_into_net(self.optimizer, params, strict_load=True)[0]
        # checkpoints from before the schedule's lengths were saved: the configured curve
        missing = [m for m in missing if not m.startswith(SCHEDULE_PARAMS)]
        if missing:
            raise ValueError(f"{path}: checkpoint lacks {missing[:5]}")
        if blobs.get("rng") and hasattr(ms, "set_rng_state"):
            ms.set_rng_state(ms.Tensor(np.frombuffer(blobs["rng"], np.uint8)))
        self.step, self.epoch = meta["step"], meta["epoch"]
        self.batch_in_epoch, self.skipped = meta["batch_in_epoch"], meta["skipped_steps"]
        self.warm_until = meta.get("warm_until")
        self.log(f"resumed from {path} at step {self.step} (epoch {self.epoch}, "
                 f"batch {self.batch_in_epoch})")

    def init_from(self, path) -> None:
        """Start from another run's weights (incremental training on new data): model and heads
        only; optimizer, step and data position start fresh."""
        from zidong.eval.load import resolve_checkpoint, zero_added_later
        ckpt = resolve_checkpoint(path)
        params, _, _ = load_state(ckpt)
        fresh = tuple(f"model.{c}." for c in self.cfg.train.fresh)   # train.reinit

        def kept(name):
            return not (fresh and name.startswith(fresh))
        weights = {k: v for k, v in params.items() if kept(k) and not k.startswith(
            ("adam_", "global_step", SCHEDULE_PARAMS))}
        missing, _ = ms.load_param_into_net(self.net, weights, strict_load=False)
        missing = [m for m in missing if m in {p.name for p in self.net.get_parameters()}
                   and kept(m)]
        missing = zero_added_later(self.net, missing, ckpt)
        # an objective's head that the checkpoint predates (e.g. ctc) is a read-out of the model
        # for a loss, not part of it: it starts fresh, as it would in a new run
        heads = sorted({m.split(".")[0] for m in missing if not m.startswith("model.")})
        if heads:
            self.log(f"{ckpt} predates the head(s) of {', '.join(heads)}: they start fresh")
        missing = [m for m in missing if m.startswith("model.")]
        if missing:
            raise ValueError(f"{ckpt}: lacks {len(missing)} tensors of this model, e.g. {missing[:3]}")
        self.log(f"initialised from {ckpt}" + (f" (fresh: {', '.join(self.cfg.train.fresh)})"
                                                 if fresh else ""))

    # ---- the loop -------------------------------------------------------------------------------
    def _batches(self):
        while True:
            for batch in self.pipeline.iterate(self.epoch, self.batch_in_epoch):
                self.batch_in_epoch += 1  # counted when handed out: a checkpoint after this
                yield batch               # step must resume at the next batch
            self.epoch, self.batch_in_epoch = self.epoch + 1, 0

    def step_weights(self) -> np.ndarray:
        """Objective weights for the coming step. With ``train.task_sampling`` one level (token,
        modality or sample) is drawn per step, with probability proportional to its total
        weight, from (seed, step): a resumed run draws the same levels."""
        if not self.cfg.train.task_sampling:
            return self.weights
        levels = sorted(set(LEVEL.values()))
        mass = np.array([sum(w for o, w in zip(OBJECTIVES, self.weights) if LEVEL[o] == lv)
                         for lv in levels])
        rng = np.random.default_rng([self.cfg.context.seed, self.step, 0x7A5C])
        level = levels[rng.choice(len(levels), p=mass / mass.sum())]
        return np.where([LEVEL[o] == level for o in OBJECTIVES], self.weights, 0).astype(np.float32)

    def _warm_phase(self, spent: float) -> bool:
        """Whether the coming step belongs to the warm start (``train.warm_start``: the first
        fraction of the budget, of which ``spent`` seconds are used, or of ``max_steps`` without
        a budget). The step where it ends goes into the checkpoints, so a resumed run does not
        redraw it."""
        t = self.cfg.train
        if t.warm_start == 0 or self.warm_until is not None:
            return False
        warm = spent < t.warm_start * t.max_minutes * 60 if t.max_minutes else \
            self.step < round(t.warm_start * t.max_steps)
        if not warm:
            self.warm_until = self.step
            self.log(f"warm start over at step {self.step}: every objective from here on")
        return warm

    def _one_step(self, it, warm: bool = False):
        accum = self.cfg.train.grad_accum
        used = self.warm_weights if warm else self.step_weights()
        weights = ms.Tensor(used)
        # the warm phase is a graph of its own: ``warm`` is a compile-time constant
        phase = (True,) if warm else ()
        if accum == 1:
            batch = next(it)
            if self.cfg.parallel.pipeline_stage > 1 and self.semi_auto:
                # the pipeline slices every input by rows: one copy of the weights per sample
                weights = ms.Tensor(np.tile(used, (len(batch[BATCH[0]]), 1)))
            losses, gnorm, finite = self.step_fn(*[ms.Tensor(batch[c]) for c in BATCH], weights,
                                                 *phase)
            return losses.asnumpy(), gnorm.asnumpy(), bool(finite), used
        sums, gsum = 0.0, 0.0
        for _ in range(accum):
            batch = next(it)
            losses, gnorm = self.accum_fn(*[ms.Tensor(batch[c]) for c in BATCH], weights, *phase)
            sums, gsum = sums + losses.asnumpy() / accum, gsum + gnorm.asnumpy() / accum
        return sums, gsum, bool(self.flush_fn()), used

    def fit(self, stop_at: int | None = None) -> dict:
        """Train to ``train.max_steps`` / ``train.max_minutes``; ``stop_at`` stops earlier without
        changing the schedule (an interruption: ``--resume`` then finishes the same run)."""
        t = self.cfg.train
        last = min(t.max_steps, stop_at) if stop_at else t.max_steps
        budget = t.max_minutes * 60
        # with budget_schedule the run ends when its budget-sized schedule does, at a step every
        # rank agrees on (each rank's own clock could stop one rank a step before the others)
        plan = BudgetPlan(self.schedules, t.max_steps, budget, sized=t.budget_schedule)
        progress = Progress(self.out_dir, plan.total, budget, self.log, append=self.step > 0)
        replicas = self.cfg.parallel.data_parallel if self.semi_auto else self.dist.world
        samples_per_step = t.batch_size * t.grad_accum * replicas
        start_step, it = self.step, self._batches()
        window, gmin, compile_s = [], np.full(len(OBJECTIVES), np.inf), 0.0
        in_window = np.zeros(len(OBJECTIVES), bool)  # objectives used by a step of the window
        # the budget used, agreed by every rank; the plan sizes the schedule by the current
        # phase's step time, timed from where this process began that phase
        spent, compiled, phase_step, phase_t = 0.0, set(), start_step, 0.0
        t_interval = now()
        while self.step < last and not plan.done(self.step, progress.t_train):
            warm = self._warm_phase(spent)
            if self.warm_until == self.step and self.step > start_step:
                # switched just now, in this process: the plan times the full phase alone
                phase_step, phase_t = self.step, spent
            t0 = now()
            losses, gnorm, finite, used = self._one_step(it, warm)
            dt = now() - t0
            if warm not in compiled:
                compiled.add(warm)
                compile_s += dt  # a graph's first call compiles it: not training time
            else:
                progress.t_train += dt
            self.step += 1
            if budget:
                spent = mean_over_ranks(self.dist, progress.t_train)
            if plan.sized:
                progress.total = plan.update(self.step, self.step - phase_step - 1,
                                             spent - phase_t, spent)
            if not finite:
                self.skipped += 1
                self.log(f"step {self.step}: non-finite gradients, update skipped "
                         f"({self.skipped} so far)")
            window.append(losses)
            in_window |= used > 0
            # an objective is alive if every step that used it gave its own parameters gradient
            gmin = np.where(used > 0, np.minimum(gmin, gnorm), gmin)
            if self.step % t.log_every == 0 or self.step == plan.total:
                mean = np.mean(window, 0)
                elapsed = now() - t_interval
                # an objective no step of the interval used has no loss to report (e.g. during
                # the warm start): left out, so that curves and loss falls start where it does;
                # its gradient norm (zero) stays, to show that nothing trained its head
                on = [i for i in range(len(OBJECTIVES)) if in_window[i]]
                row = {"step": self.step, "planned_steps": plan.total, "epoch": self.epoch,
                       "lr": self.schedule.value(self.step), "warm": warm,
                       "loss": float(sum(self.weights[i] * mean[i] for i in on)),
                       **{f"loss.{OBJECTIVES[i]}": float(mean[i]) for i in on},
                       **{f"grad_norm.{o}": float(v) for o, v in zip(OBJECTIVES, gnorm)},
                       "samples_per_s": len(window) * samples_per_step / max(elapsed, 1e-9),
                       "train_seconds": round(progress.t_train, 1), "skipped_steps": self.skipped}
                progress.record(row, start_step)
                window, t_interval = [], now()
                in_window[:] = False
            if self.step % t.ckpt_every == 0:
                self.save()
        # only a run that ended: one interrupted by stop_at leaves its statistics as they are,
        # so that --resume ends where an uninterrupted run does
        if self.step >= t.max_steps or plan.done(self.step, progress.t_train):
            self.recalibrate_batchnorm()
        final = self.save()
        progress.close()
        curves = plot_curves(progress.path, self.out_dir / "curves.png",
                             f"{self.cfg.name}: pretraining losses")
        summary = {"run_dir": str(self.run_dir), "checkpoint": str(final), "curves": str(curves),
                   "steps": self.step, "train_seconds": round(progress.t_train, 1),
                   "final_lr": self.schedule.value(self.step),
                   "compile_seconds": round(compile_s, 1), "skipped_steps": self.skipped,
                   "warm_until": self.warm_until,
                   "min_grad_norm": {o: float(v) for o, v in zip(OBJECTIVES, gmin)},
                   "levels": LEVEL, "ranks": self.dist.world}
        (self.out_dir / "summary.json").write_text(json.dumps(summary, indent=1))
        return summary
