"""Does a decoder use what it is conditioned on?

Teacher-forced loss of each sample's own target given the fused memory of its own inputs, and
given another sample's memory (the batch rolled by one). A decoder that reads its memory scores
its own sample better; one that has learnt only the marginal (the templates of the built-in
corpus, the average image, the average voice) scores both the same. Generation reads this memory,
so a gap of ~0 means the outputs cannot follow the input.

    .venv/bin/python tools/decoder_conditioning.py --ckpt RUN [--decoder text|image|speech]
        [--use image] [--data MANIFEST]

The loss per decoder: text, NLL per subword token of the reference text (captions, ASR); image,
NLL per VQ code of the image's own codes (text/speech -> image); speech, L1 per log-mel value of
the real frames (text/image -> speech; the decoder is given the true length, as in training).
Prints one JSON line: own, other, gap (other - own), how many targets were scored, and
memory_cosine: the mean cosine between two samples' fused memories (mean over their positions).
A memory_cosine near 1 means the memory no longer tells the inputs apart: no decoder could
read anything from it.
"""
from __future__ import annotations

import argparse
import json

import numpy as np

# a decoder is named for the modality it generates; conditioned by default on
DEFAULT_USE = {"text": "image", "image": "text", "speech": "text"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ckpt", required=True, help="a run directory or checkpoint")
    ap.add_argument("--data", default="cache/corpus/test.jsonl")
    ap.add_argument("--decoder", choices=sorted(DEFAULT_USE), default="text")
    ap.add_argument("--use", default=None, help="conditioning modalities, e.g. image or "
                    "text,speech (default: image for text, text for image and speech)")
    ap.add_argument("--batches", type=int, default=4, help="batches of 16 samples to score")
    args = ap.parse_args()

    import mindspore as ms
    from mindspore import Tensor

    from zidong.decoding.search import log_softmax
    from zidong.eval.generation import rows_with, subset_batch
    from zidong.tasks.cli import init_cpu
    from zidong.tasks.runner import pad_rows
    init_cpu(args.ckpt)  # under the run's oneDNN cap
    from zidong.objectives.image_generation import ImageGeneration
    from zidong.tasks.engine import TaskEngine

    use = tuple((args.use or DEFAULT_USE[args.decoder]).split(","))
    if args.decoder in use:
        raise SystemExit(f"--use {','.join(use)}: the {args.decoder} decoder generates "
                         f"{args.decoder}, so it cannot also be conditioned on it")
    engine = TaskEngine(args.ckpt, batch_size=16)
    size = engine.batch_size  # the engine's graphs take full batches: padding rows added
    model = engine.model

    def nll(logits, target, weight):
        lp = np.take_along_axis(log_softmax(logits), target[..., None].astype(np.int64), -1)
        return float((-lp[..., 0] * weight).sum())

    bos = engine.cfg.model.image_tokenizer.codebook_size

    def scorer(batch, n):
        """(loss(memory, mask) -> summed loss of the real rows, how many targets they hold)."""
        real = (np.arange(size) < n).reshape(-1, 1).astype(np.float32)  # padding not scored
        if args.decoder == "text":
            din, target, dmask = (pad_rows(np.asarray(batch[k]), size)
                                  for k in ("dec_in", "dec_target", "dec_mask"))
            din, weight = Tensor(din.astype(np.int32)), dmask * real

            def text(memory, mask):
                return nll(model.text_decoder(din, memory, mask).asnumpy(), target, weight)
            return text, weight.sum()
        if args.decoder == "image":
            codes = model.image_tokenizer.encode(Tensor(pad_rows(np.asarray(batch["image"]),
                                                                 size)))
            din, target = ImageGeneration(bos).decoder_input(codes), codes.asnumpy()
            weight = np.broadcast_to(real, target.shape)

            def image(memory, mask):
                return nll(model.image_decoder(din, memory, mask).asnumpy(), target, weight)
            return image, weight.sum()
        mel, mel_mask, mel_len, lang = (pad_rows(np.asarray(batch[k]), size)
                                        for k in ("mel", "mel_mask", "mel_len", "lang_id"))
        weight = mel_mask * real

        def speech(memory, mask):
            pred, _ = model.speech_decoder(memory, mask, Tensor(mel_len), Tensor(lang))
            return float((np.abs(pred.asnumpy() - mel).mean(-1) * weight).sum())
        return speech, weight.sum()

    loss = {"own": 0.0, "other": 0.0}
    count, cosines = 0.0, []
    for i, batch in enumerate(engine.batches(args.data)):
        if i == args.batches:
            break
        rows = rows_with(batch, use + (args.decoder,))
        if len(rows) < 2:
            continue
        batch = subset_batch(batch, rows)
        memory, mask = engine.memory(batch, use)
        n = len(rows)
        m, w = memory.asnumpy()[:n], mask.asnumpy()[:n, :, None]
        pooled = (m * w).sum(1) / w.sum(1)
        pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
        cosines.append((pooled @ pooled.T)[~np.eye(n, dtype=bool)].mean())
        score, targets = scorer(batch, n)
        for name, roll in (("own", 0), ("other", 1)):
            # rolled within the real rows, so "other" is always a different sample
            order = Tensor(np.concatenate([np.roll(np.arange(n), roll), np.arange(n, size)]),
                           ms.int32)
            loss[name] += score(memory[order], mask[order])
        count += float(targets)
    own, other = loss["own"] / count, loss["other"] / count
    print(json.dumps({"ckpt": args.ckpt, "decoder": args.decoder, "use": ",".join(use),
                      "own": round(own, 4), "other": round(other, 4),
                      "gap": round(other - own, 4), "targets": int(count),
                      "memory_cosine": round(float(np.mean(cosines)), 7)}))


if __name__ == "__main__":
    main()
