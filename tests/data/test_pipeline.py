import numpy as np
import pytest

from zidong.config import load_config
from zidong.config.special_tokens import EOS_ID, LANG_IDS, MASK_ID
from zidong.data.pipeline import DataPipeline
from zidong.data.processor import COLUMNS
from zidong.data.sources import pack_mindrecord
from tests.data.conftest import make_manifest


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    man = make_manifest(root, n=12)
    packed = root / "train.mindrecord"
    pack_mindrecord(man, packed)
    return man, packed


@pytest.fixture(scope="module")
def cfg():
    return load_config("tiny", ["model.text.max_len=24"])


def batches(p, epoch=0, start=0):
    return list(p.iterate(epoch, start))


def test_batches_have_the_static_shapes_and_masks(data, cfg, tokenizer):
    m, mk = cfg.model, cfg.data.masking
    p = DataPipeline(data[0], cfg, tokenizer, 12, seed=0)
    out = batches(p)
    assert len(out) == p.batches_per_epoch == 1
    shapes = {"text_ids": (12, 24), "text_mlm_pos": (12, mk.text_count),
              "image": (12, 3, 32, 32), "image_mlm_mask": (12, m.vision_patches),
              "mel": (12, m.speech.max_frames, m.speech.n_mels),
              "mel_mask": (12, m.speech.max_frames), "presence": (12, 3), "hidden": (12, 3),
              "label": (12,), "index": (12,)}
    for b in out:
        assert list(b) == COLUMNS
        for k, shape in shapes.items():
            assert b[k].shape == shape, k
        for i in range(12):
            t, im, au = b["presence"][i]
            n = int(b["text_mask"][i].sum())
            if t:
                ids = b["text_ids"][i]
                # the decoder starts with the sample's language token (en / zh here)
                assert b["dec_in"][i][0] in LANG_IDS.values() and b["dec_target"][i][n] == EOS_ID
                assert b["dec_in"][i][0] == LANG_IDS[("en", "zh")[b["lang_id"][i]]]
                np.testing.assert_array_equal(b["dec_in"][i][1:n + 1], ids[:n])
                assert b["text_mlm_weight"][i].sum() == min(mk.text_count, n)
                assert (b["text_masked"][i] == MASK_ID).sum() == min(mk.text_count, n)
            else:
                assert n == 0
            assert b["image_mlm_mask"][i].sum() == (mk.image_count if im else 0)
            frames = int(b["mel_mask"][i].sum())
            assert frames == (31 if au else 0) == int(b["mel_len"][i])  # 0.6 s at 20 ms
            assert b["hidden"][i].sum() <= 2 and (b["hidden"][i] <= b["presence"][i]).all()
            slot = i // mk.hide_per_batch  # tiny: 2 per batch -> positions 0-1 text, 2-3 image
            if slot < 3 and b["presence"][i][slot] and b["presence"][i].sum() >= 2:
                assert b["hidden"][i][slot] == 1
            elif slot >= 3:
                assert b["hidden"][i].sum() == 0


