"""Every glue role in the book names a committed lab, a key that lab glues, and a format.

The strict book build catches the same faults, but only on a clean build: an incremental one
skips unchanged pages. This check reads the committed notebooks directly and runs in seconds.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import nbformat

from tests.labcheck import glued_values

ROOT = Path(__file__).resolve().parents[1]
ROLE = re.compile(r"\{glue:text\}`([^`]*)`")


@cache
def _keys(notebook: str) -> frozenset[str]:
    nb = nbformat.read(ROOT / notebook.lstrip("/"), as_version=4)
    return frozenset(k for c in nb.cells if c.cell_type == "code" for k in glued_values(c.outputs))


def test_every_glue_role_names_a_lab_a_glued_key_and_a_format():
    problems = []
    n_roles = 0
    for md in sorted((ROOT / "book").rglob("*.md")):
        for lineno, line in enumerate(md.read_text().splitlines(), 1):
            for target in ROLE.findall(line):
                n_roles += 1
                where = f"{md.relative_to(ROOT)}:{lineno}: {target}"
                path, sep, rest = target.partition("::")
                key, colon, fmt = rest.partition(":")
                if not sep or not colon or not fmt:
                    problems.append(f"{where}: use path.ipynb::key:format (':s' for strings)")
                elif not (ROOT / path.lstrip("/")).is_file():
                    problems.append(f"{where}: no such notebook")
                elif key not in _keys(path):
                    problems.append(f"{where}: the committed lab does not glue {key!r}")
    assert n_roles > 1000
    assert not problems, "\n".join(problems)
