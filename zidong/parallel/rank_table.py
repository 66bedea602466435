"""HCCL rank tables (version 1.0), the launch method Ascend clusters used before msrun.

A table lists every server and, for each of its NPUs, the device id, the IP of the NPU's RoCE port
(``address_N`` in ``/etc/hccn.conf``) and the global rank::

    {"version": "1.0", "server_count": "2", "status": "completed",
     "server_list": [{"server_id": "10.0.0.1", "host_nic_ip": "reserve",
                      "device": [{"device_id": "0", "device_ip": "192.98.92.100", "rank_id": "0"},
                                 ...]}, ...]}

All values are strings, as HCCL expects. ``tools/hccl_tools.py`` writes one server's table,
``tools/merge_rank_tables.py`` joins the servers' tables, ``tools/launch_rank_table.sh`` starts one
process per device of this server with RANK_TABLE_FILE / RANK_ID / DEVICE_ID / RANK_SIZE.
"""
from __future__ import annotations

import ipaddress
import re


class RankTableError(ValueError):
    pass


def _ip(value: str, what: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value.strip()))
    except ValueError:
        raise RankTableError(f"{what}: {value!r} is not an IPv4 address") from None


def parse_hccn_conf(text: str, source: str = "hccn.conf") -> dict[int, str]:
    """Device id -> device IP from ``address_<id>=<ip>`` lines (other keys, comments and blank
    lines are ignored)."""
    ips = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        m = re.fullmatch(r"address_(\d+)\s*=\s*(\S+)", line)
        if not m:
            continue
        dev = int(m.group(1))
        if dev in ips:
            raise RankTableError(f"{source}:{n}: address_{dev} given twice")
        ips[dev] = _ip(m.group(2), f"{source}:{n}: address_{dev}")
    if not ips:
        raise RankTableError(f"{source}: no address_<device>=<ip> lines")
    return ips


def parse_devices(spec: str) -> list[int]:
    """'0-7', '0,1,2,3', '[0,8)' (hccl_tools' own form) -> sorted device ids."""
    spec = spec.strip()
    m = re.fullmatch(r"\[(\d+),\s*(\d+)\)", spec)
    if m:
        out = list(range(int(m.group(1)), int(m.group(2))))
    else:
        out = []
        for part in spec.split(","):
            part = part.strip()
            if re.fullmatch(r"\d+-\d+", part):
                a, b = map(int, part.split("-"))
                out += list(range(a, b + 1))
            elif part.isdigit():
                out.append(int(part))
            else:
                raise RankTableError(f"devices: {spec!r}: expected e.g. 0-7, 0,1,2,3 or [0,8)")
    if not out or len(set(out)) != len(out):
        raise RankTableError(f"devices: {spec!r}: empty or repeated device ids")
    return sorted(out)


def make_rank_table(server_ip: str, device_ips: dict[int, str],
                    devices: list[int] | None = None, first_rank: int = 0) -> dict:
    """One server's table; ranks numbered from ``first_rank`` in device order."""
    server_ip = _ip(server_ip, "server_ip")
    devices = sorted(device_ips) if devices is None else devices
    missing = [d for d in devices if d not in device_ips]
    if missing:
        raise RankTableError(f"devices {missing} have no IP (address_<id> in hccn.conf)")
    table = {"version": "1.0", "server_count": "1", "status": "completed",
             "server_list": [{"server_id": server_ip, "host_nic_ip": "reserve",
                              "device": [{"device_id": str(d), "device_ip": device_ips[d],
                                          "rank_id": str(first_rank + i)}
                                         for i, d in enumerate(devices)]}]}
    validate(table)
    return table


def merge_rank_tables(tables: list[dict]) -> dict:
    """Servers in the order given, ranks renumbered 0..N-1 server by server."""
    if not tables:
        raise RankTableError("no rank tables to merge")
    servers = []
    for i, t in enumerate(tables):
        validate(t, f"table {i}")
        servers += [dict(s, device=[dict(d) for d in s["device"]]) for s in t["server_list"]]
    rank = 0
    for s in servers:
        for d in s["device"]:
            d["rank_id"] = str(rank)
            rank += 1
    merged = {"version": "1.0", "server_count": str(len(servers)), "status": "completed",
              "server_list": servers}
    validate(merged, "merged table")
    return merged


def validate(table: dict, what: str = "rank table") -> None:
    """The checks HCCL would otherwise fail on at start-up, with the offending entry named."""
    if table.get("version") != "1.0":
        raise RankTableError(f"{what}: version must be '1.0', got {table.get('version')!r}")
    servers = table.get("server_list")
    if not isinstance(servers, list) or not servers:
        raise RankTableError(f"{what}: server_list is missing or empty")
    if table.get("server_count") != str(len(servers)):
        raise RankTableError(f"{what}: server_count {table.get('server_count')!r} but "
                             f"{len(servers)} servers listed")
    seen_servers, seen_ips, ranks = set(), set(), []
    for s in servers:
        sid = s.get("server_id", "")
        _ip(sid, f"{what}: server_id")
        if sid in seen_servers:
            raise RankTableError(f"{what}: server {sid} listed twice")
        seen_servers.add(sid)
        devs = s.get("device") or []
        if not devs:
            raise RankTableError(f"{what}: server {sid} has no device")
        ids = [d.get("device_id") for d in devs]
        if len(set(ids)) != len(ids):
            raise RankTableError(f"{what}: server {sid} lists a device_id twice")
        for d in devs:
            if not all(isinstance(d.get(k), str) for k in ("device_id", "device_ip", "rank_id")):
                raise RankTableError(f"{what}: server {sid}: device {d} needs string device_id, "
                                     f"device_ip and rank_id")
            ip = _ip(d["device_ip"], f"{what}: server {sid} device {d['device_id']}")
            if ip in seen_ips:
                raise RankTableError(f"{what}: device_ip {ip} used twice")
            seen_ips.add(ip)
            ranks.append(int(d["rank_id"]))
    if sorted(ranks) != list(range(len(ranks))):
        raise RankTableError(f"{what}: rank_id values must be 0..{len(ranks) - 1} once each, "
                             f"got {sorted(ranks)}")


def devices_of(table: dict, server_id: str) -> list[dict]:
    """This server's devices (device_id, rank_id), for the launcher."""
    for s in table["server_list"]:
        if s["server_id"] == server_id:
            return s["device"]
    raise RankTableError(f"server {server_id} is not in the rank table; servers: "
                         f"{[s['server_id'] for s in table['server_list']]}")


def rank_size(table: dict) -> int:
    return sum(len(s["device"]) for s in table["server_list"])
