"""``zidong infer`` gives what ``zidong generate`` gives, in a process where the model classes
cannot be imported at all."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mindspore import Tensor

from zidong.data.manifest import read_manifest, resolve
from zidong.eval.retrieval import embed_manifest
from zidong.export.cli import infer
from zidong.tasks.generate import generate

ROOT = Path(__file__).resolve().parents[2]
BLOCKER = '''
import sys
class NoModels:
    def find_spec(self, name, path=None, target=None):
        if name == "zidong.models" or name.startswith("zidong.models."):
            raise ImportError(f"{name}: blocked (the MINDIR runtime must not need it)")
sys.meta_path.insert(0, NoModels())
'''


def zidong_without_models(tmp_path, *args):
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = dict(os.environ, PYTHONPATH=f"{site}{os.pathsep}{ROOT}", GLOG_v="3")
    return subprocess.run([sys.executable, "-m", "zidong.cli", *map(str, args)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def sample(mini_corpus):
    manifest = mini_corpus / "test.jsonl"
    s = next(x for x in read_manifest(manifest)[0] if x.image and x.audio and x.text)
    return s, resolve(manifest, s.image), resolve(manifest, s.audio)


def test_the_blocker_blocks(tmp_path, tiny_run):
    res = zidong_without_models(tmp_path, "generate", "--task", "t2i", "--ckpt", tiny_run[0],
                                "--text", "a red star", "--out", tmp_path / "g")
    assert res.returncode != 0 and "zidong.models: blocked" in res.stderr


def test_infer_without_the_model_classes_equals_generate(exported, tiny_run, sample, tmp_path):
    s, image, audio = sample
    res = zidong_without_models(tmp_path, "infer", "--mindir", exported[0], "--task", "caption",
                                "--image", image, "--lang", "zh", "--beam", "2",
                                "--out", tmp_path / "infer")
    assert res.returncode == 0, res.stderr[-2000:]
    rec = generate("caption", tiny_run[0], tmp_path / "gen", image=str(image), lang="zh",
                   beam_size=2)
    assert json.loads((tmp_path / "infer" / "infer.json").read_text())["text"] == rec["text"]


def test_every_other_task_from_the_cli_equals_generate(exported, tiny_run, sample, tmp_path):
    s, image, audio = sample
    cases = [("asr", dict(audio=str(audio), lang=s.lang), "output.txt"),
             ("vqa", dict(image=str(image), text="what is above?"), "output.txt"),
             ("vqa_speech", dict(image=str(image), audio=str(audio), lang=s.lang), "output.txt"),
             ("t2i", dict(text=s.text, lang=s.lang, seed=7), "image.png"),
             ("s2i", dict(audio=str(audio), lang=s.lang, seed=7, temperature=0.0), "image.png"),
             ("t2s", dict(text=s.text, lang=s.lang), "speech.wav"),
             ("i2s", dict(image=str(image), lang="zh"), "speech.wav")]
    for task, kw, out in cases:
        infer(task, exported[0], tmp_path / f"i_{task}", **kw)
        generate(task, tiny_run[0], tmp_path / f"g_{task}", **kw)
        assert (tmp_path / f"i_{task}" / out).read_bytes() == \
            (tmp_path / f"g_{task}" / out).read_bytes(), task


def test_retrieve_ranks_the_manifest(exported, engine, mini_corpus, sample, tmp_path):
    s, image, _ = sample
    manifest = mini_corpus / "test.jsonl"
    rec = infer("retrieve", exported[0], tmp_path / "r", text=s.text, lang=s.lang, data=manifest,
                target="image", top=5, rerank=3)
    ranked = json.loads((tmp_path / "r" / "ranking.json").read_text())
    assert rec["ranking"] == [r["id"] for r in ranked] and len(ranked) == 5
    assert all("match_prob" in r for r in ranked[:3]) and "match_prob" not in ranked[3]
    # the checkpoint's ranking of the same query
    emb = embed_manifest(engine.model, engine.cfg, engine.tokenizer, manifest)
    query = engine.batch_of(s.text, lang=s.lang)
    q = engine.model.text_encoder(Tensor(query["text_ids"]),
                                  Tensor(query["text_mask"]))[2].asnumpy()[0]
    order = np.argsort(-(emb["image"] @ q), kind="stable")
    ids = [x.id for x in read_manifest(manifest)[0]]
    assert [r["id"] for r in ranked[3:]] == [ids[i] for i in order[3:5]]
    assert {r["id"] for r in ranked[:3]} == {ids[i] for i in order[:3]}


def test_bad_infer_input_exits_2_naming_it(exported, tmp_path, capsys):
    from zidong.cli import main
    assert main(["infer", "--mindir", str(tmp_path), "--task", "t2i", "--text", "x",
                 "--out", str(tmp_path / "o")]) == 2
    assert f"{tmp_path / 'export.json'}: not found" in capsys.readouterr().err
    assert main(["infer", "--mindir", str(exported[0]), "--task", "caption", "--text", "x",
                 "--out", str(tmp_path / "o")]) == 2
    assert "task caption needs --image" in capsys.readouterr().err


def test_export_and_ckpt_commands(tiny_run, tmp_path, capsys):
    from zidong.cli import main
    assert main(["export", "--ckpt", str(tiny_run[0]), "--out", str(tmp_path / "e"),
                 "--tasks", "caption,paint"]) == 2
    assert "unknown task(s) paint" in capsys.readouterr().err
    assert main(["ckpt", "list", str(tiny_run[0])]) == 0
    listing = capsys.readouterr().out
    assert "model.fusion.cls\t[1, 64]\tfloat32" in listing and "adam_m." not in listing
    assert main(["ckpt", "check", str(tiny_run[0]), "--config", "tiny"]) == 0
    assert main(["ckpt", "check", str(tiny_run[0]), "--config", "tiny",
                 "--set", "model.text_decoder.layers=3"]) == 1
    out = capsys.readouterr().out
    assert "unexpected 0, shape mismatches 0" in out and "text_decoder.stack.blocks.2." in out
