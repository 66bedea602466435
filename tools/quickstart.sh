#!/usr/bin/env bash
# The main job on the embedded default: build the built-in corpus (cached), pretrain the VQ stage
# and the `small` preset on the CPU (~35 minutes on 2 cores), then evaluate retrieval.
# Extra arguments go to `zidong pretrain` (e.g. --set train.max_minutes=5 for a shorter run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export PATH="$PWD/.venv/bin:$PATH"   # msrun starts `python` from PATH
export GLOG_v=${GLOG_v:-3}
zidong version
zidong plan --config small
run="runs/quickstart-$(date +%Y%m%d-%H%M%S)"
zidong pretrain --run-dir "$run" "$@"
zidong eval --ckpt "$run" --data cache/corpus/test.jsonl --tasks retrieval --out "$run/eval"
echo "run: $run  (curves: $run/curves.png, retrieval: $run/eval/report.md)"
