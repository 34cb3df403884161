"""Versioned prompt templates, one file per agent task (used by the LLM decision backend).

A prompt lives in `NAME.vN.md`. `load("classify")` returns the highest version, `load("classify.v1")`
that exact one; either way as (version, text), where version is the file's stem, e.g. "classify.v1".
Bump the version in a new file rather than editing a released one: the audit records which one decided.
"""
from __future__ import annotations

import re
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
_VERSIONED = re.compile(r"^(?P<task>[a-z_]+)\.v(?P<n>\d+)$")


@cache
def load(name: str) -> tuple[str, str]:
    if _VERSIONED.match(name):
        path = HERE / f"{name}.md"
        if not path.is_file():
            raise LookupError(f"no prompt file {path.name} in {HERE}")
        return name, path.read_text(encoding="utf-8")
    found = [(int(m["n"]), p) for p in HERE.glob(f"{name}.v*.md") if (m := _VERSIONED.match(p.stem)) and m["task"] == name]
    if not found:
        raise LookupError(f"no prompt named {name!r} in {HERE} (expected {name}.v1.md, {name}.v2.md, ...)")
    _, path = max(found)
    return path.stem, path.read_text(encoding="utf-8")
