"""The drills index and the flashcards hold every drill of every chapter, with answers and links."""

from __future__ import annotations

import csv
import html
import io
import re
from pathlib import Path

import pytest

from utils.site import drills as D

ROOT = Path(__file__).resolve().parents[1]

CHAPTER = """# A chapter

Text with a {dropdown} mention that is not a drill.

```{dropdown} Not a drill: outside the drill section
body
```

## Interview drill

```{dropdown} Q: How big is the index for 10M items?
:open:
:class-container: topic-scaling-and-cost

About $4nd$ bytes: {glue:text}`/nb.ipynb::bytes:,.0f` on the lab's corpus.
```

:::{dropdown} Q: What is the p99 latency of serving?
:class-container: topic-serving-and-latency
Measure it under load.
:::

## Key takeaways

```{dropdown} Q: not counted: after the drill section
x
```
"""


def test_parse_finds_drills_only_in_the_drill_section_with_options_stripped():
    got = D.parse_drills(CHAPTER, "book/part/ch")
    assert [d.question for d in got] == [
        "How big is the index for 10M items?",
        "What is the p99 latency of serving?",
    ]
    assert got[0].answer.startswith("About $4nd$ bytes")
    assert got[0].chapter == "A chapter"
    assert [d.label for d in got] == ["drill-part-ch-1", "drill-part-ch-2"]
    assert [d.topic for d in got] == ["Scaling and cost", "Serving and latency"]


def test_a_drill_must_declare_one_known_topic_and_the_error_suggests_one():
    base = "## Interview drill\n\n```{dropdown} Q: What p99 does the cache give?\n%sx\n```\n"
    with pytest.raises(ValueError, match="topic-serving-and-latency") as e:
        D.parse_drills(base % "", "book/x")
    assert "declares no topic" in str(e.value)
    with pytest.raises(ValueError, match="exactly one"):
        D.parse_drills(base % ":class-container: topic-nonsense\n", "book/x")
    with pytest.raises(ValueError, match="topic must be one of"):
        D.topic_class("Everything")


def test_a_drill_without_q_or_an_unclosed_dropdown_is_an_error():
    with pytest.raises(ValueError, match="must start with 'Q:'"):
        D.parse_drills("## Interview drill\n\n```{dropdown} Why?\nx\n```\n", "book/x")
    with pytest.raises(ValueError, match="never closed"):
        D.parse_drills("## Interview drill\n\n```{dropdown} Q: Why?\nx\n", "book/x")


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="question"):
        D.classify("  ")
    with pytest.raises(ValueError, match="number"):
        D.drill_label("book/x", 0)
    with pytest.raises(ValueError, match="docname"):
        D.drill_label("", 1)
    with pytest.raises(FileNotFoundError, match=r"_toc\.yml"):
        D.toc_documents(ROOT / "book")
    with pytest.raises(TypeError, match="base_url"):
        D.flashcards_csv(ROOT, base_url=None)


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("Size memory for 1B x 768 float embeddings under HNSW and IVF-PQ.", "Retrieval"),
        ("Your cache hit rate is 60%. By how much did p99 fall?", "Serving and latency"),
        (
            "Size an A/B test for a 1% relative lift in sessions with a click.",
            "Evaluation and experiments",
        ),
        (
            "Two reviewers disagree on borderline items. What do you do with the labels?",
            "Data and labels",
        ),
        ("The ranker's top 10 is ten videos from one creator. Walk through your fix.", "Ranking"),
        ("Does sharding an HNSW index over 8 machines make it 8 times faster?", "Scaling and cost"),
        (
            "Spammers start writing v1agra. How does it degrade, and how do you monitor it?",
            "Failure modes",
        ),
    ],
)
def test_keyword_rules_put_clear_cases_under_their_topic(question, topic):
    assert D.classify(question) == topic


def _drill_openings_in_drill_sections() -> int:
    """An independent count: dropdown openings between a drill heading and the next heading."""
    n = 0
    for _caption, doc in D.toc_documents(ROOT):
        path = ROOT / f"{doc}.md"
        if doc.startswith(D.EXCLUDED_PREFIXES) or not path.is_file():
            continue
        inside = False
        for line in path.read_text().splitlines():
            if re.match(r"^#{1,2} ", line):
                inside = line[3:].strip() in D.DRILL_HEADINGS
            elif inside and re.match(r"^(```|:::)\{dropdown\}", line):
                n += 1
    return n


