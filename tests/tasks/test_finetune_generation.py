"""Generation fine-tuning: the batches it trains on are the tasks' conditions (one clean source
per generated modality), and it continues a run with that run's config, tokenizer and VQ."""
import json

import numpy as np
import pytest

from tests.conftest import TINY_RUN
from zidong.config import load_config
from zidong.data.pipeline import DataPipeline
from zidong.data.tokenizer import tokenizer_for
from zidong.tasks.finetune_generation import finetune_generation, generation_overrides


@pytest.mark.parametrize("preset", ["tiny", "small", "base"])
def test_the_overrides_make_a_valid_config_of_every_cpu_sized_preset(preset):
    # the small preset fuses only part of its batch (train.fusion_batch): the overrides must
    # still give each decoder its third of the batch, all of it fused
    batch = load_config(preset).train.batch_size
    cfg = load_config(preset, generation_overrides(batch))
    assert cfg.train.fused_rows == batch
    assert 3 * cfg.data.masking.hide_per_batch <= batch


def test_only_the_decoders_asked_for_train():
    cfg = load_config("tiny", generation_overrides(8, ("speech",)))
    assert set(cfg.train.frozen) == {"text_encoder", "vision_encoder", "speech_encoder", "fusion",
                                     "text_decoder", "image_decoder"}
    cfg = load_config("tiny", generation_overrides(8))
    assert not any(c.endswith("_decoder") for c in cfg.train.frozen)


def test_every_slot_sample_generates_from_exactly_one_clean_source(mini_corpus):
    cfg = load_config("tiny", generation_overrides(9) + ["train.batch_size=9"])
    tok = tokenizer_for(mini_corpus / "train.jsonl", cfg.model.text.vocab_size)
    pipe = DataPipeline(mini_corpus / "train.jsonl", cfg, tok, 9, masking=True)
    slots = 0
    for batch in list(pipe.iterate(0))[:3]:
        presence, hidden = batch["presence"], batch["hidden"]
        for pos in range(9):
            k = pos // 3                       # batch 9: three samples per decoder
            if presence[pos].sum() < 2 or not presence[pos, k]:
                continue
            slots += 1
            assert hidden[pos, k] == 1
            assert (presence[pos] * (1 - hidden[pos])).sum() == 1, (presence[pos], hidden[pos])
        # no token masking: the encoders see the inputs the tasks give them
        assert np.array_equal(batch["text_masked"], batch["text_ids"])
        assert batch["image_mlm_mask"].sum() == 0 and batch["mel_mlm_mask"].sum() == 0
    assert slots >= 20


def test_generation_finetune_continues_a_run_with_its_config_and_tokenizer(tiny_run, tmp_path):
    from zidong.train.checkpoint import load_state
    run, _ = tiny_run
    out = tmp_path / "gen"
    res = finetune_generation(run, None, out, steps=3, minutes=0.0, lr=1e-3,
                              overrides=TINY_RUN[:1] + ["train.log_every=1"], log=lambda m: None)
    assert res["main"]["steps"] == 3 and "vq" not in res
    before = load_state(sorted(run.glob("step_*.safetensors"))[-1])
    after = load_state(res["main"]["checkpoint"])
    assert after[2]["tokenizer"] == before[2]["tokenizer"]
    cfg = after[1]["config"]
    assert cfg["model"] == before[1]["config"]["model"]
    assert cfg["train"]["objectives"]["mlm"] == 0 and cfg["train"]["objectives"]["text_gen"] == 1
    assert cfg["data"]["masking"]["single_source_prob"] == 1.0
    def moved(component):
        return max(float(np.abs(after[0][k].asnumpy() - before[0][k].asnumpy()).max())
                   for k in after[0] if k.startswith(f"model.{component}."))

    assert moved("text_decoder") > 0 and moved("image_decoder") > 0 and moved("speech_decoder") > 0
    # only the decoders train: the memory they read stays as pretraining left it
    for component in ("text_encoder", "vision_encoder", "speech_encoder", "fusion"):
        assert moved(component) == 0, component
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and all(np.isfinite(x["loss.text_gen"]) for x in lines)
    with pytest.raises(ValueError, match="batch_size 2"):
        generation_overrides(2)


def test_the_cli_batch_size_and_seed_reach_generation_fine_tuning(monkeypatch, tmp_path):
    import zidong.tasks.finetune_generation as fg
    from zidong.cli import main
    seen = {}

    def fake(init_from, data, run_dir, steps, minutes, lr, overrides=(), log=print,
             decoders=()):
        seen["overrides"], seen["decoders"] = list(overrides), decoders
        return {"run_dir": str(run_dir), "main": {"checkpoint": "x"}}

    monkeypatch.setattr(fg, "finetune_generation", fake)
    main(["finetune", "--task", "generation", "--init-from", "RUN", "--run-dir", str(tmp_path),
          "--batch-size", "12", "--seed", "3", "--set", "train.batch_size=9"])
    # the options come first, so an explicit --set still wins
    assert seen["overrides"] == ["train.batch_size=12", "context.seed=3", "train.batch_size=9"]
    main(["finetune", "--task", "generation", "--init-from", "RUN", "--run-dir", str(tmp_path)])
    assert seen["overrides"] == [] and seen["decoders"] == ("text", "image", "speech")
    main(["finetune", "--task", "generation", "--init-from", "RUN", "--run-dir", str(tmp_path),
          "--decoders", "text"])
    assert seen["decoders"] == ("text",)
    assert main(["finetune", "--task", "generation", "--init-from", "RUN", "--run-dir",
                 str(tmp_path), "--decoders", "text,video"]) == 2


def test_one_decoder_gets_the_whole_batch_and_the_others_are_off():
    cfg = load_config("small", generation_overrides(48, ("text",)))
    assert cfg.data.masking.hide_per_batch == 48
    obj = cfg.train.objectives
    assert (obj.text_gen, obj.image_gen, obj.speech_gen) == (1, 0, 0)
    cfg = load_config("small", generation_overrides(48, ("text", "speech")))
    assert cfg.data.masking.hide_per_batch == 24 and cfg.train.objectives.image_gen == 0
    with pytest.raises(ValueError, match="choose among"):
        generation_overrides(48, ("video",))
