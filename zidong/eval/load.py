"""Load a pretraining run (a checkpoint file or a run folder) into a ZidongModel for inference."""
from __future__ import annotations

from pathlib import Path

import mindspore as ms

from zidong.config import config_from_dict
from zidong.data.tokenizer import Tokenizer
from zidong.models import create_model
from zidong.train.checkpoint import checkpoints, load_state, read_meta


def resolve_checkpoint(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        found = checkpoints(path)
        if not found:
            raise FileNotFoundError(f"{path}: no step_*.safetensors checkpoint in this run folder")
        return found[-1]
    return path


# Tensors added to the model after runs had been made, whose zero value reproduces exactly what
# those runs computed; a checkpoint without them loads with them zeroed, and says so.
ADDED_LATER = {"speech_decoder.lang": "the speech decoder's language embedding (no language "
                                      "control: image -> speech speaks whatever the run learnt)",
               "speech_decoder.dur.weight": "learned token durations (zero: equal durations, "
                                            "the uniform alignment prior)",
               "speech_decoder.dur.bias": "learned token durations (zero: equal durations)",
               "speech_decoder.offset_in.weight": "each frame's offset inside its token (zero: "
                                                  "not told)",
               "speech_decoder.offset_in.bias": "each frame's offset inside its token",
               "speech_decoder.token_out.weight": "each frame's own token in its input (zero: "
                                                  "through the cross-attention only)",
               "speech_decoder.token_out.bias": "each frame's own token in its input",
               "speech_decoder.local_out.weight": "each frame's own token straight to its "
                                                  "log-mel (zero: not used)",
               "speech_decoder.local_out.bias": "each frame's own token straight to its log-mel"}
# Tensors added later that keep their fresh initial values in an older checkpoint: only the
# ADDED_LATER tensors above read them, and those start at zero (zeroing these as well would leave
# the new path without a gradient)
KEPT_AT_INIT = ("speech_decoder.token_in.", "speech_decoder.token_hidden.")


def zero_added_later(cell, missing: list[str], source, log=None) -> list[str]:
    """Zero the ADDED_LATER tensors among ``missing`` in ``cell``; returns what is still missing."""
    import sys
    import numpy as np
    params = {p.name: p for p in cell.get_parameters()}
    left = []
    for name in missing:
        if name in params and any(k in name for k in KEPT_AT_INIT):
            print(f"{source}: predates {name}; it keeps its initial value (what reads it starts "
                  f"at zero)", file=sys.stderr)
            continue
        key = next((k for k in ADDED_LATER if name == k or name.endswith("." + k)), None)
        if key is None or name not in params:
            left.append(name)
            continue
        params[name].set_data(ms.Tensor(np.zeros(params[name].shape, np.float32)))
        print(f"{source}: predates {ADDED_LATER[key]}; {name} set to zero", file=sys.stderr)
    return left


def run_context(path: str | Path):
    """The context to evaluate a run on this machine's CPU in graph mode, with the run's own
    oneDNN instruction-set cap: a convolutional stem trained under ``cpu_isa: avx2`` would
    otherwise take oneDNN's slow AVX-512 convolution path (same results, several times slower)."""
    from zidong.config import ContextConfig
    ckpt = resolve_checkpoint(path)
    isa = read_meta(ckpt)["config"].get("context", {}).get("cpu_isa", "")
    return ContextConfig(cpu_isa=isa)


def load_run(path: str | Path):
    """(model in inference mode, config, tokenizer, checkpoint meta)."""
    ckpt = resolve_checkpoint(path)
    params, meta, blobs = load_state(ckpt)
    cfg = config_from_dict(meta["config"], f"{ckpt} (embedded config)")
    model = create_model(cfg.model)
    own = {k[len("model."):]: v for k, v in params.items() if k.startswith("model.")}
    missing, _ = ms.load_param_into_net(model, own, strict_load=True)
    missing = zero_added_later(model, missing, ckpt)
    if missing:
        raise ValueError(f"{ckpt}: checkpoint lacks {len(missing)} model tensors, e.g. {missing[:3]}")
    unexpected = sorted(set(own) - {p.name for p in model.get_parameters()})
    if unexpected:
        raise ValueError(f"{ckpt}: {len(unexpected)} tensors this model does not have, e.g. "
                         f"{unexpected[:3]} (a different configuration?)")
    model.set_train(False)
    return model, cfg, Tokenizer(blobs["tokenizer"]), meta


def _load_head(path, prefix: str, head):
    """``head`` (an objective's Cell) with the checkpoint's ``prefix.*`` tensors, for inference."""
    params, _, _ = load_state(resolve_checkpoint(path))
    own = {k[len(prefix) + 1:]: v for k, v in params.items() if k.startswith(prefix + ".")}
    if not own:
        raise ValueError(f"{path}: no {prefix}.* tensors (was the {prefix} objective off?)")
    missing, _ = ms.load_param_into_net(head, own, strict_load=True)
    if missing:
        raise ValueError(f"{path}: {prefix} head lacks {missing[:3]}")
    head.set_train(False)
    return head


def load_matching(path: str | Path, dim: int):
    """The pretraining's tri-modal matching head (fused CLS -> 5 classes, class 0 = they belong
    together), for re-ranking retrieval candidates with the fusion as a cross-encoder."""
    from zidong.objectives.matching import Matching
    return _load_head(path, "matching", Matching(dim))


def load_ctc(path: str | Path, cfg):
    """The speech encoder's CTC head (``train.objectives.ctc``), for joint CTC/attention speech
    recognition. Every checkpoint holds the head, trained or not: only a run whose own config
    trains it (weight > 0) has one worth reading; any other raises ValueError."""
    from zidong.objectives.speech_ctc import SpeechCTC
    if not cfg.train.objectives.ctc > 0:
        raise ValueError(f"{path}: this run did not train the ctc head (train.objectives.ctc is 0)")
    return _load_head(path, "ctc", SpeechCTC(cfg.model.unified_dim, cfg.model.text.vocab_size))
