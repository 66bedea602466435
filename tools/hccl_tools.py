"""Write this server's HCCL rank table (version 1.0) for rank-table launch on Ascend.

    python tools/hccl_tools.py [--hccn-conf /etc/hccn.conf | --device-ips 0=IP,1=IP,...]
                               [--devices 0-7] [--server-ip IP] [--out FILE]

Device IPs come from /etc/hccn.conf (address_<device>=<ip>, written by the NPU driver's hccn_tool)
or from --device-ips. The server IP defaults to this host's address. Join the servers' tables with
tools/merge_rank_tables.py, then start each server with tools/launch_rank_table.sh.
"""
import argparse
import json
import socket
import sys
from pathlib import Path

from zidong.parallel.rank_table import (RankTableError, make_rank_table, parse_devices,
                                        parse_hccn_conf)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hccn-conf", default="/etc/hccn.conf")
    p.add_argument("--device-ips", default=None, help="0=192.98.92.100,1=192.98.93.100,...")
    p.add_argument("--devices", default=None, help="subset of devices: 0-7, 0,1,2,3 or [0,8)")
    p.add_argument("--server-ip", default=None)
    p.add_argument("--out", default=None, help="default: hccl_<n>p_<devices>_<server-ip>.json")
    a = p.parse_args(argv)
    try:
        if a.device_ips:
            ips = parse_hccn_conf("\n".join(f"address_{kv.strip()}" for kv in a.device_ips.split(",")),
                                  "--device-ips")
        else:
            conf = Path(a.hccn_conf)
            if not conf.is_file():
                raise RankTableError(f"{conf}: not found (no NPU driver here?); pass --device-ips")
            ips = parse_hccn_conf(conf.read_text(), str(conf))
        devices = parse_devices(a.devices) if a.devices else None
        server = a.server_ip or socket.gethostbyname(socket.gethostname())
        table = make_rank_table(server, ips, devices)
    except RankTableError as e:
        print(f"hccl_tools: {e}", file=sys.stderr)
        return 2
    devs = [d["device_id"] for d in table["server_list"][0]["device"]]
    out = Path(a.out or f"hccl_{len(devs)}p_{''.join(devs)}_{server}.json")
    out.write_text(json.dumps(table, indent=4) + "\n")
    print(f"rank table for {server}, devices {','.join(devs)} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
