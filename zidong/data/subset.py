"""``zidong data subset``: manifests derived from others, for a task that needs a view of a data set
rather than all of it: some modalities only (image-only self-supervision keeps no text and no
label), only samples that have a modality, and a class label taken from the samples' ``meta``.

    zidong data subset train.jsonl test.jsonl --out-dir count --require image \\
        --label meta:scene.a.count+scene.b.count
    zidong data subset fmnist/train.jsonl --out-dir fmnist_images --keep image --label none \\
        --drop-meta

A label read from ``meta`` is the index of its value among the sorted distinct values of every
input, so the inputs share one class list (written to ``OUT_DIR/classes.json``). A sample without
the key is skipped and counted, never silently.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from zidong.data.manifest import MODALITIES, DataError, read_manifest, rebase, write_manifest


def parse_label(spec: str):
    """``keep``, ``none`` or ``meta:KEY[+KEY...]`` (dotted paths into ``meta``; several are
    summed) -> None (keep), () (drop) or the tuple of key paths."""
    if spec == "keep":
        return None
    if spec == "none":
        return ()
    if spec.startswith("meta:") and spec[5:]:
        return tuple(tuple(k.split(".")) for k in spec[5:].split("+"))
    raise DataError(f"--label {spec!r}: expected keep, none or meta:KEY[+KEY...], "
                    f"e.g. meta:scene.a.count+scene.b.count")


def _value(meta: dict, keys):
    total = None
    for path in keys:
        node = meta
        for part in path:
            if not isinstance(node, dict) or part not in node:
                return None
            node = node[part]
        total = node if total is None else total + node
    return total


def subset_manifests(inputs, out_dir, keep=MODALITIES, require=(), label: str = "keep",
                     drop_meta: bool = False) -> dict:
    """Writes ``out_dir/<name of each input>``; returns counts per input. ``drop_meta`` empties
    every sample's ``meta`` (after the label is read), e.g. when it names the class."""
    bad = [m for m in (*keep, *require) if m not in MODALITIES]
    if bad:
        raise DataError(f"unknown modality {bad[0]!r}; allowed: {', '.join(MODALITIES)}")
    keys = parse_label(label)
    out_dir = Path(out_dir)
    names = [Path(p).name for p in inputs]
    if len(set(names)) != len(names):
        raise DataError(f"two inputs share a file name ({names}); the outputs would collide")
    loaded = []
    for path in inputs:
        samples, problems = read_manifest(path)
        if problems:
            raise DataError(f"{path}: {len(problems)} bad line(s), e.g. {problems[0]}; "
                            f"`zidong data check` lists them")
        loaded.append((Path(path), samples))
    classes = sorted({v for _, ss in loaded for s in ss if (v := _value(s.meta, keys)) is not None},
                     key=lambda v: (str(type(v)), v)) if keys else None
    report = {"out_dir": str(out_dir), "keep": list(keep), "require": list(require),
              "label": label, "drop_meta": drop_meta, "inputs": {}}
    for path, samples in loaded:
        out, kept, skipped = [], 0, {"missing_modality": 0, "missing_label": 0, "empty": 0}
        for s in samples:
            if any(getattr(s, m) is None for m in require):
                skipped["missing_modality"] += 1
                continue
            s = replace(s, **{m: None for m in MODALITIES if m not in keep})
            if not any(s.present()):
                skipped["empty"] += 1
                continue
            if keys == ():
                s = replace(s, label=None)
            elif keys:
                v = _value(s.meta, keys)
                if v is None:
                    skipped["missing_label"] += 1
                    continue
                s = replace(s, label=classes.index(v))
            if drop_meta:
                s = replace(s, meta={})
            out.append(rebase(s, path, out_dir))
            kept += 1
        write_manifest(out_dir / path.name, out)
        report["inputs"][str(path)] = {"written": kept, "skipped": skipped}
    if classes is not None:
        report["classes"] = classes
        (out_dir / "classes.json").write_text(json.dumps({"label": label, "classes": classes},
                                                         ensure_ascii=False, indent=1))
    return report
