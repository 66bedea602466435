#!/usr/bin/env bash
# Start a distributed zidong job with MindSpore's msrun, on one node or many.
#
#   tools/launch.sh [--nnodes N] [--node-rank R] [--master-addr HOST] [--master-port PORT]
#                   [--local-workers W] [--log-dir DIR] [--timeout S] -- <zidong arguments>
#
# Run the same command on every node, each with its own --node-rank (0 = the node that also hosts
# msrun's scheduler at --master-addr). W workers start on this node, N x W in the job; the config's
# parallel section must describe the same mesh (zidong plan checks it). Example, 2 CPU workers:
#   tools/launch.sh --local-workers 2 -- pretrain --config tiny --run-dir runs/dp \
#       --vq-ckpt runs/vq/vq/vq.safetensors --set parallel.devices_per_node=2 \
#       --set parallel.data_parallel=2
# Worker logs: DIR/worker_<rank>.log and DIR/scheduler.log (DIR defaults to
# <run>/logs/launch-<time> when the zidong arguments have --run-dir or --resume, else
# runs/launch-<time>/logs). Exit status: msrun's; on a
# failure the log of every worker that reported an error is named and its last lines printed.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
NNODES=1 NODE_RANK=0 MASTER_ADDR=127.0.0.1 MASTER_PORT=8118 LOCAL_WORKERS=8 LOG_DIR="" TIMEOUT=600

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --nnodes) NNODES="$2"; shift 2 ;;
    --node-rank) NODE_RANK="$2"; shift 2 ;;
    --master-addr) MASTER_ADDR="$2"; shift 2 ;;
    --master-port) MASTER_PORT="$2"; shift 2 ;;
    --local-workers) LOCAL_WORKERS="$2"; shift 2 ;;
    --log-dir) LOG_DIR="$2"; shift 2 ;;
    --timeout) TIMEOUT="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    --) shift; break ;;
    *) echo "launch.sh: unknown option $1 (zidong arguments go after --)" >&2; usage ;;
  esac
done
[[ $# -gt 0 ]] || { echo "launch.sh: no zidong command after --" >&2; usage; }
for v in NNODES NODE_RANK MASTER_PORT LOCAL_WORKERS TIMEOUT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "launch.sh: ${v} must be a non-negative integer, got '${!v}'" >&2; exit 2; }
done
(( NODE_RANK < NNODES )) || { echo "launch.sh: --node-rank $NODE_RANK is not in [0, $NNODES)" >&2; exit 2; }

if [[ -z "$LOG_DIR" ]]; then
  prev=""
  for a in "$@"; do
    if [[ "$prev" == "--run-dir" || "$prev" == "--resume" ]]; then
      LOG_DIR="$a/logs/launch-$(date +%Y%m%d-%H%M%S)"
    fi
    prev="$a"
  done
  LOG_DIR="${LOG_DIR:-$REPO/runs/launch-$(date +%Y%m%d-%H%M%S)/logs}"
fi
mkdir -p "$LOG_DIR"

# msrun starts `python` from PATH: this checkout's virtualenv first
export PATH="$REPO/.venv/bin:$PATH"
export GLOG_v="${GLOG_v:-3}"
WORLD=$(( NNODES * LOCAL_WORKERS ))
echo "launch.sh: node $NODE_RANK of $NNODES, $LOCAL_WORKERS worker(s) here, $WORLD in the job; logs in $LOG_DIR"
set +e
msrun --worker_num="$WORLD" --local_worker_num="$LOCAL_WORKERS" --master_addr="$MASTER_ADDR" \
  --master_port="$MASTER_PORT" --node_rank="$NODE_RANK" --log_dir="$LOG_DIR" --join=True \
  --cluster_time_out="$TIMEOUT" "$REPO/tools/run_zidong.py" "$@"
status=$?
set -e
if (( status != 0 )); then
  echo "launch.sh: the job failed (msrun exit status $status); worker logs in $LOG_DIR" >&2
  for f in "$LOG_DIR"/worker_*.log; do
    [[ -f "$f" ]] || continue
    if grep -qE "Traceback|Error|error:" "$f"; then
      echo "---- $f (last 15 lines) ----" >&2
      tail -n 15 "$f" >&2
    fi
  done
fi
exit $status