def test_a_disabled_decoder_gets_no_rows_and_the_next_move_up(data, tokenizer):
    # image generation off: rows 0-3 hide text, 4-7 speech, the rest hide nothing
    cfg = load_config("tiny", ["model.text.max_len=24", "data.masking.hide_per_batch=4",
                               "train.batch_size=12", "train.objectives.image_gen=0"])
    assert cfg.train.objectives.generated == (0, 2)
    b = batches(DataPipeline(data[0], cfg, tokenizer, 12, seed=0))[0]
    for i in range(12):
        present, hidden = b["presence"][i], b["hidden"][i]
        slot = (0, 2, None)[min(i // 4, 2)]
        if slot is None or not present[slot] or present.sum() < 2:
            assert hidden.sum() == 0, i
        else:
            # a second hidden modality only as the single-source option of a full sample
            assert hidden[slot] == 1 and (hidden.sum() == 1 or present.sum() == 3), i
    assert b["hidden"][:4, 0].sum() > 0 and b["hidden"][4:8, 2].sum() > 0


def test_decoder_dropout_masks_decoder_inputs_only_when_training(data, tokenizer):
    cfg = load_config("tiny", ["model.text.max_len=24", "data.masking.decoder_dropout=0.5"])
    train = batches(DataPipeline(data[0], cfg, tokenizer, 12, seed=0))[0]
    clean = batches(DataPipeline(data[0], cfg, tokenizer, 12, seed=0, masking=False))[0]
    has_text = train["presence"][:, 0] > 0
    n = train["text_mask"].sum(1).astype(int)
    words = np.zeros(train["dec_in"].shape, bool)
    for i in np.flatnonzero(has_text):
        words[i, 1:n[i] + 1] = True
        assert train["dec_in"][i][0] == clean["dec_in"][i][0]
    dropped = train["dec_in"] != clean["dec_in"]
    assert dropped.any() and not (dropped & ~words).any()
    assert (train["dec_in"][dropped] == MASK_ID).all()
    np.testing.assert_array_equal(train["dec_target"], clean["dec_target"])  # targets stay


def test_same_seed_same_batches_other_seed_other_order(data, cfg, tokenizer):
    a = batches(DataPipeline(data[0], cfg, tokenizer, 4, seed=3))
    b = batches(DataPipeline(data[0], cfg, tokenizer, 4, seed=3))
    c = batches(DataPipeline(data[0], cfg, tokenizer, 4, seed=4))
    for x, y in zip(a, b):
        for k in COLUMNS:
            np.testing.assert_array_equal(x[k], y[k])
    assert any((x["index"] != z["index"]).any() for x, z in zip(a, c))


def test_epochs_reshuffle_and_masks_change(data, cfg, tokenizer):
    p = DataPipeline(data[0], cfg, tokenizer, 12, seed=0)
    e0, e1 = batches(p, 0)[0], batches(p, 1)[0]
    assert (e0["index"] != e1["index"]).any()
    order0, order1 = np.argsort(e0["index"]), np.argsort(e1["index"])
    assert (e0["image_mlm_mask"][order0] != e1["image_mlm_mask"][order1]).any()


def test_manifest_and_mindrecord_give_identical_batches(data, cfg, tokenizer):
    for epoch in (0, 1):
        a = batches(DataPipeline(data[0], cfg, tokenizer, 4, seed=5), epoch)
        b = batches(DataPipeline(data[1], cfg, tokenizer, 4, seed=5), epoch)
        assert len(a) == len(b) == 3
        for x, y in zip(a, b):
            for k in COLUMNS:
                np.testing.assert_array_equal(x[k], y[k], err_msg=k)


def test_shards_are_disjoint_and_cover_the_epoch(data, cfg, tokenizer):
    for shards in (2, 3):
        seen = []
        for rank in range(shards):
            p = DataPipeline(data[0], cfg, tokenizer, 2, seed=1, num_shards=shards, shard_id=rank)
            idx = np.concatenate([b["index"] for b in batches(p)])
            assert len(idx) == 12 // shards
            seen.append(set(idx.tolist()))
        assert set().union(*seen) == set(range(12))
        assert sum(len(s) for s in seen) == 12
    with pytest.raises(ValueError, match="shard_id 2 is not in"):
        DataPipeline(data[0], cfg, tokenizer, 2, num_shards=2, shard_id=2)


def test_resume_from_a_batch_gives_the_remaining_batches(data, cfg, tokenizer):
    p = DataPipeline(data[0], cfg, tokenizer, 4, seed=2)
    full, rest = batches(p, 1), batches(p, 1, start=1)
    assert len(rest) == 2
    for x, y in zip(full[1:], rest):
        for k in COLUMNS:
            np.testing.assert_array_equal(x[k], y[k])


def test_tokenizer_larger_than_the_model_vocabulary_is_refused(data, tokenizer):
    from zidong.data.manifest import DataError
    small = load_config("tiny", [f"model.text.vocab_size={tokenizer.vocab_size - 1}"])
    with pytest.raises(DataError, match="raise model.text.vocab_size"):
        DataPipeline(data[0], small, tokenizer, 4)
