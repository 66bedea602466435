from zidong.data.check import check_manifest
from zidong.data.folder import import_folder
from tests.data.conftest import write_png, write_wav


def test_folder_of_images_captions_and_recordings_becomes_a_manifest(tmp_path):
    src = tmp_path / "my_photos"
    (src / "pets").mkdir(parents=True)
    write_png(src / "pets" / "cat.png", 1)
    (src / "pets" / "cat.txt").write_text("a grey cat on a sofa\n")
    write_wav(src / "pets" / "cat.wav", 1)
    write_png(src / "dog.png", 2)
    (src / "dog.txt").write_text("一只小狗")
    write_wav(src / "bird.wav", 3)
    (src / "notes.md").write_text("ignored")
    info = import_folder(src, tmp_path / "out" / "mine.jsonl")
    assert info["samples"] == 3
    assert info["combinations"] == {"audio": 1, "text+image": 1, "text+image+audio": 1}
    assert info["ignored"] == [str(src / "notes.md")]
    summary, problems = check_manifest(tmp_path / "out" / "mine.jsonl")
    assert not problems and summary["languages"] == {"-": 1, "zh": 1, "en": 1}
    assert summary["audio_formats"] == {"16000 Hz, 1 ch": 2}
