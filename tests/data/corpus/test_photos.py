import numpy as np
import pytest
from PIL import Image

from zidong.data.corpus import photos


def _stamp(root, name, txt: bytes | None):
    p = root / f"{name}.png"
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGBA", (60, 40), (200, 30, 30, 255)).save(p)
    if txt is not None:
        p.with_suffix(".txt").write_bytes(txt)


@pytest.fixture
def stamps(tmp_path):
    _stamp(tmp_path, "animals/cat", "A cat. It purrs!\naf.utf8='n Kat.\nzh_CN.utf8=一只猫。\n".encode())
    _stamp(tmp_path, "animals/dog", b"A dog.\nzh_CN.utf8=\n")                 # empty Chinese
    _stamp(tmp_path, "coins/half", "A “Kennedy Half Dollar.”\n".encode())      # no Chinese line
    _stamp(tmp_path, "odd/latin1", "A café sign.\n".encode("latin-1"))           # not UTF-8
    _stamp(tmp_path, "odd/binary", b"\x00\x01\x02garbage")
    _stamp(tmp_path, "odd/empty", b"")
    _stamp(tmp_path, "odd/keysonly", "fr.utf8=Un chat.\n".encode())
    _stamp(tmp_path, "odd/notxt", None)
    return tmp_path


def test_read_description_and_clean(stamps):
    d = photos.read_description(stamps / "animals/cat.txt")
    assert d == {"en": "A cat", "zh": "一只猫", "description": "A cat. It purrs!"}
    assert photos.read_description(stamps / "animals/dog.txt")["zh"] is None
    assert photos.read_description(stamps / "coins/half.txt")["en"] == "A “Kennedy Half Dollar”"
    assert photos.read_description(stamps / "odd/latin1.txt")["en"] == "A café sign"
    for bad in ("binary", "empty", "keysonly"):
        with pytest.raises(ValueError):
            photos.read_description(stamps / f"odd/{bad}.txt")
    assert photos.clean_caption("Fire! Fire! Fire!", "en") == "Fire"
    assert photos.clean_caption("A U.S. Army jeep. Vroom.", "en") == "A U.S. Army jeep"
    assert photos.clean_caption("Ｔｕｘ一只企鹅！！", "zh") == "Tux一只企鹅"
    assert photos.clean_caption("Is it a bird?", "en") == "Is it a bird?"


def test_list_stamps_skips_and_counts(stamps):
    found, skipped = photos.list_stamps(str(stamps))
    assert [s["stamp"] for s in found] == ["animals/cat.png", "animals/dog.png", "coins/half.png",
                                           "odd/latin1.png"]
    assert sum(skipped.values()) == 4 and skipped["no .txt"] == 1
    pairs = [(s["stamp"], lang) for split in ("photo_train", "photo_test")
             for s, lang in photos.variants(split, ("en", "zh"), str(stamps))]
    assert sorted(pairs) == [("animals/cat.png", "en"), ("animals/cat.png", "zh"),
                             ("animals/dog.png", "en"), ("coins/half.png", "en"),
                             ("odd/latin1.png", "en")]


def test_compose_places_stamp_inside(stamps):
    img, box, kind = photos.compose("animals/cat.png", np.random.default_rng(0), str(stamps))
    assert img.size == (128, 128) and img.mode == "RGB" and kind in ("grey", "gradient", "noise")
    x0, y0, x1, y1 = box
    assert 0 <= x0 < x1 <= 128 and 0 <= y0 < y1 <= 128 and max(x1 - x0, y1 - y0) >= 64
    centre = np.asarray(img)[(y0 + y1) // 2, (x0 + x1) // 2]
    assert np.abs(centre.astype(int) - (200, 30, 30)).max() < 10
