#!/usr/bin/env bash
# The main job on the embedded default. Until `zidong pretrain` lands it builds the `small` model
# and trains it for two steps on a synthetic batch (graph mode, CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
export GLOG_v=${GLOG_v:-3}
zidong version
zidong plan --config small
python -m zidong.train.smoke --config small "$@"
