#!/usr/bin/env bash
# The main job on the embedded default: build the built-in corpus (cached), pretrain the VQ stage
# and the `small` preset on the CPU (~45 minutes on 2 cores), evaluate retrieval, export the run's
# inference graphs to MINDIR and answer two queries from those files alone (no checkpoint, no
# model classes), so that every quickstart also exercises the deployment path.
# Extra arguments go to `zidong pretrain` (e.g. --set train.max_minutes=5 for a shorter run);
# ZIDONG_CACHE moves the corpus cache, QUICKSTART_RUN names the run folder.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
export PATH="$PWD/.venv/bin:$PATH"   # msrun starts `python` from PATH
export GLOG_v=${GLOG_v:-3}
corpus="${ZIDONG_CACHE:-cache}/corpus"  # where `zidong pretrain` builds (or finds) the corpus
zidong version
zidong plan --config small
run="${QUICKSTART_RUN:-runs/quickstart-$(date +%Y%m%d-%H%M%S)}"
zidong pretrain --run-dir "$run" "$@"
zidong eval --ckpt "$run" --data "$corpus/test.jsonl" --tasks retrieval --out "$run/eval"
zidong export --ckpt "$run" --out "$run/deploy"

# The first test sample with a caption and an image (manifest paths are relative to it).
mapfile -t first < <(python - "$corpus/test.jsonl" <<'EOF'
import json, os, sys
path = sys.argv[1]
row = next(r for r in map(json.loads, open(path, encoding="utf-8")) if r["text"] and r["image"])
print(row["text"], os.path.join(os.path.dirname(path), row["image"]), row["lang"], sep="\n")
EOF
)
query=${first[0]} image=${first[1]} lang=${first[2]}
zidong infer --mindir "$run/deploy" --task retrieve --text "$query" --lang "$lang" \
    --data "$corpus/test.jsonl" --target image --top 5 --out "$run/deploy_retrieve" >/dev/null
zidong infer --mindir "$run/deploy" --task caption --image "$image" --lang "$lang" \
    --out "$run/deploy_caption" >/dev/null
echo "run: $run  (curves: $run/curves.png, retrieval: $run/eval/report.md)"
python - "$run" <<'EOF'
import json, sys
run = sys.argv[1]
ranked, caption = (json.load(open(f"{run}/{d}/infer.json", encoding="utf-8"))
                   for d in ("deploy_retrieve", "deploy_caption"))
print(f"export: {run}/deploy; answered from the MINDIR files alone:")
print(f"  retrieve: {ranked['inputs']['text']!r} -> {', '.join(ranked['ranking'])}  "
      f"({run}/deploy_retrieve/)")
print(f"  caption of {caption['inputs']['image']}: {caption['text']!r}  ({run}/deploy_caption/)")
EOF
