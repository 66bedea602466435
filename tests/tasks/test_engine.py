"""Every generation task runs from a pretraining run folder (tiny preset, a few steps: the outputs
are not good, but their form, determinism and the conditioning are what is tested here)."""
import json

import numpy as np
import pytest

from zidong.data.manifest import read_manifest, resolve
from zidong.tasks.engine import TaskEngine
from zidong.tasks.generate import generate


@pytest.fixture(scope="module")
def engine(tiny_run):
    return TaskEngine(tiny_run[0], batch_size=4)


@pytest.fixture(scope="module")
def batch(engine, mini_corpus):
    b = next(iter(engine.batches(mini_corpus / "test.jsonl")))
    assert b["presence"].min() == 1, "the first test samples have all three modalities"
    return b


def test_text_tasks_give_one_string_per_sample(engine, batch):
    for task in ("caption", "asr", "vqa"):
        out = engine.text(batch, task, beam_size=2)
        assert len(out) == len(batch["index"]) and all(isinstance(s, str) for s in out)
    assert engine.text(batch, "caption", beam_size=2) == engine.text(batch, "caption", beam_size=2)


def test_caption_language_is_the_decoders_first_token(engine, batch, monkeypatch):
    import zidong.tasks.runner as runner
    seen = []
    real = runner.decode_text

    def spy(make_step, memory, mask, max_len, start, *a, **k):
        seen.append(list(start))
        return real(make_step, memory, mask, max_len, start, *a, **k)
    monkeypatch.setattr(runner, "decode_text", spy)
    engine.text(batch, "caption", lang="zh", beam_size=1, method="greedy")
    assert set(seen[0]) == {engine.tokenizer.start_id("zh")} != {engine.tokenizer.start_id("en")}


def test_images_are_seeded_pixels(engine, batch, tiny):
    a = engine.images(batch, "t2i", temperature=1.0, seed=3)
    size = tiny.model.vision.image_size
    assert a.shape == (len(batch["index"]), size, size, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, engine.images(batch, "t2i", temperature=1.0, seed=3))
    assert not np.array_equal(a, engine.images(batch, "t2i", temperature=1.0, seed=4))
    assert engine.images(batch, "s2i", temperature=0).shape == a.shape


def test_speech_tasks_give_waveforms(engine, batch):
    for task in ("t2s", "i2s"):
        waves = engine.speech(batch, task)
        assert len(waves) == len(batch["index"])
        assert all(w.dtype == np.float32 and w.ndim == 1 and len(w) > 0 for w in waves)


def test_with_text_encodes_a_text_as_the_data_pipeline_does(engine, batch):
    # the batch's own texts, decoded and put back, give the pipeline's arrays
    texts = [engine.tokenizer.decode(ids[mask > 0].tolist())
             for ids, mask in zip(batch["text_ids"], batch["text_mask"])]
    image_only = dict(batch, presence=batch["presence"] * np.array([0, 1, 0], np.float32))
    again = engine.with_text(image_only, texts)
    np.testing.assert_array_equal(again["text_ids"], batch["text_ids"])
    np.testing.assert_array_equal(again["text_mask"], batch["text_mask"])
    np.testing.assert_array_equal(again["presence"], np.tile([1, 1, 0], (len(texts), 1)))
    assert (image_only["presence"][:, 0] == 0).all()        # the batch given is not changed


def test_i2s_says_the_models_own_caption_of_the_image(engine, batch, monkeypatch):
    captions, mels = engine.describe(batch, beam_size=2)
    assert captions == engine.text(batch, "caption", beam_size=2)
    said = engine.mels(engine.with_text(batch, captions), "t2s")
    assert len(mels) == len(captions) == len(batch["index"])
    for a, b in zip(mels, said):
        np.testing.assert_array_equal(a, b)
    # the sample's own text never reaches it: another text, the same speech
    other = dict(batch, text_ids=np.roll(batch["text_ids"], 1, axis=0),
                 text_mask=np.roll(batch["text_mask"], 1, axis=0))
    again, spoken = engine.describe(other, beam_size=2)
    assert again == captions
    for a, b in zip(spoken, mels):
        np.testing.assert_array_equal(a, b)
    # mels(i2s) is that path (at the default beam)
    for a, b in zip(engine.mels(batch, "i2s"), engine.describe(batch)[1]):
        np.testing.assert_array_equal(a, b)
    monkeypatch.setattr(engine, "i2s_via", "direct")
    direct = engine.mels(batch, "i2s")
    assert direct[0].shape[1] == mels[0].shape[1] and not all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(direct, mels))


