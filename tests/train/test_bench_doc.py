"""bench-pretrain rewrites docs/results.md from its measurements: the hand-written status stays under
the title and other benchmarks' sections stay at the end."""
from zidong.train.bench import DIRECTIONS, write_results
from zidong.train.doc_sections import write_section
from zidong.train.pretrain_net import OBJECTIVES


def _fake_run(tmp_path):
    curves = tmp_path / "curves.png"
    curves.write_bytes(b"png")
    metrics = {f"retrieval.{d}.R@1": 0.1 for d in DIRECTIONS}
    return {"variant": "full", "overrides": [], "eval": {"test": metrics, "test_compositional": metrics},
            "main": {"steps": 7, "train_seconds": 60.0, "compile_seconds": 5.0, "skipped_steps": 0,
                     "curves": str(curves), "min_grad_norm": {o: 0.5 for o in OBJECTIVES}},
            "loss_fall": {o: {"first": 2.0, "last": 1.0, "fall": 0.5} for o in OBJECTIVES}}


def test_a_rerun_keeps_the_status_under_the_title_and_the_other_sections(tmp_path):
    grid = tmp_path / "grid.png"
    grid.write_bytes(b"png")
    vq = {"grid": str(grid), "steps": 3, "train_seconds": 60.0, "compile_seconds": 1.0,
          "first_loss": 0.3, "final_loss": 0.1}
    doc = tmp_path / "docs" / "results.md"
    write_section(doc, "status", "## Status\nhand-written")
    write_section(doc, "tasks", "## Tasks\nkept")
    write_results(doc, 1.0, vq, 0.0, [_fake_run(tmp_path)])
    text = doc.read_text()
    assert text.startswith("# Pretraining results")
    assert text.count("hand-written") == 1 and text.count("## Tasks\nkept") == 1
    assert text.index("hand-written") < text.index("## Budget") < text.index("## Variant `full`")
    assert text.index("## Variant `full`") < text.index("## Tasks")
    assert (tmp_path / "docs" / "figures" / "curves_full.png").is_file()


def test_the_command_line_gives_the_vq_budget_that_was_used(tmp_path):
    from zidong.train.bench import vq_flag
    # the preset's own budget: no flag (the stage stopped at its step count after 298 s)
    assert vq_flag({"train_seconds": 298.0, "budget_minutes": None}) == ""
    assert vq_flag({"train_seconds": 180.0, "budget_minutes": 3.0}) == " --vq-minutes 3"
    # a stage recorded before budgets were kept: its measured minutes, as before
    assert vq_flag({"train_seconds": 180.0}) == " --vq-minutes 3"


def test_a_step_budget_fixes_the_steps_and_drops_the_clock(tmp_path):
    from zidong.config import load_config
    from zidong.train.bench import main_budget
    assert main_budget(30.0, None) == ["train.max_minutes=30.0"]
    cfg = load_config("small", main_budget(30.0, 640))
    assert cfg.train.max_minutes == 0 and cfg.train.max_steps == 640
    grid = tmp_path / "grid.png"
    grid.write_bytes(b"png")
    vq = {"grid": str(grid), "steps": 3, "train_seconds": 60.0, "compile_seconds": 1.0,
          "first_loss": 0.3, "final_loss": 0.1, "budget_minutes": None}
    doc = tmp_path / "results.md"
    write_results(doc, None, vq, 0.0, [_fake_run(tmp_path)], steps=640)
    text = doc.read_text()
    assert "`zidong bench-pretrain --steps 640 --variants full`" in text
    assert "640 steps per variant" in text and "min of training per variant" not in text


def test_reuse_refuses_a_record_measured_with_another_budget(tmp_path):
    import json

    import pytest

    from zidong.train.bench import bench_pretrain
    (tmp_path / "bench.json").write_text(json.dumps({"minutes": 30.0, "vq": {}, "runs": []}))
    with pytest.raises(ValueError, match="measured with --minutes 30, not --steps 640"):
        bench_pretrain(30.0, None, ["full"], tmp_path, tmp_path / "r.md", reuse=True, steps=640)
    (tmp_path / "bench.json").write_text(json.dumps({"minutes": None, "steps": 640, "vq": {},
                                                     "runs": []}))
    with pytest.raises(ValueError, match="measured with --steps 640, not --steps 500"):
        bench_pretrain(30.0, None, ["full"], tmp_path, tmp_path / "r.md", reuse=True, steps=500)


def test_another_document_keeps_its_own_figures_and_says_how_to_rewrite_it(tmp_path):
    grid = tmp_path / "grid.png"
    grid.write_bytes(b"png")
    vq = {"grid": str(grid), "steps": 3, "train_seconds": 60.0, "compile_seconds": 1.0,
          "first_loss": 0.3, "final_loss": 0.1, "budget_minutes": None}
    docs = tmp_path / "docs"
    write_results(docs / "results.md", 30.0, vq, 0.0, [_fake_run(tmp_path)])
    before = (docs / "figures" / "curves_full.png").read_bytes()
    grid.write_bytes(b"another VQ stage")
    run = _fake_run(tmp_path)
    other = tmp_path / "other.png"   # the second benchmark's curves
    other.write_bytes(b"other")
    run["main"]["curves"] = str(other)
    write_results(docs / "ablation_steps.md", None, vq, 0.0, [run], steps=640)
    assert (docs / "figures" / "curves_full.png").read_bytes() == before
    assert (docs / "figures" / "ablation_steps_curves_full.png").read_bytes() == b"other"
    # the VQ grid too: results.md's shows its own stage
    assert (docs / "figures" / "vq_reconstructions.png").read_bytes() == b"png"
    assert (docs / "figures" / "ablation_steps_vq_reconstructions.png").read_bytes() == \
        b"another VQ stage"
    text = (docs / "ablation_steps.md").read_text()
    assert "(figures/ablation_steps_curves_full.png)" in text
    assert "(figures/ablation_steps_vq_reconstructions.png)" in text
    assert "--variants full --doc docs/ablation_steps.md`" in text
    assert "--doc" not in (docs / "results.md").read_text()


def test_an_unclosed_section_fails_before_the_runs_and_the_document_is_untouched(tmp_path):
    """A hand-written section without its closing marker would be dropped by the rewrite (it
    happened once): the benchmark refuses the document before training anything."""
    import pytest
    from zidong.train.bench import bench_pretrain
    doc = tmp_path / "results.md"
    write_section(doc, "status", "## Status\nhand-written")
    text = doc.read_text() + "\n<!-- section:notes -->\n## Notes\nnever closed\n"
    doc.write_text(text)
    with pytest.raises(ValueError, match=r"results.md: section 'notes' opens with "
                                         r"<!-- section:notes --> but has no <!-- /section:notes -->"):
        bench_pretrain(1.0, 1.0, ["full"], tmp_path / "runs", doc)
    assert doc.read_text() == text and not (tmp_path / "runs").exists()
    with pytest.raises(ValueError, match="section 'notes'"):
        write_section(doc, "tasks", "## Tasks")
    assert doc.read_text() == text


def test_an_unknown_variant_fails_before_the_vq_stage(tmp_path):
    import pytest
    from zidong.train.bench import bench_pretrain
    with pytest.raises(ValueError, match=r"--variants: unknown \['msm_contrastiv'\]; known: full, "
                                         r"no_sample_level, no_token_level, msm_contrastive"):
        bench_pretrain(1.0, 1.0, ["full", "msm_contrastiv"], tmp_path / "runs",
                       tmp_path / "results.md")
    assert not (tmp_path / "runs").exists()
