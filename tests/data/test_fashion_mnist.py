import numpy as np
from PIL import Image

from zidong.data.corpus import tts
from zidong.data.fashion_mnist import (CLASS_NAMES, CLASSES_EN, FASHION_ROOT, FILES,
                                       import_fashion_mnist, read_idx)
from zidong.data.manifest import read_manifest, resolve


def test_import_with_limit(tmp_path):
    info = import_fashion_mnist(tmp_path, limit=25, progress=False)
    assert info["splits"]["train"]["samples"] == 25 and info["splits"]["test"]["samples"] == 25
    for split, (img_file, lab_file) in FILES.items():
        raw_images, raw_labels = read_idx(FASHION_ROOT / img_file), read_idx(FASHION_ROOT / lab_file)
        assert raw_images.shape[1:] == (28, 28) and len(raw_images) == len(raw_labels)
        samples, problems = read_manifest(tmp_path / f"{split}.jsonl")
        assert problems == [] and len(samples) == 25
        assert [s.label for s in samples] == raw_labels[:25].tolist()
        assert {s.lang for s in samples} == {"en", "zh"}
        for i, s in enumerate(samples):
            assert s.text == CLASS_NAMES[s.lang][s.label]
            assert s.meta["class_name_en"] == CLASSES_EN[s.label]
            with Image.open(resolve(tmp_path / f"{split}.jsonl", s.image)) as im:
                assert im.mode == "L" and im.size == (28, 28)
                assert np.array_equal(np.asarray(im), raw_images[i])
            assert resolve(tmp_path / f"{split}.jsonl", s.audio).is_file()
            assert s.audio.startswith(f"audio/{s.lang}/{s.label}_")
    # One WAV per (class, language, voice), shared by the samples.
    wavs = list((tmp_path / "audio").rglob("*.wav"))
    assert len(wavs) == 10 * (len(tts.voices("en")) + len(tts.voices("zh")))
    assert CLASS_NAMES["zh"][0] == "T恤" and CLASS_NAMES["zh"][1] == "裤子"
