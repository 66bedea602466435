"""``zidong data subset``: a view of manifests (modalities, required ones, a label from meta)."""
import json

import pytest

from zidong.cli import main
from zidong.data.manifest import DataError, read_manifest, resolve
from zidong.data.subset import subset_manifests


def test_a_label_from_summed_meta_keys_shares_one_class_list(mini_corpus, tmp_path):
    ins = [mini_corpus / "train.jsonl", mini_corpus / "test.jsonl"]
    report = subset_manifests(ins, tmp_path / "count", require=("image",),
                              label="meta:scene.a.count+scene.b.count")
    classes = json.loads((tmp_path / "count" / "classes.json").read_text())["classes"]
    assert classes == report["classes"] and set(classes) <= {2, 3, 4, 5, 6}
    for src in ins:
        before = {s.id: s for s in read_manifest(src)[0]}
        after, problems = read_manifest(tmp_path / "count" / src.name)
        assert not problems and after
        assert report["inputs"][str(src)]["skipped"]["missing_modality"] == \
            sum(s.image is None for s in before.values())
        for s in after:
            scene = before[s.id].meta["scene"]
            assert classes[s.label] == scene["a"]["count"] + scene["b"]["count"]
            # media still found from the new folder, other modalities kept
            assert resolve(tmp_path / "count" / src.name, s.image).is_file()
            assert s.text == before[s.id].text
            assert (s.audio is None) == (before[s.id].audio is None)


def test_image_only_view_keeps_no_text_label_or_meta(mini_corpus, tmp_path):
    src = mini_corpus / "train.jsonl"
    assert main(["data", "subset", str(src), "--out-dir", str(tmp_path), "--keep", "image",
                 "--label", "none", "--drop-meta"]) == 0
    samples = read_manifest(tmp_path / "train.jsonl")[0]
    n_images = sum(s.image is not None for s in read_manifest(src)[0])
    assert len(samples) == n_images   # the image-less samples are left with nothing: dropped
    assert all(s.text is None and s.audio is None and s.label is None and s.meta == {}
               for s in samples)


def test_a_sample_without_the_key_is_skipped_and_counted(mini_corpus, tmp_path):
    photo, scenes = mini_corpus / "photo_test.jsonl", mini_corpus / "test.jsonl"
    report = subset_manifests([photo, scenes], tmp_path, label="meta:scene.a.count")
    counts = report["inputs"][str(photo)]      # photos have no scene graph
    assert counts["written"] == 0
    assert counts["skipped"]["missing_label"] == len(read_manifest(photo)[0]) > 0
    assert report["inputs"][str(scenes)]["written"] == len(read_manifest(scenes)[0])
    assert report["classes"] == [1, 2, 3]


@pytest.mark.parametrize("kwargs,message", [
    ({"label": "scene.a.count"}, "expected keep, none or meta:KEY"),
    ({"keep": ("video",)}, "unknown modality 'video'"),
])
def test_bad_options_are_named(mini_corpus, tmp_path, kwargs, message):
    with pytest.raises(DataError, match=message):
        subset_manifests([mini_corpus / "train.jsonl"], tmp_path, **kwargs)
