"""``report.md`` of an evaluation: the metrics table, a PNG grid of generated images next to their
prompts, the generated WAVs linked, and a few text outputs beside their references."""
from __future__ import annotations

import textwrap
from pathlib import Path

NO_ZH_SCORER = ("Chinese speech output has no independent scorer here: PocketSphinx ships an "
                "English model only, so t2s / i2s WER covers English samples alone.")


def _cjk_font():
    """A font with Chinese glyphs if the machine has one (Droid Sans Fallback comes with
    fonts-droid-fallback), else None: Chinese prompts then show as the sample id."""
    from matplotlib import font_manager
    for f in font_manager.fontManager.ttflist:
        if "Droid Sans Fallback" in f.name or "Noto Sans CJK" in f.name or "WenQuanYi" in f.name:
            return font_manager.FontProperties(fname=f.fname)
    return None


def image_grid(records: list, path: Path, columns: int = 4, limit: int = 16) -> Path:
    from zidong.eval.text_metrics import has_cjk
    plt = _pyplot()
    cjk = _cjk_font()
    recs = records[:limit]
    rows = (len(recs) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3.4 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, r in zip(axes.flat, recs):
        ax.imshow(r["pixels"])
        title = r.get("prompt") or r["id"]
        if has_cjk(title):
            if cjk is None:
                ax.set_title(f"{r['id']} (Chinese prompt)", fontsize=7)
            else:
                ax.set_title(_wrap(title, 20), fontsize=7, fontproperties=cjk)
        else:
            ax.set_title(_wrap(title), fontsize=7)
    return _save(plt, fig, path)


def mel_grid(records: list, path: Path, limit: int = 6) -> Path:
    """Generated log-mels (left) beside the recordings' (right), same colour scale: whether the
    output has the words' structure in time shows here before any scorer reads it."""
    from zidong.eval.text_metrics import has_cjk
    plt = _pyplot()
    recs = records[:limit]
    fig, axes = plt.subplots(len(recs), 2, figsize=(10, 1.9 * len(recs)), squeeze=False)
    for (gen_ax, rec_ax), r in zip(axes, recs):
        ref = r.get("ref") or r["id"]
        gen_ax.set_title(_wrap(r["id"] if has_cjk(ref) else ref, 70) + " (generated)", fontsize=7)
        gen_ax.imshow(r["mel"].T, origin="lower", aspect="auto", vmin=-3, vmax=3)
        if r.get("recorded") is not None:
            rec_ax.imshow(r["recorded"].T, origin="lower", aspect="auto", vmin=-3, vmax=3)
            rec_ax.set_title("recorded", fontsize=7)
        for ax in (gen_ax, rec_ax):
            ax.set_xlim(0, max(len(r["mel"]), 0 if r.get("recorded") is None
                               else len(r["recorded"])))
            ax.axis("off")
    return _save(plt, fig, path)


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(plt, fig, path: Path) -> Path:
    """Written whole or not at all: a temporary file renamed into place."""
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
    return path


def _wrap(text: str, width: int = 38) -> str:
    # long words are cut too, which is what Chinese (no spaces) needs
    return textwrap.fill(text, width)


def write_report(out: Path, title: str, metrics: dict, records: dict) -> Path:
    out = Path(out)
    lines = [f"# {title}", "", "| metric | value |", "| --- | ---: |"]
    lines += [f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |"
              for k, v in metrics.items()]
    for task in ("t2i", "s2i"):
        if records.get(task):
            grid = image_grid(records[task], out / f"{task}_grid.png")
            lines += ["", f"## {task}: generated images and their prompts", "",
                      f"![{task}]({grid.name})"]
    for task in ("t2s", "i2s"):
        if records.get(task):
            grid = mel_grid(records[task], out / f"{task}_mels.png")
            lines += ["", f"## {task}: generated speech", "", NO_ZH_SCORER, "",
                      f"![{task} log-mels, generated and recorded]({grid.name})", ""]
            for r in records[task][:10]:
                said = f" — said (its caption): “{r['said']}”" if r.get("said") else ""
                heard = f" — heard: “{r['heard']}”" if "heard" in r else ""
                lines.append(f"- [{r['id']}]({Path(r['output']).relative_to(out)}) "
                             f"({r['lang']}) “{r['ref']}”{said}{heard}")
    for task in ("caption", "asr", "vqa", "vqa_speech"):
        if records.get(task):
            lines += ["", f"## {task}: outputs and references", "", "| id | output | reference |",
                      "| --- | --- | --- |"]
            lines += [f"| {r['id']} | {r['output']} | {r['ref']} |" for r in records[task][:10]]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