def test_the_index_lists_every_drill_of_the_book_once_under_one_topic(tmp_path):
    drills = D.book_drills(ROOT)
    assert len(drills) == _drill_openings_in_drill_sections()
    assert len(drills) >= 400
    assert len({d.label for d in drills}) == len(drills)
    page = D.write_index(ROOT, tmp_path / "drills.md").read_text()
    for d in drills:
        assert page.count(f"<{d.label}>`") == 1, f"{d.label} ({d.question}) missing from the index"
        assert d.question in page
    headings = re.findall(r"^## (.+)$", page, re.M)
    assert headings == list(D.TOPICS)
    for t in D.TOPICS:
        assert any(d.topic == t for d in drills), f"no drill under {t}"
    chapters = {d.docname for d in drills}
    assert {"book/ml_algorithms/knn", "book/harmful_content/06_model_development"} <= chapters


def test_glue_is_resolved_with_myst_nb_formatting():
    nb = "/notebooks/harmful_content/06_model_development.ipynb"
    role = f"{{glue:text}}`{nb}::hc_hard_ham_fpr_stack:.3f`"
    text = D.resolve_glue(f"rate {role}.", ROOT)
    assert re.fullmatch(r"rate 0\.\d{3}\.", text), text
    with pytest.raises(KeyError, match="no_such_key"):
        D.resolve_glue(
            "{glue:text}`/notebooks/harmful_content/06_model_development.ipynb::no_such_key:.3f`",
            ROOT,
        )


def test_plain_text_turns_roles_links_and_math_into_card_text():
    got = D.plain_text(
        "See {doc}`/book/ml_algorithms/knn`, {doc}`the ANN chapter </book/ml_algorithms/ann>`, "
        "[docs](https://x.org) and $2nd$ FLOP {cite:p}`malkov2018hnsw`.",
        ROOT,
    )
    assert got == "See chapter knn, the ANN chapter, docs and \\(2nd\\) FLOP [malkov2018hnsw]."


def test_flashcards_are_an_anki_csv_with_one_row_per_drill():
    text = D.flashcards_csv(ROOT, base_url="https://example.org/book/")
    header = text.splitlines()[:5]
    assert header == [
        "#separator:Comma",
        "#html:true",
        "#columns:GUID,Question,Answer,Link,Tags",
        "#guid column:1",
        "#tags column:5",
    ]
    rows = list(csv.reader(io.StringIO(text.split("#tags column:5\n", 1)[1])))
    drills = D.book_drills(ROOT)
    assert len(rows) == len(drills)
    assert len({r[0] for r in rows}) == len(rows), "GUIDs must be unique"
    for row, d in zip(rows, drills, strict=True):
        guid, q, a, link, tags = row
        assert guid == d.label and q and a
        assert link == f"https://example.org/book/{d.docname}.html#{d.label}"
        assert a.endswith(f'<a href="{link}">{html.escape(d.chapter)}</a>')
        assert "{glue" not in q + a and "{doc}" not in a and "\n" not in q + a
        assert tags.startswith("mlsd::") and " mlsd::" in tags


def test_card_fields_are_escaped_html():
    assert D._html("a < b & c\nnext") == "a &lt; b &amp; c<br>next"


def test_make_flashcards_writes_the_file(tmp_path):
    out = D.write_flashcards(ROOT, tmp_path / "cards.csv")
    assert out.read_text(encoding="utf-8").startswith("#separator:Comma")


def test_a_backtick_fence_with_a_role_in_its_title_is_an_error():
    text = (
        "## Interview drill\n\n```{dropdown} Q: AUC is {glue:text}`/nb.ipynb::auc:.3f`?\n"
        ":class-container: topic-ranking\nx\n```\n"
    )
    with pytest.raises(ValueError, match=r":::\{dropdown\}"):
        D.parse_drills(text, "book/x")
    ok = text.replace("```{", ":::{").replace("\n```\n", "\n:::\n")
    assert D.parse_drills(ok, "book/x")[0].question.startswith("AUC is {glue:text}")


def test_card_text_joins_soft_wraps_but_keeps_paragraphs_and_lists():
    got = D.plain_text("one\ntwo\n\nnext\n- a\n- b", ROOT)
    assert got == "one two\n\nnext\n- a\n- b"
