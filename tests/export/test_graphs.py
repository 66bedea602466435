"""Every exported MINDIR, loaded with ``mindspore.load`` + ``nn.GraphCell``, computes what the
checkpoint's Cells compute (max abs diff <= 1e-5), at more than one batch size (dynamic batch)."""
import numpy as np
import mindspore as ms
import pytest
from mindspore import Tensor, nn

from zidong.export.bundle import TASK_GRAPHS
from zidong.export.graphs import graph_specs


def random_inputs(graph, spec, m, batch, rng):
    """Inputs in each graph's domain: valid ids and codes, 1/0 masks with real prefixes."""
    codes = m.image_tokenizer.codebook_size
    vocab = {"text_ids": m.text.vocab_size, "codes": codes, "lang": 3,
             "ids": m.text.vocab_size if graph == "text_step" else codes + 1}  # + the BOS id
    out = []
    for name, shape, dtype in spec.inputs:
        full = (batch, *shape)
        if name.endswith("mask"):
            x = (np.arange(shape[0])[None] < rng.integers(1, shape[0] + 1, (batch, 1)))
        elif name == "presence":
            x = rng.integers(0, 2, full)
            x[:, 1] = 1  # at least one modality
        elif name == "lengths":
            x = rng.integers(1, m.speech.max_frames + 1, full)
        elif dtype == "int32":
            x = rng.integers(0, vocab[name], full)
        else:
            x = rng.standard_normal(full)
        out.append(Tensor(np.asarray(x, getattr(np, dtype))))
    return out


@pytest.fixture(scope="module")
def loaded(tiny_run):
    from zidong.eval.load import load_matching, load_run
    model, cfg, _, _ = load_run(tiny_run[0])
    return model, cfg, {"match": load_matching(tiny_run[0], cfg.model.unified_dim)}


def test_every_task_graph_and_the_matching_scorer_are_exported(exported, tiny_run):
    import hashlib
    from zidong.train.checkpoint import checkpoints
    _, info = exported
    ckpt = checkpoints(tiny_run[0])[-1]
    assert info["source"]["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    needed = {g for names in TASK_GRAPHS.values() for g in names} | {"match"}
    # the tiny run does not train the ctc head: ASR decodes with the text decoder alone
    # (tests/export/test_asr_ctc.py exports a run that has one)
    assert set(info["graphs"]) == needed and set(info["not_exported"]) == {"ctc"}
    assert info["tasks"] == list(TASK_GRAPHS)
    assert info["graphs"]["memory"]["inputs"][0] == {"name": "text_ids", "shape": [None, 16],
                                                     "dtype": "int32"}  # tiny: max_len 16
    pre = info["preprocessing"]
    assert (pre["image"]["size"], pre["speech"]["sample_rate"], pre["speech"]["n_mels"]) == \
        (32, 16000, 40)


@pytest.mark.parametrize("batch", [2])  # batch 1 runs in the CLI tests
def test_mindir_outputs_equal_the_checkpoint_cells(exported, loaded, batch):
    folder, info = exported
    model, cfg, heads = loaded
    specs = graph_specs(cfg.model)
    rng = np.random.default_rng(batch)
    for name, rec in info["graphs"].items():
        spec = specs[name]
        args = random_inputs(name, spec, cfg.model, batch, rng)
        want = spec.build(model, heads)(*args)
        got = nn.GraphCell(ms.load(str(folder / rec["file"])))(*args)
        want = want if isinstance(want, tuple) else (want,)
        got = got if isinstance(got, (tuple, list)) else (got,)
        assert len(got) == len(want) == len(rec["outputs"]), name
        for w, g, out in zip(want, got, rec["outputs"]):
            assert list(g.shape) == [batch, *out["shape"][1:]], (name, out["name"])
            diff = float(np.abs(w.asnumpy() - g.asnumpy()).max())
            assert diff <= 1e-5, f"{name}.{out['name']}: max abs diff {diff}"


def test_the_hmlp_stem_exports_with_a_dynamic_batch(tmp_path):
    # its reshapes fold the batch into the patch axis: the case a dynamic batch could break
    from zidong.config import load_config
    from zidong.export.graphs import input_placeholders
    from zidong.models import create_model
    cfg = load_config("tiny", ["model.vision.stem=hmlp"]).model
    spec = graph_specs(cfg)["image_embed"]
    net = spec.build(create_model(cfg), {})
    net.set_train(False)
    ms.export(net, *input_placeholders(spec), file_name=str(tmp_path / "image_embed"),
              file_format="MINDIR")
    graph = nn.GraphCell(ms.load(str(tmp_path / "image_embed.mindir")))
    for batch in (1, 3):
        x = random_inputs("image_embed", spec, cfg, batch, np.random.default_rng(batch))
        want, got = net(*x), graph(*x)
        want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
        for w, g in zip(want, got):
            assert np.abs(w.asnumpy() - g.asnumpy()).max() <= 1e-5
