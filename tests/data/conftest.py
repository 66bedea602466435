"""Small data sets written on the fly: PNG images, WAV tones, captions, in the manifest format."""
import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from zidong.data.manifest import Sample, write_manifest
from zidong.data.tokenizer import Tokenizer

CAPTIONS = ["a big red circle is to the left of two small blue squares",
            "两个小的绿色圆形在一个大的紫色星星的左边。",
            "three small white crosses are above a big yellow heart",
            "一个大的红色心形在三个小的白色十字的上面。"]


def write_png(path, seed, size=40, mode="RGB"):
    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(arr, "RGB").convert(mode).save(path)
    return path


def write_wav(path, seed, seconds=0.6, sr=16000, channels=1, amplitude=0.3):
    t = np.arange(int(seconds * sr)) / sr
    wave = amplitude * np.sin(2 * np.pi * (200 + 50 * seed) * t)
    if channels > 1:
        wave = np.stack([wave] * channels, 1)
    sf.write(path, wave, sr, subtype="PCM_16")
    return path


def make_manifest(root, n=12, presence=None):
    """n samples cycling through modality subsets; returns the manifest path."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "audio").mkdir(exist_ok=True)
    subsets = presence or [(1, 1, 1), (1, 0, 1), (0, 1, 1), (1, 1, 0), (0, 0, 1), (1, 0, 0)]
    samples = []
    for i in range(n):
        t, im, au = subsets[i % len(subsets)]
        text = CAPTIONS[i % len(CAPTIONS)]
        samples.append(Sample(
            id=f"s{i}", text=text if t else None, lang="zh" if "的" in text else "en",
            image=f"images/{i}.png" if im else None, audio=f"audio/{i}.wav" if au else None,
            label=i % 3, meta={"i": i}))
        write_png(root / "images" / f"{i}.png", i)
        write_wav(root / "audio" / f"{i}.wav", i)
    path = root / "train.jsonl"
    write_manifest(path, samples)
    return path


COLOURS = ["red", "green", "blue", "yellow", "purple", "orange", "white", "black"]
SHAPES = ["circle", "square", "triangle", "star", "heart", "cross"]
ZH_COLOURS = ["红色", "绿色", "蓝色", "黄色", "紫色", "橙色", "白色", "黑色"]
ZH_SHAPES = ["圆形", "正方形", "三角形", "星星", "心形", "十字"]
RELATIONS = ["to the left of", "to the right of", "above", "below"]
ZH_RELATIONS = ["左边", "右边", "上面", "下面"]


def training_captions():
    """Captions covering the whole caption vocabulary (a stand-in for the corpus builder's)."""
    out = []
    for i, (c, s) in enumerate([(c, s) for c in range(8) for s in range(6)]):
        c2, s2, r = (c + 3) % 8, (s + i) % 6, i % 4
        plural = SHAPES[s2] + ("es" if SHAPES[s2] == "cross" else "s")
        out.append(f"a big {COLOURS[c]} {SHAPES[s]} is {RELATIONS[r]} "
                   f"{['two', 'three'][i % 2]} small {COLOURS[c2]} {plural}")
        out.append(f"{'一两三'[i % 3]}个{'小大'[i % 2]}的{ZH_COLOURS[c]}{ZH_SHAPES[s]}在"
                   f"一个大的{ZH_COLOURS[c2]}{ZH_SHAPES[s2]}的{ZH_RELATIONS[r]}。")
    return out + CAPTIONS


@pytest.fixture(scope="session")
def tokenizer():
    return Tokenizer.train(training_captions(), 500)
