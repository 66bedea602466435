"""Does cross-modal alignment learn at all? Contrastive-only training of the three encoders.

A fast diagnostic (minutes, not the 30-minute benchmark): the encoders of a preset are trained with
symmetric InfoNCE between every present pair of the chosen modalities and nothing else, then
retrieval R@1 among 500 `test` candidates is measured. It is how the pooling and the input
LayerNorm of the encoders were chosen (docs/architecture.md, "Pooling").

    .venv/bin/python tools/probe_alignment.py --steps 300 --set model.text.pool=mean ...
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PAIRS = (("text", "image"), ("text", "speech"), ("image", "speech"))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="small")
    ap.add_argument("--set", dest="overrides", action="append", default=[],
                    help="config override KEY=VALUE, e.g. model.vision.pool=mean")
    ap.add_argument("--modalities", default="text,image,speech")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--eval-every", type=int, default=300)
    ap.add_argument("--no-input-ln", action="store_true",
                    help="replace the encoders' input LayerNorm by the identity")
    ap.add_argument("--corpus", default=None, help="default: the built-in corpus in the cache")
    ap.add_argument("--hard-groups", type=int, default=0, metavar="K",
                    help="serve runs of K scenes that share their pair of colours, so in-batch "
                         "negatives differ in shape, size, count or relation (0: plain shuffle)")
    ap.add_argument("--mae", type=float, default=0.0, metavar="W",
                    help="also regress the per-patch-normalised pixels of --mae-count hidden "
                         "patches from the vision tokens of a second, masked pass (SimMIM), "
                         "with weight W (0: off)")
    ap.add_argument("--mae-count", type=int, default=24, help="hidden patches per image")
    ap.add_argument("--loss", choices=("softmax", "sigmoid"), default="softmax",
                    help="pooled pair loss: InfoNCE (CLIP) or the pairwise sigmoid of SigLIP "
                         "(every pair an independent match / no-match, learnable scale and bias "
                         "starting at 10 and -10)")
    ap.add_argument("--filip", type=float, default=0.0, metavar="W",
                    help="also train token-level text-image alignment (FILIP late interaction: "
                         "a text token's score for an image is its best patch's cosine, a pair's "
                         "score the mean over tokens; both directions), weight W (0: off)")
    args = ap.parse_args(argv)

    import numpy as np
    import mindspore as ms
    from mindspore import nn, ops
    from zidong.config.loader import load_config
    from zidong.data.pipeline import DataPipeline
    from zidong.data.masking import mask_patches
    from zidong.data.tokenizer import Tokenizer
    from zidong.eval.retrieval import retrieval_metrics
    from zidong.models import create_model
    from zidong.models.layers import Linear, l2_normalize
    from zidong.models.patches import patchify
    from zidong.runtime import init_env
    from zidong.train.pretrain import default_corpus

    cfg = load_config(args.config, args.overrides)
    init_env(cfg.context)
    corpus = Path(args.corpus) if args.corpus else default_corpus()
    tok = Tokenizer.load(corpus / "tokenizer.model")
    mods = tuple(m for m in ("text", "image", "speech") if m in args.modalities.split(","))
    pairs = [(a, b) for a, b in PAIRS if a in mods and b in mods]
    if not pairs:
        ap.error("--modalities needs at least two of text, image, speech")
    model = create_model(cfg.model)
    encoders = {"text": model.text_encoder, "image": model.vision_encoder,
                "speech": model.speech_encoder}
    if args.no_input_ln:
        for enc in encoders.values():
            enc.ln_in = nn.Identity()

    class Net(nn.Cell):
        def __init__(self):
            super().__init__()
            self.te, self.ve, self.se = encoders["text"], encoders["image"], encoders["speech"]
            self.logit_scale = ms.Parameter(ms.Tensor([math.log(1 / 0.07)], ms.float32))
            v = cfg.model.vision
            self.patch, self.mae_weight = v.patch_size, args.mae
            self.mae_head = Linear(cfg.model.unified_dim, v.patch_size ** 2 * v.channels)
            self.filip_weight = args.filip
            self.filip_scale = ms.Parameter(ms.Tensor([math.log(1 / 0.07)], ms.float32))
            self.sigmoid = args.loss == "sigmoid"
            self.sig_scale = ms.Parameter(ms.Tensor([math.log(10.0)], ms.float32))
            self.sig_bias = ms.Parameter(ms.Tensor([-10.0], ms.float32))

        def sigmoid_loss(self, a, b):
            n = a.shape[0]
            logits = ops.matmul(a, b.T) * ops.exp(self.sig_scale[0]) + self.sig_bias[0]
            signs = 2.0 * ops.eye(n, n, ms.float32) - 1.0
            return -ops.logsigmoid(signs * logits).sum() / n

        def filip_loss(self, text_out, image_out):
            # tokens (B, L, D) in the unified space; masks (B, L) 1 = real. The text keeps its
            # CLS (a row without text would otherwise have no token); the image's is left out.
            t, tm = l2_normalize(text_out[0]), text_out[1]
            v = l2_normalize(image_out[0][:, 1:])
            b, lt, li = t.shape[0], t.shape[1], v.shape[1]
            sim = ops.matmul(t.reshape(b * lt, -1), v.reshape(b * li, -1).T).reshape(b, lt, b, li)
            # text a -> image b: each real token's best patch, averaged over the real tokens
            tmask = tm.reshape(b, lt, 1)
            t2i = (sim.max(axis=3) * tmask).sum(axis=1) / ops.maximum(tmask.sum(axis=1), 1.0)
            # image b -> text a: each patch's best real token, averaged over the patches
            i2t = (sim - (1.0 - tm.reshape(b, lt, 1, 1)) * 1e4).max(axis=1).mean(axis=2)
            scale = ops.exp(self.filip_scale[0])
            labels = ops.arange(b, dtype=ms.int32)
            return (ops.cross_entropy(t2i * scale, labels)
                    + ops.cross_entropy(i2t.T * scale, labels)) / 2

        def pixel_loss(self, image, hidden):
            # image (B, C, H, W); hidden (B, P) 1 = hidden patch
            pred = self.mae_head(self.ve(image, hidden)[0][:, 1:])
            target = patchify(image, self.patch)
            mean = target.mean(axis=-1, keep_dims=True)
            var = ((target - mean) ** 2).mean(axis=-1, keep_dims=True)
            err = ((pred - (target - mean) / ops.sqrt(var + 1e-6)) ** 2).mean(axis=-1)
            return (err * hidden).sum() / ops.maximum(hidden.sum(), 1.0)

        def construct(self, ids, tmask, image, mel, mmask, hidden):
            text_out, image_out = self.te(ids, tmask), self.ve(image)
            emb = {"text": text_out[2], "image": image_out[2]}
            if "speech" in mods:
                emb["speech"] = self.se(mel, mmask)[2]
            scale = ops.exp(self.logit_scale[0])
            labels = ops.arange(ids.shape[0], dtype=ms.int32)
            total = 0.0
            for a, b in pairs:
                if self.sigmoid:
                    total = total + self.sigmoid_loss(emb[a], emb[b])
                    continue
                logits = ops.matmul(emb[a], emb[b].T) * scale
                total = total + (ops.cross_entropy(logits, labels)
                                 + ops.cross_entropy(logits.T, labels)) / 2
            total = total / len(pairs)
            if self.filip_weight > 0:
                total = total + self.filip_weight * self.filip_loss(text_out, image_out)
            if self.mae_weight > 0:
                total = total + self.mae_weight * self.pixel_loss(image, hidden)
            return total

    net = Net()
    opt = nn.Adam(net.trainable_params(), learning_rate=args.lr)
    grad_fn = ms.value_and_grad(net, None, opt.parameters)

    @ms.jit
    def step(*batch):
        loss, grads = grad_fn(*batch)
        opt(grads)
        return loss

    @ms.jit
    def embed(ids, tmask, image, mel, mmask):
        return (encoders["text"](ids, tmask)[2], encoders["image"](image)[2],
                encoders["speech"](mel, mmask)[2])

    cols = ("text_ids", "text_mask", "image", "mel", "mel_mask")

    def evaluate():
        pipe = DataPipeline(corpus / "test.jsonl", cfg, tok, 50, shuffle=False, masking=False,
                            drop_remainder=False)
        out = {k: [] for k in ("text", "image", "speech", "presence", "index")}
        # a jit graph keeps the mode it was first compiled in: embed compiles here in inference
        # mode (BatchNorm on its moving statistics), the step in training mode
        net.set_train(False)
        for b in pipe.iterate(0):
            for k, e in zip(("text", "image", "speech"), embed(*[ms.Tensor(b[c]) for c in cols])):
                out[k].append(e.asnumpy())
            out["presence"].append(b["presence"])
            out["index"].append(b["index"])
        net.set_train(True)
        metrics = retrieval_metrics({k: np.concatenate(v) for k, v in out.items()})
        return {k: v for k, v in metrics.items() if k.endswith("R@1")}

    num_patches = (cfg.model.vision.image_size // cfg.model.vision.patch_size) ** 2
    mask_rng = np.random.default_rng(cfg.context.seed + 1)

    def hidden_patches(b):
        return ms.Tensor(np.stack([mask_patches(num_patches, args.mae_count, mask_rng)
                                   for _ in range(b)]))

    pipe = DataPipeline(corpus / "train.jsonl", cfg, tok, args.batch, seed=cfg.context.seed,
                        masking=False)
    if args.hard_groups:
        pipe.order = colour_grouped_order(pipe, args.hard_groups, cfg.context.seed)
    losses, results, k, epoch, t0 = [], {}, 0, 0, time.time()
    net.set_train(True)
    while k < args.steps:
        for b in pipe.iterate(epoch):
            losses.append(float(step(*[ms.Tensor(b[c]) for c in cols],
                                     hidden_patches(len(b["image"]))).asnumpy()))
            k += 1
            if k % 50 == 0:
                print(f"step {k}  loss {np.mean(losses[-50:]):.3f}  "
                      f"{(time.time() - t0) / k:.2f} s/step", flush=True)
            if k % args.eval_every == 0 or k == args.steps:
                results[k] = {"loss_last50": float(np.mean(losses[-50:])), **evaluate()}
                print(f"step {k}  " + json.dumps(results[k]), flush=True)
            if k >= args.steps:
                break
        epoch += 1
    print(json.dumps({"args": vars(args), "chance_loss": math.log(args.batch), "results": results}))
    return 0


def colour_grouped_order(pipe, k: int, seed: int):
    """An epoch order made of runs of ``k`` samples sharing the unordered pair of group colours
    (the attribute a random batch of 32 already separates), the runs themselves shuffled."""
    import numpy as np
    keys = []
    for s in pipe.source.samples:
        scene = s.meta.get("scene") or {}
        keys.append(tuple(sorted(str(scene.get(g, {}).get("colour")) for g in ("a", "b"))))

    def order(epoch: int):
        rng = np.random.default_rng([seed, epoch, 0x4A2D])
        buckets = {}
        for i in rng.permutation(pipe.size):
            buckets.setdefault(keys[i], []).append(int(i))
        runs = [b[j:j + k] for b in buckets.values() for j in range(0, len(b), k)]
        return np.array([i for r in (runs[j] for j in rng.permutation(len(runs))) for i in r])
    return order


if __name__ == "__main__":
    sys.exit(main())
