#!/usr/bin/env bash
# Rank-table launch (Ascend, HCCL): one process per NPU of this server, as listed in the job's rank
# table (tools/hccl_tools.py on each server, then tools/merge_rank_tables.py). Run it on every
# server with the same table:
#
#   tools/launch_rank_table.sh RANK_TABLE.json [--server-id IP] [--log-dir DIR] [--dry-run] \
#       -- <zidong arguments>
#
# Each process gets RANK_TABLE_FILE, RANK_SIZE, RANK_ID (from the table) and DEVICE_ID; its output
# goes to DIR/rank_<RANK_ID>.log (DIR defaults to <run>/logs/rank_table-<time> when the zidong
# arguments have --run-dir or --resume). --server-id defaults to the table's server whose IP is one
# of this host's. If a process fails, the others are stopped and its log is named. --dry-run prints
# what would be started.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
[[ $# -ge 1 && "$1" != -* ]] || { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
TABLE="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; shift
SERVER="" LOG_DIR="" DRY=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --server-id) SERVER="$2"; shift 2 ;;
    --log-dir) LOG_DIR="$2"; shift 2 ;;
    --dry-run) DRY=1; shift ;;
    --) shift; break ;;
    *) echo "launch_rank_table.sh: unknown option $1 (zidong arguments go after --)" >&2; exit 2 ;;
  esac
done
[[ $# -gt 0 ]] || { echo "launch_rank_table.sh: no zidong command after --" >&2; exit 2; }
export PATH="$REPO/.venv/bin:$PATH"
export GLOG_v="${GLOG_v:-3}"
[[ -n "$SERVER" ]] || SERVER="$(hostname -I 2>/dev/null || true)"
# "<rank_size> <device_id>:<rank_id> ..." for this server, after validating the table
INFO="$(python - "$TABLE" "$SERVER" <<'PY'
import json, sys
from zidong.parallel.rank_table import RankTableError, devices_of, rank_size, validate
path, candidates = sys.argv[1], sys.argv[2].split()
try:
    table = json.load(open(path))
    validate(table, path)
    ids = [s["server_id"] for s in table["server_list"]]
    mine = [c for c in candidates if c in ids]
    if not mine:
        raise RankTableError(f"none of this host's addresses {candidates} is a server_id of the "
                             f"table {ids}; pass --server-id")
    devs = devices_of(table, mine[0])
except (RankTableError, OSError, json.JSONDecodeError) as e:
    print(f"launch_rank_table.sh: {e}", file=sys.stderr)
    sys.exit(2)
print(rank_size(table), " ".join(f"{d['device_id']}:{d['rank_id']}" for d in devs))
PY
)"   # exits here, with python's status 2, when the table or the server is wrong
read -r RANK_SIZE PAIRS <<< "$INFO"
if [[ -z "$LOG_DIR" ]]; then
  prev=""
  for a in "$@"; do
    [[ "$prev" == "--run-dir" || "$prev" == "--resume" ]] && LOG_DIR="$a/logs/rank_table-$(date +%Y%m%d-%H%M%S)"
    prev="$a"
  done
  LOG_DIR="${LOG_DIR:-$REPO/runs/rank_table-$(date +%Y%m%d-%H%M%S)}"
fi
declare -A PIDS=()
for pair in $PAIRS; do
  dev="${pair%%:*}" rank="${pair##*:}"
  if (( DRY )); then
    echo "RANK_TABLE_FILE=$TABLE RANK_SIZE=$RANK_SIZE RANK_ID=$rank DEVICE_ID=$dev python $REPO/tools/run_zidong.py $* > $LOG_DIR/rank_$rank.log"
    continue
  fi
  mkdir -p "$LOG_DIR"
  RANK_TABLE_FILE="$TABLE" RANK_SIZE="$RANK_SIZE" RANK_ID="$rank" DEVICE_ID="$dev" \
    python "$REPO/tools/run_zidong.py" "$@" > "$LOG_DIR/rank_$rank.log" 2>&1 &
  PIDS[$!]=$rank
done
(( DRY )) && exit 0
echo "launch_rank_table.sh: ${#PIDS[@]} process(es) on this server, $RANK_SIZE in the job; logs in $LOG_DIR"
status=0
while (( ${#PIDS[@]} )); do
  set +e; wait -n -p done_pid; rc=$?; set -e
  rank="${PIDS[$done_pid]}"; unset "PIDS[$done_pid]"
  if (( rc != 0 && status == 0 )); then   # the first failure; later ones are the stopped ranks
    status=$rc
    echo "launch_rank_table.sh: rank $rank exited with status $rc; stopping the others. Its log: $LOG_DIR/rank_$rank.log" >&2
    tail -n 15 "$LOG_DIR/rank_$rank.log" >&2
    for pid in "${!PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  fi
done
exit $status
