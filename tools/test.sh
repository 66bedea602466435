#!/usr/bin/env bash
# Set up (if needed) and run the test suite on the CPU. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export PATH="$PWD/.venv/bin:$PATH"   # msrun starts `python` from PATH
export GLOG_v=${GLOG_v:-3}           # MindSpore: errors only
# Two processes, each test file kept in one (its module fixtures compile once): most of the time
# is single-threaded graph compilation, so this runs the suite in ~16 instead of ~21 minutes on
# 2 cores. ZIDONG_TEST_WORKERS=0 (or -n 0) runs it in this process.
exec python -m pytest -n "${ZIDONG_TEST_WORKERS:-2}" --dist loadfile "$@"
