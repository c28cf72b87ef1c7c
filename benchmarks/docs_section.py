"""Writing one benchmark's section of docs/benchmarks.md, shared by the bench_*.py scripts."""

from __future__ import annotations

from pathlib import Path

DOC_HEADER = """# Benchmarks

Each section is written by the script it names; rerun that script to refresh it. Figures are
wall times of whole commands on the machine described in the section.
"""


def markers(name: str) -> tuple[str, str]:
    """The comment lines around the section called ``name``."""
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def write_section(out: Path, section: str, name: str) -> None:
    """Replace the section ``name`` of ``out`` (or append it), keeping everything else."""
    start, end = markers(name)
    text = out.read_text() if out.exists() else DOC_HEADER
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + section.rstrip("\n") + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
