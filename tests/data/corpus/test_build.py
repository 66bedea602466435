import json

import pytest

from zidong.data.corpus import build_corpus, grammar
from zidong.data.manifest import read_manifest, resolve

SPLITS = ("train", "val", "test", "test_compositional", "photo_train", "photo_test")
TINY = dict(size=12, eval_size=6, photo_size=5, progress=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    info = build_corpus(root / "a", seed=3, workers=2, **TINY)
    build_corpus(root / "b", seed=3, workers=1, **TINY)
    return root, info


def _files(d):
    return {p.relative_to(d): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file() and p.name != "corpus.json"}


def test_deterministic_whatever_the_workers(built):
    root, _ = built
    a, b = _files(root / "a"), _files(root / "b")
    assert len(a) > 50 and a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_other_seed_differs(built, tmp_path):
    root, _ = built
    build_corpus(tmp_path, seed=4, workers=2, size=4, eval_size=0, photo_size=0, progress=False)
    assert (tmp_path / "images/train/000000.png").read_bytes() != \
        (root / "a/images/train/000000.png").read_bytes()


def test_manifests_counts_and_media(built):
    root, info = built
    want = {"train": 12, "val": 6, "test": 6, "test_compositional": 6, "photo_train": 5,
            "photo_test": 1}
    for split in SPLITS:
        samples, problems = read_manifest(root / "a" / f"{split}.jsonl")
        assert problems == [] and len(samples) == want[split], split
        assert info["splits"][split]["samples"] == want[split]
        for s in samples:
            assert s.lang in ("en", "zh")
            for rel in (s.image, s.audio):
                if rel is not None:
                    assert resolve(root / "a" / f"{split}.jsonl", rel).stat().st_size > 100
            if s.audio is not None:
                assert 0.1 < s.meta["duration"] < 8 and s.meta["voice"] and s.meta["rate"]
    saved = json.loads((root / "a/corpus.json").read_text(encoding="utf-8"))
    assert saved["samples"] == 36 and saved["samples_per_s"] > 0
    assert set(saved["duration"]) <= {"en", "zh"} and all(
        d["p95"] <= d["max"] for d in saved["duration"].values())


def test_scene_meta_held_out_geometry_and_caption(built):
    root, _ = built
    for split in SPLITS[:4]:
        for s in read_manifest(root / "a" / f"{split}.jsonl")[0]:
            scene = s.meta["scene"]
            held = [grammar.is_held_out(scene[g]) for g in ("a", "b")]
            assert any(held) if split == "test_compositional" else not any(held)
            if s.text is not None:
                assert s.text == grammar.caption(scene, s.lang)
            boxes = {g: [b["box"] for b in s.meta["boxes"] if b["group"] == g] for g in "ab"}
            rel = scene["relation"]
            if rel == "left":
                assert max(b[2] for b in boxes["a"]) <= min(b[0] for b in boxes["b"])
            elif rel == "right":
                assert min(b[0] for b in boxes["a"]) >= max(b[2] for b in boxes["b"])
            elif rel == "above":
                assert max(b[3] for b in boxes["a"]) <= min(b[1] for b in boxes["b"])
            else:
                assert min(b[1] for b in boxes["a"]) >= max(b[3] for b in boxes["b"])
            json.dumps(s.meta)                                   # JSON-plain


def test_weak_fraction_only_in_train(built):
    root, _ = built
    train = read_manifest(root / "a/train.jsonl")[0]
    weak = [s for s in train if sum(s.present()) < 3]
    assert len(weak) == round(0.2 * 12)
    assert all(sum(s.present()) == 2 and s.meta["dropped"] for s in weak)
    for split in SPLITS[1:]:
        assert all(all(s.present()) for s in read_manifest(root / "a" / f"{split}.jsonl")[0])


def test_photo_meta(built):
    root, _ = built
    for split in ("photo_train", "photo_test"):
        for s in read_manifest(root / "a" / f"{split}.jsonl")[0]:
            assert s.meta["source"] == "tuxpaint" and s.meta["stamp"].endswith(".png")
            assert s.text and s.text[-1] not in ".。!！"
