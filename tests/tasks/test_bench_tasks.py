"""The task benchmark: every stage is a valid ``zidong`` command, and the results sections of a
shared document survive each other's rewrites."""
from pathlib import Path

from zidong.cli import build_parser
from zidong.tasks.bench import command_line, plan, vqa_majority
from zidong.train.doc_sections import keep_sections, sections, write_section


def test_every_stage_is_a_zidong_command_the_parser_accepts(tmp_path):
    stages = plan("runs/pre", tmp_path, Path("corpus"), 10, 5, 1.0, 1.0, 8)
    parser = build_parser()
    names = [name for name, _, _ in stages]
    assert len(set(names)) == len(names)
    # a stage never reads an output that a later stage writes
    for i, (name, argv, _) in enumerate(stages):
        args = parser.parse_args(argv)
        later = [str(done.parent) for _, _, done in stages[i + 1:]]
        assert not any(a in later for a in argv), name
        assert callable(args.func)
    assert names.index("finetune") < names.index("finetune_speech") \
        < names.index("eval_finetuned_test")
    assert names.index("scorer") < names.index("eval_pretrained_test")
    by = {name: argv for name, argv, _ in stages}
    speech = by["finetune_speech"]
    # the generation fine-tune, continued: the speech decoder alone, fresh, in the aligned mode,
    # on the aligned copy of the training data; what is evaluated and continued is that run
    assert speech[speech.index("--init-from") + 1] == str(tmp_path / "finetune")
    assert speech[speech.index("--data") + 1] == str(tmp_path / "train_aligned.jsonl")
    assert "train.reinit=speech_decoder" in speech and "speech" in speech
    assert "model.speech_decoder.align_durations=aligned" in speech
    for name in ("eval_finetuned_test", "eval_finetuned_i2s_direct"):
        argv = by[name]
        flag = "--ckpt" if "--ckpt" in argv else "--init-from"
        assert argv[argv.index(flag) + 1] == str(tmp_path / "finetune_speech"), name
    assert by["eval_finetuned_i2s_direct"][-2:] == ["--i2s-via", "direct"]
    # speech recognition: the same run, speech encoder and text decoder trained with the ctc
    # objective (and the contrastive one, so the speech side stays in the unified space)
    asr = by["finetune_asr"]
    assert asr[asr.index("--init-from") + 1] == str(tmp_path / "finetune_speech")
    assert {"train.objectives.ctc=1", "train.objectives.contrastive=1"} <= set(asr)
    frozen = next(a for a in asr if a.startswith("train.freeze="))
    assert "speech_encoder" not in frozen and "text_decoder" not in frozen
    assert by["eval_asrft_attention"][-2:] == ["--ctc-weight", "0"]
    # VQA continues the ASR run (its speech encoder hears the spoken questions' words)
    vqa = by["finetune_vqa"]
    assert vqa[vqa.index("--init-from") + 1] == str(tmp_path / "finetune_asr")
    assert names.index("finetune_asr") < names.index("finetune_vqa") < names.index("eval_vqaft_vqa")


def test_the_documented_command_reruns_the_same_budgets(tmp_path):
    command = command_line("runs/pre", tmp_path, 3000, 500, 20.0, 10.0, 64, 7.5, 300, 900, 35.0,
                           25.0)
    assert command.startswith("zidong bench-tasks ")
    args = build_parser().parse_args(command.split()[1:])
    assert (args.pretrained, args.out, args.scorer_steps, args.finetune_steps) == \
        ("runs/pre", str(tmp_path), 3000, 500)
    assert (args.finetune_minutes, args.photo_minutes, args.vqa_minutes, args.limit) == \
        (20.0, 10.0, 7.5, 64)
    assert (args.vqa_limit, args.speech_steps, args.speech_minutes, args.asr_minutes) == \
        (300, 900, 35.0, 25.0)


def test_vqa_scores_more_questions_than_the_generation_tasks(tmp_path):
    stages = {name: argv for name, argv, _ in plan("runs/pre", tmp_path, Path("c"), 10, 5, 1.0,
                                                    1.0, 8, vqa_limit=40)}
    for name in ("eval_pretrained_vqa", "eval_finetuned_vqa", "eval_vqaft_vqa"):
        assert stages[name][stages[name].index("--limit") + 1] == "40"
    assert stages["eval_finetuned_test"][stages["eval_finetuned_test"].index("--limit") + 1] == "8"


def test_the_vqa_baseline_answers_the_commonest_training_answer_of_each_kind(tmp_path):
    from zidong.data.manifest import Sample, write_manifest

    def write(path, rows):
        write_manifest(path, [Sample(f"q{i}", "x.png", "a question?", lang, None, None,
                                     {"kind": k, "answer": a})
                              for i, (k, lang, a) in enumerate(rows)])
    write(tmp_path / "train.jsonl", [("colour", "en", "red"), ("colour", "en", "red"),
                                     ("colour", "en", "blue"), ("count", "en", "two"),
                                     ("colour", "zh", "蓝色")])
    write(tmp_path / "test.jsonl", [("colour", "en", "red"), ("colour", "en", "blue"),
                                    ("count", "en", "two"), ("colour", "zh", "蓝色"),
                                    ("count", "en", "one")])   # the last one is not scored
    base = vqa_majority(tmp_path / "train.jsonl", tmp_path / "test.jsonl", 4)
    assert base["vqa.acc.colour"] == 2 / 3 and base["vqa.acc.count"] == 1.0
    assert base["vqa.acc"] == 3 / 4


def test_sections_replace_in_place_and_survive_a_full_rewrite(tmp_path):
    doc = tmp_path / "results.md"
    write_section(doc, "tasks", "## Tasks\nold")
    write_section(doc, "other", "## Other\nkept")
    write_section(doc, "tasks", "## Tasks\nnew")
    text = doc.read_text()
    assert "old" not in text and text.index("new") < text.index("kept")
    assert set(sections(text)) == {"tasks", "other"}
    rewritten = keep_sections(doc, "# Pretraining results\nfresh")
    assert rewritten.startswith("# Pretraining results\nfresh")
    assert "## Tasks\nnew" in rewritten and "## Other\nkept" in rewritten