def test_the_fusion_sees_only_the_conditioning_modalities(engine, batch):
    """Captioning must not peek at the caption: changing the text changes nothing."""
    other = dict(batch)
    other["text_ids"] = np.roll(batch["text_ids"], 1, axis=0)
    other["text_mask"] = np.roll(batch["text_mask"], 1, axis=0)
    m1 = engine.memory(batch, ("image",))[0].asnumpy()
    m2 = engine.memory(other, ("image",))[0].asnumpy()
    np.testing.assert_array_equal(m1, m2)
    assert not np.array_equal(m1, engine.memory(batch, ("text", "image"))[0].asnumpy())


def test_a_task_without_its_modality_names_the_sample(engine, batch):
    lacking = dict(batch)
    lacking["presence"] = batch["presence"].copy()
    lacking["presence"][1, 1] = 0
    with pytest.raises(ValueError, match=f"sample index {int(batch['index'][1])} lacks"):
        engine.memory(lacking, ("image",))


def test_generate_writes_each_kind_of_output(tiny_run, mini_corpus, tmp_path):
    s = next(x for x in read_manifest(mini_corpus / "test.jsonl")[0] if x.image and x.audio)
    image, audio = resolve(mini_corpus / "test.jsonl", s.image), resolve(mini_corpus / "test.jsonl", s.audio)
    run = tiny_run[0]
    rec = generate("caption", run, tmp_path / "c", image=str(image), lang="zh", beam_size=2)
    assert (tmp_path / "c" / "output.txt").read_text(encoding="utf-8").strip() == rec["text"]
    rec = generate("t2i", run, tmp_path / "i", text="a big red star is above a small blue circle",
                   seed=1)
    from PIL import Image
    png = Image.open(rec["output"])
    assert png.size == (32, 32) and png.mode == "RGB"          # the tiny preset's image size
    rec = generate("i2s", run, tmp_path / "s", image=str(image))
    import soundfile as sf
    wave, sr = sf.read(rec["output"])
    assert sr == 16000 and len(wave) > 0 and np.abs(wave).max() <= 1.0
    record = json.loads((tmp_path / "s" / "generate.json").read_text())
    assert record["task"] == "i2s" and isinstance(record["said"], str)  # the caption it spoke
    generate("asr", run, tmp_path / "a", audio=str(audio), lang=s.lang, beam_size=2)
    with pytest.raises(ValueError, match="needs --image"):
        generate("caption", run, tmp_path / "x", text="hello")
    with pytest.raises(ValueError, match="does not use --audio"):
        generate("t2i", run, tmp_path / "x", text="hello", audio=str(audio))
    with pytest.raises(FileNotFoundError, match="no such file"):
        generate("caption", run, tmp_path / "x", image=str(tmp_path / "missing.png"))


def test_a_run_from_before_the_speech_language_embedding_loads_with_it_zeroed(tiny_run, tmp_path,
                                                                               capsys):
    from zidong.eval.load import load_run
    from zidong.train.checkpoint import checkpoints, load_state, save_state
    import mindspore as ms
    params, meta, blobs = load_state(checkpoints(tiny_run[0])[-1])
    old = [ms.Parameter(v, name=k) for k, v in params.items() if k != "model.speech_decoder.lang"]
    save_state(tmp_path / "old.safetensors", old, meta, blobs)
    model = load_run(tmp_path / "old.safetensors")[0]
    assert not model.speech_decoder.lang.asnumpy().any()
    assert "speech_decoder.lang set to zero" in capsys.readouterr().err
    # anything else missing is still an error naming the tensor
    broken = [p for p in old if p.name != "model.fusion.cls"]
    save_state(tmp_path / "broken.safetensors", broken, meta, blobs)
    with pytest.raises(ValueError, match="lacks 1 model tensors"):
        load_run(tmp_path / "broken.safetensors")
