"""``zidong bench-tasks``: issue 5's figures from one pretraining run, every stage a ``zidong``
command of its own (printed in the document, so any figure can be rerun alone):

    scorer      zidong scorer train                  the independent image attribute scorer
    finetune    zidong finetune --task generation    the run, fine-tuned for the generation tasks
    align       zidong data align                    word times of the training speech
    speech      zidong finetune --decoders speech    a fresh speech decoder in the aligned mode
    vqa data    zidong data vqa                      questions about the train and test scenes
    vqa         zidong finetune --decoders text      the fine-tuned run, continued on questions
    asr         zidong finetune --decoders text      the same run, speech encoder + CTC trained
    eval        zidong eval                          pretrained and fine-tuned, test (+ compositional)
    photo       zidong pretrain --init-from          incremental training on the photo domain
    replay      zidong data mix + pretrain           the same, replaying part of the original data
    photo eval  zidong eval                          photo_test and test, before vs after

A stage whose output exists is kept (delete its folder to rerun it). Results go to the
``tasks`` section of docs/results.md.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from zidong.tasks.spec import VQA_LIMIT
from zidong.tasks.stages import run_stages
from zidong.train.doc_sections import write_section

GEN = "caption,asr,vqa,t2i,s2i,t2s,i2s"
VQA_PER_SCENE = 3  # questions per training scene for the VQA fine-tune (15,000 from 5,000)
REPLAY = 0.2   # of the 5,000 original training samples: as many as the 1,000 photo ones
# the speech decoder retrained from its initial values in the aligned mode (word times from
# ``zidong data align``), alone on the batch: 1,200 steps of 24 took t2s WER from 100% to 21.3%
# (docs/results.md)
SPEECH = ["--decoders", "speech", "--batch-size", "24", "--lr", "1e-3",
          "--set", "model.speech_decoder.align_durations=aligned",
          "--set", "train.reinit=speech_decoder"]
# speech recognition: the speech encoder and the text decoder trained (everything else frozen)
# with the ctc objective on the speech encoder's tokens, and the contrastive one so the speech
# side stays in the unified space. 15 minutes with ctc but no contrastive took ASR CER to
# 23.9 / 22.4% (en / zh) with the text decoder alone and s2i R@1 to 1.2% (docs/results.md)
ASR = ["--decoders", "text", "--batch-size", "32",
       "--set", "train.freeze=text_encoder,vision_encoder,fusion,image_decoder,speech_decoder",
       "--set", "train.objectives.ctc=1", "--set", "train.objectives.contrastive=1"]
# issue 5's targets: (metric key, comparison, bound)
TARGETS = [("asr.en.cer", "<=", 0.10), ("asr.zh.cer", "<=", 0.15), ("caption.attr_acc", ">=", 0.85),
           ("vqa.acc", ">=", 0.80), ("vqa_speech.acc", ">=", 0.80), ("t2i.attr_acc", ">=", 0.60),
           ("s2i.attr_acc", ">=", 0.60), ("t2s.wer", "<=", 0.30), ("i2s.wer", "<=", 0.30)]
OTHER = ["caption.en.bleu4", "caption.zh.bleu4", "caption.en.cer", "caption.zh.cer",
         "asr.en.wer", "retrieval.t2i.R@1", "retrieval.i2t.R@1", "retrieval.s2i.R@1",
         "retrieval.s2t.R@1", "retrieval.t2s.R@1", "retrieval.i2s.R@1"]
PHOTO = ["retrieval.t2i.R@1", "retrieval.i2t.R@1", "retrieval.s2i.R@1", "retrieval.s2t.R@1",
         "caption.en.bleu4", "caption.en.cer", "caption.zh.bleu4", "caption.zh.cer"]


def plan(pretrained: str, out: Path, corpus: Path, scorer_steps: int, ft_steps: int,
         ft_minutes: float, photo_minutes: float, limit: int,
         vqa_minutes: float = 10.0, vqa_limit: int = VQA_LIMIT, speech_steps: int = 1200,
         speech_minutes: float = 40.0,
         asr_minutes: float = 30.0) -> list[tuple[str, list[str], Path]]:
    """(stage, zidong argv, the file whose existence means done) in order."""
    ev = ["--limit", str(limit), "--image-scorer", str(out / "scorer"), "--speech-scorer"]
    vqa, vqa_spoken = out / "vqa_test.jsonl", out / "vqa_speech_test.jsonl"
    finetune = ("finetune", ["finetune", "--task", "generation", "--init-from", pretrained,
                             "--run-dir", str(out / "finetune"), "--steps", str(ft_steps),
                             "--minutes", str(ft_minutes)], out / "finetune" / "summary.json")
    stages = [
        ("scorer", ["scorer", "train", "--out", str(out / "scorer"), "--steps", str(scorer_steps),
                    "--corpus", str(corpus)], out / "scorer" / "scorer.json"),
        ("vqa_data", ["data", "vqa", "--data", str(corpus / "test.jsonl"), "--out", str(vqa)], vqa),
        # the same questions, spoken (same seed: the first N are the text questions' first N)
        ("vqa_speech_data", ["data", "vqa", "--data", str(corpus / "test.jsonl"), "--speak",
                             "--out", str(vqa_spoken)], vqa_spoken),
    ]
    photo_stage = ("photo", ["pretrain", "--init-from", pretrained, "--data",
                             str(corpus / "photo_train.jsonl"), "--run-dir", str(out / "photo"),
                             "--set", f"train.max_minutes={photo_minutes}"],
                   out / "photo" / "summary.json")

    def evaluate(run, name, manifest, tasks, extra):
        stages.append((f"eval_{name}", ["eval", "--ckpt", run, "--data", str(manifest), "--tasks",
                                         tasks, "--out", str(out / name)] + extra,
                       out / name / "metrics.json"))
    gen = "retrieval," + GEN.replace("vqa,", "")
    lim, vlim = ["--limit", str(limit)], ["--limit", str(vqa_limit)]
    # what needs only the pretrained run first (a training stage can run beside these)
    evaluate(pretrained, "pretrained_test", corpus / "test.jsonl", gen, ev)
    evaluate(pretrained, "pretrained_vqa", vqa, "vqa", vlim)
    evaluate(pretrained, "pretrained_photo", corpus / "photo_test.jsonl", "retrieval,caption", lim)
    stages.append(finetune)
    # the speech decoder again, from scratch in the aligned mode, on the same run
    aligned = out / "train_aligned.jsonl"
    stages += [
        ("align_data", ["data", "align", str(corpus / "train.jsonl"), "--out", str(aligned)],
         aligned),
        ("finetune_speech", ["finetune", "--task", "generation", "--init-from",
                             str(out / "finetune"), "--data", str(aligned), *SPEECH,
                             "--run-dir", str(out / "finetune_speech"), "--steps",
                             str(speech_steps), "--minutes", str(speech_minutes)],
         out / "finetune_speech" / "summary.json")]
    ft = str(out / "finetune_speech")
    evaluate(ft, "finetuned_test", corpus / "test.jsonl", gen, ev)
    evaluate(ft, "finetuned_vqa", vqa, "vqa", vlim)
    evaluate(ft, "finetuned_compositional", corpus / "test_compositional.jsonl", gen, ev)
    # image -> speech without the caption: the speech decoder reading the image's memory
    evaluate(ft, "finetuned_i2s_direct", corpus / "test.jsonl", "i2s",
             ev + ["--i2s-via", "direct"])
    # speech recognition: the fine-tuned run's speech encoder and text decoder, continued
    stages.append(("finetune_asr", ["finetune", "--task", "generation", "--init-from", ft,
                                    "--data", str(corpus / "train.jsonl"), *ASR, "--run-dir",
                                    str(out / "finetune_asr"), "--steps", "5000", "--minutes",
                                    str(asr_minutes)],
                   out / "finetune_asr" / "summary.json"))
    fta = str(out / "finetune_asr")
    evaluate(fta, "asrft_test", corpus / "test.jsonl", "retrieval,asr,s2i", ev)
    evaluate(fta, "asrft_compositional", corpus / "test_compositional.jsonl", "retrieval,asr", lim)
    evaluate(fta, "asrft_attention", corpus / "test.jsonl", "asr", lim + ["--ctc-weight", "0"])
    # VQA: the ASR run's text decoder continued on questions about the training scenes alone
    # (the evaluation asks about test scenes), each asked in text and spoken. Mixed one-to-one
    # into the caption data, 299 steps reached 30.0% on 400 test questions; on text questions
    # alone, 41.8% (docs/results.md). From the ASR run, whose speech encoder hears the words
    # (CER 0%), spoken questions scored 42.7% against 36.0% from the run before it (docs/results.md)
    vqa_train, vqa_spoken_train = out / "vqa_train.jsonl", out / "vqa_speech_train.jsonl"
    vqa_mix = out / "vqa_mix.jsonl"
    train_questions = ["data", "vqa", "--data", str(corpus / "train.jsonl"), "--per-sample",
                       str(VQA_PER_SCENE)]
    stages += [
        ("vqa_train_data", train_questions + ["--out", str(vqa_train)], vqa_train),
        ("vqa_speech_train_data", train_questions + ["--speak", "--out", str(vqa_spoken_train)],
         vqa_spoken_train),
        ("vqa_mix_data", ["data", "mix", "--take", str(vqa_train), "--take",
                          str(vqa_spoken_train), "--out", str(vqa_mix)], vqa_mix),
        ("finetune_vqa", ["finetune", "--task", "generation", "--init-from", fta, "--data",
                          str(vqa_mix), "--decoders", "text", "--run-dir",
                          str(out / "finetune_vqa"), "--steps", str(ft_steps), "--minutes",
                          str(vqa_minutes)],
         out / "finetune_vqa" / "summary.json")]
    ftv = str(out / "finetune_vqa")
    evaluate(ftv, "vqaft_vqa", vqa, "vqa", vlim)
    evaluate(ftv, "vqaft_vqa_speech", vqa_spoken, "vqa_speech", vlim)
    evaluate(ftv, "vqaft_test", corpus / "test.jsonl", gen, ev)
    stages.append(photo_stage)
    photo = str(out / "photo")
    evaluate(photo, "photo_photo", corpus / "photo_test.jsonl", "retrieval,caption", lim)
    evaluate(photo, "photo_test", corpus / "test.jsonl", "retrieval", [])
    # the same continuation with a replay of the original training data (as many samples)
    mixed = out / "photo_replay.jsonl"
    stages.append(("replay_data", ["data", "mix", "--take", str(corpus / "photo_train.jsonl"),
                                   "--take", f"{corpus / 'train.jsonl'}={REPLAY}", "--out",
                                   str(mixed)], mixed))
    stages.append(("photo_replay", ["pretrain", "--init-from", pretrained, "--data", str(mixed),
                                    "--run-dir", str(out / "photo_replay"), "--set",
                                    f"train.max_minutes={photo_minutes}"],
                   out / "photo_replay" / "summary.json"))
    replay = str(out / "photo_replay")
    evaluate(replay, "replay_photo", corpus / "photo_test.jsonl", "retrieval,caption", lim)
    evaluate(replay, "replay_test", corpus / "test.jsonl", "retrieval", [])
    return stages


def bench_tasks(pretrained: str, out: Path, doc: Path, scorer_steps: int = 3000,
                ft_steps: int = 500, ft_minutes: float = 30.0, photo_minutes: float = 10.0,
                limit: int = 64, vqa_minutes: float = 10.0, vqa_limit: int = VQA_LIMIT,
                speech_steps: int = 1200, speech_minutes: float = 40.0,
                asr_minutes: float = 30.0, log=print) -> dict:
    from zidong.train.pretrain import default_corpus
    corpus = default_corpus(log)
    if corpus.is_relative_to(Path.cwd()):   # commands in the document read as typed
        corpus = corpus.relative_to(Path.cwd())
    stages = plan(pretrained, out, corpus, scorer_steps, ft_steps, ft_minutes, photo_minutes, limit,
                  vqa_minutes, vqa_limit, speech_steps, speech_minutes, asr_minutes)
    record = run_stages(stages, out, "bench_tasks.json", log)
    command = command_line(pretrained, out, scorer_steps, ft_steps, ft_minutes, photo_minutes,
                           limit, vqa_minutes, vqa_limit, speech_steps, speech_minutes,
                           asr_minutes)
    write_doc(doc, out, record, command, limit, vqa_limit)
    return record


def command_line(pretrained: str, out: Path, scorer_steps: int, ft_steps: int, ft_minutes: float,
                 photo_minutes: float, limit: int, vqa_minutes: float,
                 vqa_limit: int = VQA_LIMIT, speech_steps: int = 1200,
                 speech_minutes: float = 40.0, asr_minutes: float = 30.0) -> str:
    """The ``zidong bench-tasks`` command that reruns these budgets, every one spelt out (the
    defaults change between versions; a document's command must not)."""
    return (f"zidong bench-tasks --pretrained {pretrained} --out {out} --scorer-steps "
            f"{scorer_steps} --finetune-steps {ft_steps} --finetune-minutes {ft_minutes:g} "
            f"--photo-minutes {photo_minutes:g} --vqa-minutes {vqa_minutes:g} --limit {limit} "
            f"--vqa-limit {vqa_limit} --speech-steps {speech_steps} --speech-minutes "
            f"{speech_minutes:g} --asr-minutes {asr_minutes:g}")


def _metrics(path: Path) -> dict:
    return json.loads((path / "metrics.json").read_text()) if (path / "metrics.json").is_file() \
        else {}


def _fmt(v) -> str:
    return "—" if v is None else f"{100 * v:.1f}%" if isinstance(v, float) else str(v)


def _num(v) -> str:
    return "—" if v is None else f"{v:g}"


def vqa_majority(train: Path, test: Path, n: int) -> dict:
    """Accuracy of answering every question with the commonest training answer of its kind and
    language, on the first ``n`` test questions (the ones the evaluation scores): per kind and
    overall. A model must beat this to show it looked at the image."""
    from collections import Counter, defaultdict

    from zidong.data.manifest import read_manifest
    counts = defaultdict(Counter)
    for s in read_manifest(train)[0]:
        counts[(s.meta["kind"], s.lang)][s.meta["answer"]] += 1
    best = {k: c.most_common(1)[0][0] for k, c in counts.items()}
    right = defaultdict(list)
    for s in read_manifest(test)[0][:n]:
        kind = s.meta["kind"]
        right[kind].append(best.get((kind, s.lang)) == s.meta["answer"])
    out = {f"vqa.acc.{k}": sum(v) / len(v) for k, v in right.items()}
    out["vqa.acc"] = sum(map(sum, right.values())) / max(sum(map(len, right.values())), 1)
    return out


def write_doc(doc: Path, out: Path, record: dict, command: str, limit: int,
              vqa_limit: int = VQA_LIMIT) -> None:
    pre, ft = _metrics(out / "pretrained_test"), _metrics(out / "finetuned_test")
    comp = _metrics(out / "finetuned_compositional")
    ftv = _metrics(out / "vqaft_test")
    pre.update(_metrics(out / "pretrained_vqa"))
    ft.update(_metrics(out / "finetuned_vqa"))
    ftv.update(_metrics(out / "vqaft_vqa"))
    ftv.update(_metrics(out / "vqaft_vqa_speech"))
    asr_ft, asr_comp = _metrics(out / "asrft_test"), _metrics(out / "asrft_compositional")
    asr_alone = _metrics(out / "asrft_attention")
    asr_sum = out / "finetune_asr" / "summary.json"
    asr_steps = json.loads(asr_sum.read_text())["steps"] if asr_sum.is_file() else "—"
    ftv_sum = out / "finetune_vqa" / "summary.json"
    ftv_steps = json.loads(ftv_sum.read_text())["steps"] if ftv_sum.is_file() else "—"
    scorer = json.loads((out / "scorer" / "scorer.json").read_text())
    ft_sum = json.loads((out / "finetune" / "summary.json").read_text())
    sp_sum = json.loads((out / "finetune_speech" / "summary.json").read_text())
    direct = _metrics(out / "finetuned_i2s_direct")
    photo_sum = json.loads((out / "photo" / "summary.json").read_text())
    figs = doc.parent / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    for kind in ("t2i", "s2i"):
        grid = out / "finetuned_test" / f"{kind}_grid.png"
        if grid.is_file():
            shutil.copy(grid, figs / f"tasks_{kind}_grid.png")
    lines = ["## Tasks (issue 5)", "",
             f"Produced by `{command}`, which runs the stages below as `zidong` commands "
             "(each can be rerun alone) and writes this section. Generation tasks are scored on "
             f"the first {limit} samples of each split that have the task's modalities (VQA: "
             f"the first {vqa_limit} questions); retrieval on the whole split.", "",
             "| stage | command | minutes |", "| --- | --- | ---: |"]
    for name, st in record["stages"].items():
        secs = st.get("seconds")
        lines.append(f"| {name} | `zidong {' '.join(st['argv'])}` | "
                     f"{'kept' if secs is None else f'{secs / 60:.1f}'} |")
    t = scorer["trained"]
    lines += ["", f"Fine-tuning: {ft_sum['steps']} steps in {ft_sum['train_seconds']:.0f} s "
              f"(compile {ft_sum['compile_seconds']:.0f} s); then the speech decoder alone, "
              f"from its initial values in the aligned mode (`finetune_speech`), "
              f"{sp_sum['steps']} steps in {sp_sum['train_seconds']:.0f} s. \"Fine-tuned\" "
              "below is that run. Image scorer: "
              f"{t['steps']} steps ({t['samples']} rendered scenes) in {t['seconds']:.0f} s.", "",
              "i2s says the model's own caption of the image (`--i2s-via caption`, the "
              "default); the speech decoder reading the image's memory directly (`--i2s-via "
              f"direct`): i2s.wer {_fmt(direct.get('i2s.wer'))} (`finetuned_i2s_direct`).", "",
              f"Then + ASR: that run's speech encoder and text decoder continued with the `ctc` "
              f"objective (CTC from the speech encoder's tokens to the transcript) beside the "
              f"text generation and contrastive ones, everything else frozen, {asr_steps} steps "
              f"(`finetune_asr`). It recognises with joint CTC/attention beam search (CTC weight "
              f"{_num(asr_ft.get('asr.ctc_weight'))}); with the text decoder alone "
              f"(`--ctc-weight 0`, `asrft_attention`): CER en / zh "
              f"{_fmt(asr_alone.get('asr.en.cer'))} / {_fmt(asr_alone.get('asr.zh.cer'))}, WER en "
              f"{_fmt(asr_alone.get('asr.en.wer'))}.", "",
              f"Then + VQA: the ASR run's text decoder continued on {VQA_PER_SCENE} questions "
              f"per training scene, each asked in text and spoken, and nothing else, {ftv_steps} "
              "steps (`finetune_vqa`). `vqa_speech` asks the same test questions as `vqa`, "
              "spoken by the corpus's voices.", "",
              "### Targets on `test`", "",
              "| metric | target | pretrained only | fine-tuned | fine-tuned, test_compositional "
              "| fine-tuned + ASR | the same, test_compositional | fine-tuned + ASR + VQA |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key, op, bound in TARGETS:
        lines.append(f"| {key} | {op} {_fmt(bound)} | {_fmt(pre.get(key))} | "
                     f"{_fmt(ft.get(key))} | {_fmt(comp.get(key))} | {_fmt(asr_ft.get(key))} | "
                     f"{_fmt(asr_comp.get(key))} | {_fmt(ftv.get(key))} |")
    for key in OTHER:
        lines.append(f"| {key} | | {_fmt(pre.get(key))} | {_fmt(ft.get(key))} | "
                     f"{_fmt(comp.get(key))} | {_fmt(asr_ft.get(key))} | "
                     f"{_fmt(asr_comp.get(key))} | {_fmt(ftv.get(key))} |")
    vqa_train, vqa_test = out / "vqa_train.jsonl", out / "vqa_test.jsonl"
    if vqa_train.is_file() and vqa_test.is_file():
        base = vqa_majority(vqa_train, vqa_test, vqa_limit)
        lines += ["", "### VQA by question kind", "",
                  "Exact-match accuracy. The baseline answers every question with the commonest "
                  "training answer of its kind and language, without the image.", "",
                  "| kind | questions | baseline | pretrained only | fine-tuned | fine-tuned + ASR "
                  "+ VQA | the same, spoken questions |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
        from zidong.data.corpus.vqa import KINDS
        for kind in sorted(KINDS) + ["all"]:
            part = "" if kind == "all" else f".{kind}"     # vqa.acc.colour, ..., vqa.acc
            scores = [m.get(f"vqa.acc{part}") for m in (base, pre, ft, ftv)]
            scores.append(ftv.get(f"vqa_speech.acc{part}"))
            lines.append(f"| {kind} | {ftv.get(f'vqa.n{part}', '—')} | "
                         + " | ".join(_fmt(v) for v in scores) + " |")
    held = scorer["heldout"]
    lines += ["", "### The image scorer's own accuracy", "",
              "Per attribute, on fresh renders it never trained on (clean, and degraded the way "
              "generated images are) and on the corpus's real test images:", "",
              "| attribute | held-out clean | held-out degraded | corpus test |",
              "| --- | ---: | ---: | ---: |"]
    corpus_test = scorer["corpus"].get("test", {})
    for key in [k for k in held["clean"] if isinstance(held["clean"][k], float)]:
        lines.append(f"| {key} | {_fmt(held['clean'][key])} | {_fmt(held['degraded'].get(key))} "
                     f"| {_fmt(corpus_test.get(key))} |")
    photo_pre, photo_post = _metrics(out / "pretrained_photo"), _metrics(out / "photo_photo")
    test_post = _metrics(out / "photo_test")
    replay_photo, replay_test = _metrics(out / "replay_photo"), _metrics(out / "replay_test")
    replay_sum = out / "photo_replay" / "summary.json"
    replay_steps = json.loads(replay_sum.read_text())["steps"] if replay_sum.is_file() else "—"
    lines += ["", "### Incremental training on the photo domain", "",
              f"`zidong pretrain --init-from` on `photo_train` (Tux Paint stamps, held out of the "
              f"first pretraining), {photo_sum['steps']} steps in "
              f"{photo_sum['train_seconds']:.0f} s; and the same budget on `photo_train` mixed "
              f"with {REPLAY:.0%} of the original training data (replay), {replay_steps} steps. "
              "`photo_test` has 200 candidates (chance 0.5%).", "",
              "| metric | before (photo_test) | after | after, with replay |",
              "| --- | ---: | ---: | ---: |"]
    for key in PHOTO:
        lines.append(f"| {key} | {_fmt(photo_pre.get(key))} | {_fmt(photo_post.get(key))} | "
                     f"{_fmt(replay_photo.get(key))} |")
    lines += ["", "| retrieval R@1 on `test` | before | after | after, with replay |",
              "| --- | ---: | ---: | ---: |"]
    for d in ("t2i", "i2t", "s2i", "s2t"):
        key = f"retrieval.{d}.R@1"
        lines.append(f"| {d} | {_fmt(pre.get(key))} | {_fmt(test_post.get(key))} | "
                     f"{_fmt(replay_test.get(key))} |")
    lines += ["", "Generated images (fine-tuned run, `test` prompts):", "",
              "![t2i](figures/tasks_t2i_grid.png)", "", "![s2i](figures/tasks_s2i_grid.png)"]
    write_section(doc, "tasks", "\n".join(lines))
