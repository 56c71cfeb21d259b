# ruff: noqa: RUF001 (the times sign is what this check looks for)
"""No measured-looking number is typed into the book by hand.

A lab result enters the prose through a glue role, a published figure sits in a paragraph that
cites its source. This test scans ``book/**/*.md`` for numbers that look measured: decimals with
two or more places (0.476), percentages with a decimal (13.6%) and ratios written with a times
sign (3.6×, 30×). Math, code, glue roles, links and paragraphs carrying a ``{cite}`` role are
skipped. What remains must be listed in ``tests/book_numbers_allowlist.toml`` with a reason
(targets, design assumptions, arithmetic on stated inputs); the list may not hold stale entries.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALLOWLIST = Path(__file__).with_name("book_numbers_allowlist.toml")
# Generated at build time from the chapters' drill sections, which this test checks at the source.
GENERATED = "book/interview_practice/drills.md"

_SKIPPED = [
    re.compile(r"^(```|~~~).*?^\1", re.S | re.M),  # fenced code and directives
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\{(math|glue(:\w+)?)\}`[^`]*`"),  # math and glue roles
    re.compile(r"(?<!\\)\$[^$\n]+\$"),  # inline math
    re.compile(r"`[^`\n]*`"),  # inline code
    re.compile(r"\]\([^)\s]*\)"),  # link targets
    re.compile(r"<!--.*?-->", re.S),  # comments
]
MEASURED = re.compile(
    r"(?<![\w.,/-])(\d+\.\d{2,}|\d+\.\d+\s?%|\d+(?:\.\d+)?\s?×)(?!\s?[\w.]*\d)", re.UNICODE
)


def hand_typed_numbers(text: str) -> list[str]:
    """Measured-looking numbers outside math, code, glue and cited paragraphs, in order."""
    for rx in _SKIPPED:
        text = rx.sub(" ", text)
    hits = []
    for para in re.split(r"\n\s*\n", text):
        if "{cite" in para:
            continue
        hits.extend(m.group(1).replace(" ", "") for m in MEASURED.finditer(para))
    return hits


def _allowlist() -> dict[tuple[str, str], str]:
    data = tomllib.loads(ALLOWLIST.read_text())
    allowed = {}
    for i, entry in enumerate(data.get("allow", [])):
        missing = {"file", "number", "why"} - set(entry)
        assert not missing, f"allow-list entry #{i + 1} lacks {sorted(missing)}"
        assert entry["why"].strip(), f"allow-list entry #{i + 1} needs a reason"
        allowed[(entry["file"], entry["number"])] = entry["why"]
    return allowed


def test_detector_finds_what_it_should_and_skips_math_code_glue_and_citations():
    text = (
        "Recall is 0.476 and 13.6% of users; the ratio is 3.6× and 30 ×.\n\n"
        "Cited 0.442 {cite:p}`rendle2009bpr`.\n\n"
        "Glued {glue:text}`/nb.ipynb::x:.3f`, math $0.25$, code `0.125`, 2.5 and v1.2.3.\n\n"
        "```python\nx = 0.999\n```\n"
    )
    assert hand_typed_numbers(text) == ["0.476", "13.6%", "3.6×", "30×"]


def test_no_unexplained_hand_typed_numbers_in_the_book():
    allowed = _allowlist()
    found: Counter[tuple[str, str]] = Counter()
    for md in sorted((ROOT / "book").rglob("*.md")):
        rel = md.relative_to(ROOT).as_posix()
        if rel == GENERATED:
            continue
        for number in hand_typed_numbers(md.read_text()):
            found[(rel, number)] += 1
    unexplained = sorted(k for k in found if k not in allowed)
    stale = sorted(k for k in allowed if k not in found)
    assert not unexplained, (
        "measured-looking numbers typed by hand (glue them from the lab, cite their source, "
        "or add them to tests/book_numbers_allowlist.toml with a reason):\n"
        + "\n".join(f"  {f}: {n}" for f, n in unexplained)
    )
    assert not stale, "allow-list entries that match nothing in the book:\n" + "\n".join(
        f"  {f}: {n}" for f, n in stale
    )
