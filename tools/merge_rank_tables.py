"""Join per-server HCCL rank tables into the job's table (servers in the order given, ranks
renumbered 0..N-1 server by server); copy the result to every server.

    python tools/merge_rank_tables.py node0.json node1.json ... --out rank_table.json
"""
import argparse
import json
import sys
from pathlib import Path

from zidong.parallel.rank_table import RankTableError, merge_rank_tables


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("tables", nargs="+")
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    try:
        tables = []
        for t in a.tables:
            try:
                tables.append(json.loads(Path(t).read_text()))
            except (OSError, json.JSONDecodeError) as e:
                raise RankTableError(f"{t}: {e}") from None
        merged = merge_rank_tables(tables)
    except RankTableError as e:
        print(f"merge_rank_tables: {e}", file=sys.stderr)
        return 2
    Path(a.out).write_text(json.dumps(merged, indent=4) + "\n")
    n = sum(len(s["device"]) for s in merged["server_list"])
    print(f"{merged['server_count']} servers, {n} devices -> {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
