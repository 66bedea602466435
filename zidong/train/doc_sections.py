"""Several benchmarks write one results document: each owns a section between HTML-comment markers,
rewrites only that section, and keeps the others when it rewrites the whole file."""
from __future__ import annotations

import re
from pathlib import Path


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- section:{name} -->", f"<!-- /section:{name} -->"


def sections(text: str, source: str = "the document") -> dict[str, str]:
    """Every marked section of ``text`` (markers included), by name. A section opened but never
    closed is an error: a rewrite keeps only whole sections, so it would vanish."""
    found = {m.group(1): m.group(0) for m in re.finditer(
        r"<!-- section:([\w-]+) -->.*?<!-- /section:\1 -->", text, re.S)}
    for name in re.findall(r"<!-- section:([\w-]+) -->", text):
        if name not in found:
            start, end = _markers(name)
            raise ValueError(f"{source}: section {name!r} opens with {start} but has no {end}; "
                             f"add it, or a rewrite of the file would drop the section")
    return found


def write_section(doc: Path, name: str, body: str) -> None:
    """Put ``body`` in section ``name`` of ``doc``: in place if the section exists, else at the
    end (the file is created if missing)."""
    start, end = _markers(name)
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = doc.read_text() if doc.is_file() else ""
    old = sections(text, str(doc)).get(name)
    text = text.replace(old, block) if old else (text.rstrip() + "\n\n" + block).lstrip()
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text.rstrip() + "\n")


def keep_sections(doc: Path, new_text: str, own: tuple[str, ...] = ()) -> str:
    """``new_text`` followed by the sections of the existing ``doc`` it does not contain (other
    than ``own``), so a benchmark that regenerates the file does not erase another's results."""
    old = sections(doc.read_text(), str(doc)) if doc.is_file() else {}
    have = sections(new_text, "the new text")
    extra = [v for k, v in old.items() if k not in have and k not in own]
    return "\n\n".join([new_text.rstrip()] + extra) + "\n"
