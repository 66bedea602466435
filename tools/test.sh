#!/usr/bin/env bash
# Set up (if needed) and run the test suite on the CPU. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export PATH="$PWD/.venv/bin:$PATH"   # msrun starts `python` from PATH
export GLOG_v=${GLOG_v:-3}           # MindSpore: errors only
exec python -m pytest "$@"
