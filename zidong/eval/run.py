"""``zidong eval``: metrics.json (flat keys) and report.md for a run on any manifest."""
from __future__ import annotations

import json
from pathlib import Path

from zidong.eval.generation import GEN_TASKS

TASKS = ("retrieval",) + GEN_TASKS


def run_eval(ckpt, manifest, tasks, out: Path, candidates: int = 500, limit: int | None = None,
             image_scorer: str | None = None, speech_scorer: bool = False, seed: int = 0,
             beam_size: int = 4, batch_size: int = 16, rerank: int = 0,
             temperature: float = 1.0, top_k: int = 0, i2s_via: str = "caption",
             ctc_weight: float | None = None) -> dict:
    """``limit``: at most this many samples per generation task (beam search on a CPU is slow);
    ``image_scorer``: a trained scorer (``zidong scorer train``) for t2i / s2i attribute accuracy;
    ``speech_scorer``: score English t2s / i2s speech with PocketSphinx; ``rerank``: re-rank each
    retrieval query's top-k with the fusion's matching head (0: off); ``temperature`` / ``top_k``:
    how t2i / s2i sample the image codes (temperature 0: greedy); ``i2s_via``: see
    ``TaskRunner.i2s_via``; ``ctc_weight``: ASR's joint CTC/attention weight for a run with a
    trained ctc head (None: ``TaskRunner.ctc_weight``; 0: the text decoder alone)."""
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; available: {list(TASKS)}")
    from zidong.tasks.engine import TaskEngine
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    engine = TaskEngine(ckpt, batch_size=batch_size)
    engine.i2s_via = i2s_via
    if ctc_weight is not None:
        engine.ctc_weight = ctc_weight
    metrics = {"step": engine.meta["step"]}
    if "retrieval" in tasks:
        from zidong.eval.retrieval import embed_manifest, retrieval_metrics
        emb = embed_manifest(engine.model, engine.cfg, engine.tokenizer, manifest)
        metrics.update(retrieval_metrics(emb, candidates))
        if rerank:
            from zidong.eval.load import load_matching
            from zidong.eval.rerank import rerank_metrics
            head = load_matching(ckpt, engine.cfg.model.unified_dim)
            metrics.update(rerank_metrics(engine, manifest, emb, head, rerank, candidates))
    gen = [t for t in tasks if t in GEN_TASKS]
    records = {}
    if gen:
        from zidong.eval.generation import GenerationEval
        scorer = None
        if image_scorer and ({"t2i", "s2i"} & set(gen)):
            from zidong.eval.image_scorer import Scorer
            scorer = Scorer.load(image_scorer)
        sphinx = None
        if speech_scorer and ({"t2s", "i2s"} & set(gen)):
            from zidong.eval.asr_scorer import SphinxScorer, caption_jsgf
            sphinx = SphinxScorer(caption_jsgf())
        ev = GenerationEval(engine, manifest, out, gen, scorer, sphinx, seed, beam_size,
                            temperature, top_k)
        metrics.update(ev.run(limit))
        records = ev.records
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    from zidong.eval.report import write_report
    write_report(out, f"Evaluation of {ckpt} on {manifest}", metrics, records)
    return metrics
