import re
import subprocess
import sys

from zidong.cli import main
from zidong.config import load_config
from zidong.models.param_count import count_parameters


def test_plan_prints_every_component_and_the_exact_total(capsys):
    assert main(["plan", "--config", "xl"]) == 0
    out = capsys.readouterr().out
    counts = count_parameters(load_config("xl").model)
    for name, n in counts.items():
        assert re.search(rf"^{name}\s+{n:,}\s", out, re.M), name


def test_plan_with_override_and_bad_config(capsys):
    assert main(["plan", "--config", "tiny", "--set", "model.fusion.layers=3"]) == 0
    assert f"{count_parameters(load_config('tiny', ['model.fusion.layers=3']).model)['total']:,}" \
        in capsys.readouterr().out
    assert main(["plan", "--config", "tiny", "--set", "model.fusion.heads=5"]) == 2
    err = capsys.readouterr().err
    assert "tiny.yaml: model.fusion.heads: hidden size 64 is not divisible by heads=5" in err


def test_console_entry_point_version():
    exe = [sys.executable, "-m", "zidong.cli", "version"]
    out = subprocess.run(exe, capture_output=True, text=True, check=True).stdout
    assert re.match(r"zidong \d+\.\d+\.\d+ \(mindspore 2\.10\.\d+\)", out)


def test_data_check_and_pack_from_the_command_line(tmp_path, capsys):
    from tests.data.conftest import make_manifest
    man = make_manifest(tmp_path, n=4)
    assert main(["data", "check", str(man)]) == 0
    assert "4 usable line(s), 0 problem(s)" in capsys.readouterr().out
    with man.open("a") as f:
        f.write("{broken\n")
    assert main(["data", "check", str(man)]) == 1
    assert f"{man}:5: not valid JSON" in capsys.readouterr().out
    assert main(["data", "pack", str(man), "--out", str(tmp_path / "p.mindrecord")]) == 0
    captured = capsys.readouterr()
    assert "packed 4 samples" in captured.out and "not valid JSON" in captured.err
    assert main(["data", "pack", str(man), "--out", str(tmp_path / "q.mindrecord"),
                 "--strict"]) == 2
    assert f"data error: {man}:5: not valid JSON" in capsys.readouterr().err
