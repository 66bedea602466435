"""``zidong pretrain``: the main job. With no arguments it builds the built-in corpus into the cache
(if missing), trains the VQ stage, then pretrains the ``small`` preset on the CPU."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from zidong.config import load_config
from zidong.data.tokenizer import Tokenizer, tokenizer_for, train_on_manifest

REPO = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    return Path(os.environ.get("ZIDONG_CACHE", REPO / "cache"))


def default_corpus(log=print) -> Path:
    """The built-in corpus in the cache, built on first use (deterministic, seed 0)."""
    out = cache_dir() / "corpus"
    if not (out / "corpus.json").is_file():
        from zidong.data.corpus.build import build_corpus
        log(f"building the built-in corpus into {out} (once)")
        t0 = time.time()
        build_corpus(out)
        train_on_manifest(out / "train.jsonl", 4000).save(out / "tokenizer.model")
        log(f"corpus built in {time.time() - t0:.0f} s")
    elif not Tokenizer.load(out / "tokenizer.model").lang_ids:
        # a cache from before the language start tokens: same texts, same (deterministic) training
        log(f"retraining {out / 'tokenizer.model'} with the language start tokens")
        train_on_manifest(out / "train.jsonl", 4000).save(out / "tokenizer.model")
    return out


def _from_run(init_from, overrides, vq_ckpt, log):
    """Config, tokenizer and VQ tokenizer of the run ``init_from`` continues: its weights only
    make sense with its architecture, its token ids and its image codes. ``overrides`` may change
    anything else (objectives, schedule, data settings)."""
    from zidong.config import config_from_dict
    from zidong.config.loader import apply_overrides
    from zidong.eval.load import resolve_checkpoint
    from zidong.train.checkpoint import load_state
    ckpt = resolve_checkpoint(init_from)
    _, meta, blobs = load_state(ckpt)
    # train.reinit said how that run started; a run continuing it keeps all its weights unless
    # it asks again (inherited, it restarted the speech decoder of every run continuing one
    # that had retrained it)
    cfg = config_from_dict(apply_overrides(meta["config"], ["train.reinit="] + list(overrides)),
                           f"{ckpt} (embedded config)")
    tokenizer = Tokenizer(blobs["tokenizer"])
    if not vq_ckpt:
        info = ckpt.parent / "run.json"
        if not info.is_file():
            raise FileNotFoundError(f"{info}: missing, so the VQ tokenizer of {ckpt} is unknown; "
                                    f"pass --vq-ckpt")
        vq_ckpt = json.loads(info.read_text())["vq_checkpoint"]
        if not Path(vq_ckpt).is_file():   # runs from before run.json held absolute paths
            raise FileNotFoundError(f"{info}: its VQ tokenizer {vq_ckpt} is not found from "
                                    f"{Path.cwd()}; pass --vq-ckpt")
    log(f"continuing {ckpt}: its config ({cfg.name}), tokenizer and VQ tokenizer ({vq_ckpt})")
    return cfg, tokenizer, vq_ckpt


def run_pretrain(config: str = "small", overrides=(), data: str | None = None,
                 stage: str = "all", run_dir: str | None = None, resume: str | None = None,
                 vq_ckpt: str | None = None, init_from: str | None = None,
                 stop_at: int | None = None, log=print) -> dict:
    from zidong.parallel.dist import barrier, init_distributed, launcher
    from zidong.runtime import init_env
    from zidong.train.trainer import Trainer
    from zidong.train.vq_stage import train_vq

    if launcher() and not (run_dir or resume):
        raise ValueError("a distributed run needs --run-dir (every rank must use the same folder)")
    if resume:
        from zidong.config import config_from_dict
        from zidong.train.checkpoint import checkpoints, load_state
        # a distributed run keeps its checkpoints in rank_N/; every rank's config is the same
        found = checkpoints(resume) or checkpoints(Path(resume) / "rank_0")
        if not found:
            raise FileNotFoundError(f"{resume}: no checkpoint to resume from")
        _, meta, _ = load_state(found[-1])
        from zidong.config.loader import apply_overrides
        # the run's own config; overrides may extend it (e.g. train.max_steps)
        cfg = config_from_dict(apply_overrides(meta["config"], overrides),
                               f"{found[-1]} (embedded config)")
        run = Path(resume)
        info = json.loads((run / "run.json").read_text())
        data, vq_ckpt = info["data"], info["vq_checkpoint"]
    elif init_from:
        cfg, tokenizer, vq_ckpt = _from_run(init_from, overrides, vq_ckpt, log)
        run = Path(run_dir or REPO / "runs" / f"continue-{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    else:
        cfg = load_config(config, overrides)
        run = Path(run_dir or REPO / "runs" / f"pretrain-{cfg.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    init_env(cfg.context)
    dist = init_distributed(cfg)
    if dist.distributed and not resume and not vq_ckpt:
        raise ValueError("a distributed run needs --vq-ckpt: train the VQ tokenizer once first "
                         "(zidong pretrain --stage vq, one process)")
    data = data or cfg.data.train or str(default_corpus(log) / "train.jsonl")
    run.mkdir(parents=True, exist_ok=True)
    if resume or not dist.is_main:
        barrier(dist)  # rank 0 writes the run's tokenizer first
        tokenizer = Tokenizer.load(run / "tokenizer.model")
    elif init_from:
        tokenizer.save(run / "tokenizer.model")
        barrier(dist)
    else:
        tokenizer = tokenizer_for(data, cfg.model.text.vocab_size, cfg.data.tokenizer or None)
        tokenizer.save(run / "tokenizer.model")
        barrier(dist)
    result = {"run_dir": str(run)}
    if stage in ("vq", "all") and not resume and not vq_ckpt:
        log(f"stage 0: VQ image tokenizer ({cfg.train.vq.steps} steps)")
        result["vq"] = train_vq(cfg, run / "vq", data, tokenizer, log)
        vq_ckpt = result["vq"]["checkpoint"]
    if stage == "vq":
        return result
    vq_ckpt = vq_ckpt or str(run / "vq" / "vq.safetensors")
    if not Path(vq_ckpt).is_file():
        raise FileNotFoundError(f"{vq_ckpt}: no VQ tokenizer checkpoint; run --stage vq first")
    if dist.is_main and not resume:
        (run / "run.json").write_text(json.dumps({"data": str(Path(data).resolve()),
                                                  "vq_checkpoint": str(Path(vq_ckpt).resolve()),
                                                  "config": cfg.name, "ranks": dist.world},
                                                 indent=1))
    trainer = Trainer(cfg, run, data, tokenizer, vq_ckpt, log, dist)
    if resume:
        trainer.resume()
    elif init_from:
        trainer.init_from(init_from)
    log(f"stage 1: pretraining {cfg.name} for {cfg.train.max_steps} steps"
        + (f" or {cfg.train.max_minutes:g} min" if cfg.train.max_minutes else ""))
    result["main"] = trainer.fit(stop_at)
    return result
