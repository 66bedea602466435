"""Rank tables (version 1.0) from /etc/hccn.conf text, merged across servers, and the rank-table
launcher's per-device environment: no NPU needed."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from zidong.parallel.rank_table import (RankTableError, make_rank_table, merge_rank_tables,
                                        parse_devices, parse_hccn_conf, validate)

REPO = Path(__file__).resolve().parents[2]
# as hccn_tool writes it on an Atlas 800 training server (8 x Ascend 910)
HCCN = "\n".join(f"address_{d}=192.98.{92 + d % 4}.{100 + d // 4}\n"
                 f"netmask_{d}=255.255.255.0\nnetdetect_{d}=192.98.{92 + d % 4}.1\n"
                 f"gateway_{d}=192.98.{92 + d % 4}.1\nsend_arp_status_{d}=1"
                 for d in range(8)) + "\n# comment\n\n"


def _table(server, base):
    return make_rank_table(server, {d: f"10.{base}.0.{d + 1}" for d in range(8)})


def test_hccn_conf_gives_every_device_ip():
    ips = parse_hccn_conf(HCCN)
    assert sorted(ips) == list(range(8))
    assert ips[0] == "192.98.92.100" and ips[5] == "192.98.93.101"


def test_one_server_table_has_the_version_1_0_layout():
    t = make_rank_table("10.155.111.140", parse_hccn_conf(HCCN), parse_devices("0-3"))
    assert t == {"version": "1.0", "server_count": "1", "status": "completed",
                 "server_list": [{"server_id": "10.155.111.140", "host_nic_ip": "reserve",
                                  "device": [{"device_id": str(d),
                                              "device_ip": parse_hccn_conf(HCCN)[d],
                                              "rank_id": str(d)} for d in range(4)]}]}


def test_device_specs():
    assert parse_devices("0-7") == parse_devices("[0,8)") == list(range(8))
    assert parse_devices("4,5,6,7") == [4, 5, 6, 7]
    with pytest.raises(RankTableError, match="repeated"):
        parse_devices("0,0")


def test_merged_tables_renumber_ranks_server_by_server():
    merged = merge_rank_tables([_table("10.0.0.1", 1), _table("10.0.0.2", 2)])
    assert merged["server_count"] == "2"
    ranks = [(s["server_id"], d["device_id"], d["rank_id"]) for s in merged["server_list"]
             for d in s["device"]]
    assert ranks[8] == ("10.0.0.2", "0", "8") and [int(r) for _, _, r in ranks] == list(range(16))


@pytest.mark.parametrize("bad,rule", [
    (lambda t: (t["server_list"].append(dict(t["server_list"][0])), t.update(server_count="2")),
     "listed twice"),
    (lambda t: t.update(server_count="3"), "server_count"),
    (lambda t: t["server_list"][0]["device"][1].update(device_ip="10.1.0.1"), "used twice"),
    (lambda t: t["server_list"][0]["device"][1].update(rank_id="9"), "rank_id values"),
    (lambda t: t["server_list"][0].update(server_id="node-1"), "not an IPv4 address"),
])
def test_broken_tables_are_refused_naming_the_problem(bad, rule):
    t = _table("10.0.0.1", 1)
    bad(t)
    with pytest.raises(RankTableError, match=rule):
        validate(t)


def test_merging_the_same_server_twice_is_refused():
    with pytest.raises(RankTableError, match="listed twice"):
        merge_rank_tables([_table("10.0.0.1", 1), _table("10.0.0.1", 2)])


def test_hccn_conf_errors_name_the_line():
    with pytest.raises(RankTableError, match=r"hccn.conf:2: address_0"):
        parse_hccn_conf("address_0=192.98.92.100\naddress_0=192.98.92.101\n")
    with pytest.raises(RankTableError, match="not an IPv4"):
        parse_hccn_conf("address_3=192.98.92.300\n")


def _run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=300, **kw)


def test_the_tools_write_and_merge_tables(tmp_path):
    conf = tmp_path / "hccn.conf"
    conf.write_text(HCCN)
    for i, server in enumerate(("10.0.0.1", "10.0.0.2")):
        r = _run([sys.executable, "tools/hccl_tools.py", "--hccn-conf", str(conf), "--server-ip",
                  server, "--out", str(tmp_path / f"node{i}.json")])
        assert r.returncode == 0, r.stderr
    r = _run([sys.executable, "tools/hccl_tools.py", "--device-ips", "0=10.9.0.1,1=10.9.0.2",
              "--server-ip", "10.0.0.3", "--out", str(tmp_path / "node2.json")])
    assert r.returncode == 0, r.stderr
    r = _run([sys.executable, "tools/merge_rank_tables.py", str(tmp_path / "node0.json"),
              str(tmp_path / "node2.json"), "--out", str(tmp_path / "job.json")])
    assert r.returncode == 0, r.stderr
    job = json.loads((tmp_path / "job.json").read_text())
    validate(job)
    assert job["server_count"] == "2" and job["server_list"][1]["device"][1]["rank_id"] == "9"
    # the same hccn.conf copied to two servers: their NPUs would share IPs
    r = _run([sys.executable, "tools/merge_rank_tables.py", str(tmp_path / "node0.json"),
              str(tmp_path / "node1.json"), "--out", str(tmp_path / "bad.json")])
    assert r.returncode == 2 and "used twice" in r.stderr
    r = _run([sys.executable, "tools/hccl_tools.py", "--hccn-conf", str(tmp_path / "missing")])
    assert r.returncode == 2 and "not found" in r.stderr


def test_launcher_gives_each_device_its_rank_from_the_table(tmp_path):
    job = tmp_path / "job.json"
    job.write_text(json.dumps(merge_rank_tables([_table("10.0.0.1", 1), _table("10.0.0.2", 2)])))
    r = _run(["bash", "tools/launch_rank_table.sh", str(job), "--server-id", "10.0.0.2",
              "--log-dir", str(tmp_path / "logs"), "--dry-run", "--", "version"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 8
    assert lines[0].startswith(f"RANK_TABLE_FILE={job} RANK_SIZE=16 RANK_ID=8 DEVICE_ID=0 python ")
    assert "RANK_ID=15 DEVICE_ID=7" in lines[7] and lines[7].endswith("rank_15.log")
    r = _run(["bash", "tools/launch_rank_table.sh", str(job), "--server-id", "10.0.0.9",
              "--dry-run", "--", "version"])
    assert r.returncode == 2 and "['10.0.0.9'] is a server_id of the table" in r.stderr


def test_launcher_runs_the_processes_and_names_the_failing_rank(tmp_path):
    job = tmp_path / "job.json"
    job.write_text(json.dumps(make_rank_table("10.0.0.1", {0: "10.1.0.1", 1: "10.1.0.2"})))
    ok = _run(["bash", "tools/launch_rank_table.sh", str(job), "--server-id", "10.0.0.1",
               "--log-dir", str(tmp_path / "ok"), "--", "version"])
    assert ok.returncode == 0, ok.stderr
    assert all("zidong" in (tmp_path / "ok" / f"rank_{r}.log").read_text() for r in (0, 1))
    bad = _run(["bash", "tools/launch_rank_table.sh", str(job), "--server-id", "10.0.0.1",
                "--log-dir", str(tmp_path / "bad"), "--", "plan", "--config", "nosuchpreset"])
    assert bad.returncode == 2
    assert "exited with status 2" in bad.stderr and "rank_" in bad.stderr
    assert "nosuchpreset" in bad.stderr
