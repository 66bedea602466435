"""tools/probe_alignment.py: with --hard-groups an epoch is a permutation made of runs of scenes
that share their pair of colours; with --mae the pixel target, with --filip the token-level
alignment train beside the contrastive loss, and --loss sigmoid swaps InfoNCE for SigLIP's loss."""
from types import SimpleNamespace

from tests.tools import load_tool

probe = load_tool("probe_alignment")


def _pipe(colours):
    samples = [SimpleNamespace(meta={"scene": {"a": {"colour": a}, "b": {"colour": b}}})
               for a, b in colours]
    return SimpleNamespace(source=SimpleNamespace(samples=samples), size=len(samples))


def test_runs_share_the_colour_pair_and_the_epoch_is_a_permutation():
    colours = [("red", "blue"), ("blue", "red"), ("green", "red")] * 10
    pipe = _pipe(colours)
    order = probe.colour_grouped_order(pipe, 4, seed=0)
    first, second = order(0), order(1)
    assert sorted(first) == list(range(30)) and sorted(second) == list(range(30))
    assert list(first) != list(second)
    keys = [tuple(sorted(colours[i])) for i in first]
    # red/blue: 20 scenes, 5 runs of 4; green/red: 10 scenes, runs of 4, 4, 2. Eight runs in all,
    # so the pair changes at most 7 times along the epoch (a plain shuffle changes it ~13 times)
    changes = sum(a != b for a, b in zip(keys, keys[1:]))
    assert changes <= 7


def test_the_probe_options_compile_and_train_together(mini_corpus, tiny_run, tmp_path, capsys):
    import json
    import shutil
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for f in mini_corpus.iterdir():
        (corpus / f.name).symlink_to(f)
    shutil.copy(tiny_run[0] / "tokenizer.model", corpus / "tokenizer.model")
    assert probe.main(["--config", "tiny", "--corpus", str(corpus), "--modalities", "text,image",
                       "--steps", "4", "--eval-every", "4", "--batch", "8", "--mae", "1.0",
                       "--mae-count", "4", "--filip", "1.0", "--loss", "sigmoid"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (out["args"]["mae"], out["args"]["filip"], out["args"]["loss"]) == (1.0, 1.0, "sigmoid")
    assert out["results"]["4"]["loss_last50"] > 0
    assert 0.0 <= out["results"]["4"]["retrieval.t2i.R@1"] <= 1.0
