"""Classification fine-tuning: the stratified label subset, and a head on the fused CLS that
learns a separable task from a pretraining run (and from scratch) with a fraction of the labels."""
import json

import numpy as np
import pytest
from PIL import Image

from zidong.data.manifest import Sample, write_manifest
from zidong.tasks.classify import finetune_classify, label_subset


def test_label_subset_is_stratified_deterministic_and_never_empty():
    labels = [0] * 50 + [1] * 30 + [2] * 2 + [None, -1]
    sub = label_subset(labels, 0.1, seed=0)
    assert sub == label_subset(labels, 0.1, seed=0) != label_subset(labels, 0.1, seed=1)
    got = [labels[i] for i in sub]
    assert got.count(0) == 5 and got.count(1) == 3 and got.count(2) == 1   # >= 1 per class
    assert len(label_subset(labels, 1.0)) == 82
    with pytest.raises(ValueError, match="label-fraction"):
        label_subset(labels, 0.0)
    with pytest.raises(ValueError, match="no labelled sample"):
        label_subset([None, None], 0.5)


def _colour_manifest(root, n, seed):
    """Class = the colour of a square on a noisy background: separable, but not by one pixel."""
    rng = np.random.default_rng(seed)
    colours = [(220, 40, 40), (40, 200, 40), (40, 40, 220)]
    (root / "images").mkdir(parents=True, exist_ok=True)
    samples = []
    for i in range(n):
        y = i % 3
        px = rng.integers(0, 120, (32, 32, 3)).astype(np.uint8)
        x0, y0 = rng.integers(0, 16, 2)
        px[y0:y0 + 14, x0:x0 + 14] = colours[y]
        Image.fromarray(px).save(root / "images" / f"{i}.png")
        samples.append(Sample(id=f"c{i}", image=f"images/{i}.png", label=y))
    write_manifest(root / "data.jsonl", samples)
    return root / "data.jsonl"


def test_finetune_learns_a_separable_task_with_half_the_labels(tiny_run, tmp_path):
    train = _colour_manifest(tmp_path / "train", 48, 0)
    test = _colour_manifest(tmp_path / "test", 24, 1)
    res = finetune_classify(train, tmp_path / "run", label_fraction=0.5, init_from=tiny_run[0],
                            eval_data=test, modalities=("image",), steps=120, batch_size=8,
                            lr=1e-3)
    assert res["labelled"] == 24 and res["classes"] == 3 and res["steps"] == 120
    assert res["cls.acc"] >= 0.9, res
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["cls.acc"] == res["cls.acc"]
    assert (tmp_path / "run" / "classifier.safetensors").is_file()
    scratch = finetune_classify(train, tmp_path / "scratch", label_fraction=0.5, config="tiny",
                                eval_data=test, modalities=("image",), steps=2, batch_size=8)
    assert scratch["init_from"] == "" and 0 <= scratch["cls.acc"] <= 1


@pytest.mark.parametrize("modalities", [("image",), ("text", "speech"), ("text", "image", "speech")])
def test_the_narrowed_fusion_gives_the_whole_models_fused_cls(modalities):
    import mindspore as ms
    from mindspore import ops

    from tests.conftest import make_batch
    from zidong.config import load_config
    from zidong.models import create_model
    from zidong.tasks.classify import _build
    from zidong.tasks.spec import MODALITIES
    cfg = load_config("tiny")
    ms.set_seed(0)
    net = _build(create_model(cfg.model), cfg, 4, modalities)
    net.set_train(False)
    batch = make_batch(cfg.model, [[1, 1, 1], [1, 0, 1], [0, 1, 1], [1, 1, 0]], text_len=5)
    want = ms.Tensor(np.array([[m in modalities for m in MODALITIES]], np.float32))
    whole = net.head(net.model(*batch[:5], batch[5] * want)[0][:, 0])
    narrowed = net.logits(*batch)
    np.testing.assert_allclose(narrowed.asnumpy(), whole.asnumpy(), atol=1e-5)
    assert float(ops.abs(whole).max().asnumpy()) > 0
