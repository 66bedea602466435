"""Re-estimate a checkpoint's vision-encoder BatchNorm statistics on clean training images and
write the result as a new run folder (zidong/train/batchnorm.py says why; runs trained since
``train.bn_recalibrate`` existed did this when they ended).

    .venv/bin/python tools/recalibrate_batchnorm.py --ckpt runs/bench36/full --out runs/bench36/full_bn
        [--data cache/corpus/train.jsonl] [--batches 50]

Every other tensor, the config, the tokenizer and the run's data path are copied unchanged; the
new folder works wherever the old one did (``--init-from``, ``zidong eval``, export).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, help="a run folder or a checkpoint file")
    ap.add_argument("--out", required=True, help="the new run folder")
    ap.add_argument("--data", default=None, help="default: the run's own training manifest")
    ap.add_argument("--batches", type=int, default=50)
    args = ap.parse_args(argv)

    import mindspore as ms

    from zidong.config.loader import config_from_dict
    from zidong.eval.load import load_run, resolve_checkpoint
    from zidong.runtime import init_env
    from zidong.train.batchnorm import batchnorm_cells, recalibrate_on
    from zidong.train.checkpoint import load_state, save_state

    ckpt = resolve_checkpoint(args.ckpt)
    params, meta, blobs = load_state(ckpt)
    # the run's own oneDNN cap, before the first convolution (zidong/runtime.py)
    init_env(config_from_dict(meta["config"], f"{ckpt} (embedded config)").context)
    model, cfg, tokenizer, _ = load_run(ckpt)
    info = ckpt.parent / "run.json"
    data = args.data or (json.loads(info.read_text())["data"] if info.is_file() else None)
    if data is None:
        raise SystemExit(f"{info}: missing, so the run's training data is unknown; pass --data")
    encoder = model.vision_encoder
    if not batchnorm_cells(encoder):
        raise SystemExit(f"{ckpt}: its vision encoder has no BatchNorm (model.vision.stem "
                         f"{cfg.model.vision.stem!r}); nothing to re-estimate")
    rows = cfg.train.batch_size
    cells = recalibrate_on(encoder, data, cfg, tokenizer, args.batches)
    for p in encoder.get_parameters():
        if p.name.endswith(("moving_mean", "moving_variance")):
            name = "model." + p.name   # as the training net names it
            if name not in params:
                raise SystemExit(f"{ckpt}: no tensor {name}")
            params[name] = ms.Parameter(p.value(), name=name, requires_grad=False)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {**meta, "bn_recalibrated": {"batches": args.batches, "rows": rows, "data": str(data),
                                        "from": str(ckpt)}}
    # load_state's Parameters carry their names as the dict's keys only
    tensors = [ms.Parameter(v.value(), name=k, requires_grad=False) for k, v in params.items()]
    path = save_state(out / ckpt.name, tensors, meta, blobs)
    for extra in ("run.json", "tokenizer.model"):
        if (ckpt.parent / extra).is_file():
            shutil.copy(ckpt.parent / extra, out / extra)
    print(f"{path}: BatchNorm statistics of {cells} layer(s) re-estimated on {args.batches} "
          f"clean batches of {rows} from {data}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
