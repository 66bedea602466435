"""Merge a distributed run's per-rank checkpoints into one: ``zidong merge-ckpt`` as a script.

    python tools/merge_checkpoints.py RUN_DIR [--out FILE] [--step N] [--atol X]
"""
import sys

from zidong.cli import main

if __name__ == "__main__":
    sys.exit(main(["merge-ckpt"] + sys.argv[1:]))
