"""The book's interview drills, read from the chapters: the drills index and the flashcards.

A drill is a ``{dropdown}`` whose title starts with ``Q:`` inside a chapter's ``## Interview
drill`` (or ``## Final drill``) section; its body is the model answer. This module finds every
drill of every chapter listed in ``_toc.yml``, gives each a stable label (``drill-<doc>-<n>``,
the n-th drill of the document; :mod:`utils.site.sphinx_ext` puts the same label on the rendered
dropdown), reads the one topic of :data:`TOPICS` its dropdown declares
(``:class-container: topic-<slug>``; keyword rules suggest one when it is missing), and writes

- the drills index page (:func:`write_index`, run by the Sphinx extension at build time, so the
  page is never edited by hand), and
- an Anki-importable CSV of question, answer, chapter link and tags (:func:`write_flashcards`,
  ``make flashcards``), with every glued number resolved from the committed labs.
"""

from __future__ import annotations

import csv
import html
import io
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

#: The topics of the drills index, in the order the page lists them.
TOPICS: tuple[str, ...] = (
    "Retrieval",
    "Ranking",
    "Evaluation and experiments",
    "Data and labels",
    "Serving and latency",
    "Scaling and cost",
    "Failure modes",
)

#: Headings that open a chapter's drill section.
DRILL_HEADINGS: tuple[str, ...] = ("Interview drill", "Final drill")

#: Documents under these folders are not chapters with drills of their own.
EXCLUDED_PREFIXES: tuple[str, ...] = ("book/interview_practice/",)

INDEX_DOC = "book/interview_practice/drills"

# Keyword rules: they suggest a topic for a drill that declares none, and the index reports how
# often they agree with the declared ones. A drill's score for a topic counts the topic's patterns
# in its question (weight 3) and answer (weight 1), plus a prior from the chapter's name (weight
# 2). The highest score wins; ties go to the more specific topic (``_TIE_ORDER``). Lower case.
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "Retrieval": (
        r"\bretriev",
        r"\brecall@",
        r"\bann\b",
        r"\bhnsw",
        r"\bivf",
        r"\bpq\b",
        r"scann",
        r"\bindex",
        r"nearest",
        r"\bknn\b",
        r"k-nn",
        r"two-tower",
        r"two tower",
        r"candidate",
        r"embedding",
        r"\bbm25",
        r"dense",
        r"hybrid",
        r"\brrf\b",
        r"quantis",
        r"quantiz",
        r"near-duplicate",
        r"hash",
        r"similar",
        r"query",
        r"queries",
        r"kd-tree",
        r"cosine",
        r"inner product",
        r"vector",
    ),
    "Ranking": (
        r"\brank",
        r"learning to rank",
        r"\bltr\b",
        r"lambdamart",
        r"\bgbdt",
        r"lightgbm",
        r"boost",
        r"multi-task",
        r"multitask",
        r"mixture",
        r"\bmoe\b",
        r"expert",
        r"re-rank",
        r"rerank",
        r"\bmmr\b",
        r"divers",
        r"pairwise",
        r"pointwise",
        r"listwise",
        r"cross-encoder",
        r"scoring",
        r"score",
        r"personali",
        r"link predict",
        r"\bgnn",
        r"graphsage",
        r"\bgcn\b",
        r"\bgat\b",
        r"node2vec",
        r"adamic",
    ),
    "Evaluation and experiments": (
        r"evaluat",
        r"\bmetric",
        r"ndcg",
        r"\bmap@",
        r"\bmap\b",
        r"\bauc\b",
        r"a/b",
        r"experiment",
        r"interval",
        r"bootstrap",
        r"\bseeds?\b",
        r"significan",
        r"offline",
        r"online",
        r"interleav",
        r"holdout",
        r"hold-out",
        r"guardrail",
        r"precision",
        r"recall at",
        r"variance",
        r"power",
        r"baseline",
        r"beats",
        r"improv",
        r"\bwins?\b",
        r"compare",
        r"calibrat",
        r"prevalence",
        r"audit",
        r"\blift",
    ),
    "Data and labels": (
        r"\blabel",
        r"annotat",
        r"\brater",
        r"reviewers? (label|disagree)",
        r"negative",
        r"sampling",
        r"\bsample",
        r"leak",
        r"\bsplit",
        r"augment",
        r"active learning",
        r"weak label",
        r"noise",
        r"noisy",
        r"feature",
        r"train(ing)? data",
        r"dataset",
        r"corpus",
        r"\bclicks?\b",
        r"position bias",
        r"implicit",
        r"log(ged|ging)",
        r"dedup",
        r"collect",
    ),
    "Serving and latency": (
        r"latenc",
        r"\bp99",
        r"\bp50",
        r"\bms\b",
        r"millisecond",
        r"serv(e|ing)",
        r"\bcache",
        r"caching",
        r"\bbatch",
        r"onnx",
        r"cpu",
        r"gpu",
        r"throughput",
        r"real[- ]time",
        r"budget",
        r"cascade",
        r"hosting",
        r"deploy",
        r"inference",
        r"request",
        r"freshness",
        r"fresh",
        r"stream",
    ),
    "Scaling and cost": (
        r"\bscale",
        r"scaling",
        r"shard",
        r"100\N{MULTIPLICATION SIGN}",
        r"10\N{MULTIPLICATION SIGN}",
        r"billion",
        r"\b\d+ ?b\b",
        r"\bcost",
        r"\$\d",
        r"dollar",
        r"machines",
        r"one server",
        r"single machine",
        r"\bservers?\b",
        r"replica",
        r"memory",
        r"\bbytes",
        r"\bgb\b",
        r"\btb\b",
        r"\bray\b",
        r"distributed",
        r"cluster",
        r"fleet",
        r"grows",
        r"larger",
        r"\bqps\b",
    ),
    "Failure modes": (
        r"drift",
        r"cold[- ]start",
        r"\bbias",
        r"feedback loop",
        r"adversar",
        r"abuse",
        r"attack",
        r"spam",
        r"outage",
        r"fairness",
        r"monitor",
        r"rollback",
        r"roll back",
        r"hubness",
        r"popularity",
        r"fail",
        r"broke",
        r"wrong",
        r"mistake",
        r"degrad",
        r"incident",
        r"alert",
        r"evasion",
        r"obfuscat",
        r"privacy",
        r"harm",
    ),
}

# Ties go to the more specific concern: retrieval words (index, embedding, query) are everywhere.
_TIE_ORDER: tuple[str, ...] = (
    "Failure modes",
    "Scaling and cost",
    "Serving and latency",
    "Data and labels",
    "Evaluation and experiments",
    "Ranking",
    "Retrieval",
)

# Chapter-name priors (matched against the document name, lower case).
_PRIORS: tuple[tuple[str, str], ...] = (
    (r"ann|knn|scann|two_tower|retrieval|node_embeddings|index", "Retrieval"),
    (r"ranking|reranking|gradient_boosted|multitask|personalization|model_development", "Ranking"),
    (
        r"evaluation|objectives|scoring_and_guardrails|benchmark|comparison",
        "Evaluation and experiments",
    ),
    (r"data_|feature|probe_questions|contrastive", "Data and labels"),
    (r"serving|hosting|system_io|end_to_end|control_plane", "Serving and latency"),
    (r"scaling", "Scaling and cost"),
    (r"challenges", "Failure modes"),
)

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_OPEN = re.compile(r"^(?P<fence>`{3,}|:{3,})\{dropdown\}\s*(?P<title>.*?)\s*$")
_OPTION = re.compile(r"^:[\w-]+:")


@dataclass(frozen=True)
class Drill:
    """One drill: where it is, its label, its question and answer (MyST source) and its topic."""

    docname: str  # e.g. "book/ml_algorithms/knn"
    number: int  # 1-based, in document order
    chapter: str  # the document's title (its first "# " heading)
    question: str
    answer: str
    topic: str

    @property
    def label(self) -> str:
        """The anchor of the rendered dropdown (see :func:`drill_label`)."""
        return drill_label(self.docname, self.number)


def drill_label(docname: str, number: int) -> str:
    """``drill-<docname without 'book/', '/' as '-'>-<number>``: the dropdown's HTML id."""
    if not isinstance(docname, str) or not docname:
        raise ValueError(f"docname must be a non-empty document name, got {docname!r}")
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise ValueError(f"number must be a positive int, got {number!r}")
    stem = docname.removeprefix("book/").replace("/", "-")
    return f"drill-{stem}-{number}"


def classify(question: str, answer: str = "", docname: str = "") -> str:
    """The topic (one of :data:`TOPICS`) the keyword rules give a drill; see ``_KEYWORDS``."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question must be a non-empty string")
    q, a, d = question.lower(), answer.lower(), docname.lower()
    score = dict.fromkeys(TOPICS, 0)
    for topic, patterns in _KEYWORDS.items():
        for rx in patterns:
            score[topic] += 3 * len(re.findall(rx, q)) + min(len(re.findall(rx, a)), 3)
    for rx, topic in _PRIORS:
        if re.search(rx, d.rsplit("/", 1)[-1]):
            score[topic] += 2
            break
    return max(TOPICS, key=lambda t: (score[t], -_TIE_ORDER.index(t)))


def topic_class(topic: str) -> str:
    """The CSS class a drill's dropdown carries to declare ``topic``: ``topic-<slug>``."""
    if topic not in TOPICS:
        raise ValueError(f"topic must be one of {TOPICS}, got {topic!r}")
    return "topic-" + re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")


_TOPIC_BY_CLASS = {topic_class(t): t for t in TOPICS}


def _declared_topic(options: list[str], docname: str, number: int, question: str, answer: str):
    classes = [
        c
        for opt in options
        if opt.startswith(":class-container:")
        for c in opt.split(":", 2)[2].split()
    ]
    declared = [c for c in classes if c.startswith("topic-")]
    where = f"{docname}: drill {number} ({question[:60]!r})"
    if not declared:
        hint = topic_class(classify(question, answer, docname))
        raise ValueError(
            f"{where} declares no topic: add the line ':class-container: {hint}' under its "
            f"opening line (the keyword rules suggest it); the topics are "
            + ", ".join(_TOPIC_BY_CLASS)
        )
    if len(declared) > 1 or declared[0] not in _TOPIC_BY_CLASS:
        raise ValueError(
            f"{where}: declare exactly one of {', '.join(_TOPIC_BY_CLASS)}, got {declared}"
        )
    return _TOPIC_BY_CLASS[declared[0]]


def parse_drills(text: str, docname: str) -> list[Drill]:
    """Every drill in one chapter's MyST source, in document order.

    Only dropdowns inside a ``## Interview drill`` / ``## Final drill`` section count. Each
    declares its topic with the option ``:class-container: topic-<slug>`` (:func:`topic_class`).
    A drill whose title does not start with ``Q:`` (it would be silently left out), or that
    declares no topic or an unknown one, is an error that names the chapter and the drill.
    """
    lines = text.splitlines()
    chapter = next(
        (m.group(2) for ln in lines if (m := _HEADING.match(ln)) and m.group(1) == "#"), docname
    )
    drills: list[Drill] = []
    in_section = False
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _HEADING.match(line)
        if m and len(m.group(1)) <= 2:
            in_section = len(m.group(1)) == 2 and m.group(2) in DRILL_HEADINGS
        mo = _OPEN.match(line)
        if mo:
            fence, title = mo.group("fence"), mo.group("title")
            if fence.startswith("`") and "`" in title:
                # CommonMark: a backtick fence's info string may not hold a backtick, so such a
                # "dropdown" renders as a code block with its markup showing.
                raise ValueError(
                    f"{docname}: the dropdown {title[:60]!r} has a role in its title inside a "
                    "backtick fence, which renders as code; open it with :::{dropdown} instead"
                )
            body: list[str] = []
            i += 1
            while i < len(lines) and lines[i].strip() != fence:
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise ValueError(f"{docname}: a {{dropdown}} opened with {fence} is never closed")
            if in_section:
                if not title.startswith("Q:"):
                    raise ValueError(
                        f"{docname}: a drill dropdown's title must start with 'Q:', got {title!r}"
                    )
                options: list[str] = []
                while body and (_OPTION.match(body[0]) or not body[0].strip()):
                    options.append(body.pop(0))
                question = title[2:].strip()
                answer = "\n".join(body).strip()
                topic = _declared_topic(options, docname, len(drills) + 1, question, answer)
                drills.append(Drill(docname, len(drills) + 1, chapter, question, answer, topic))
        i += 1
    return drills


def toc_documents(root: str | Path) -> list[tuple[str, str]]:
    """``(part caption, docname)`` of every document in ``_toc.yml``, in reading order."""
    root = Path(root)
    toc_path = root / "_toc.yml"
    if not toc_path.is_file():
        raise FileNotFoundError(f"root must be the book's root (with _toc.yml); no {toc_path}")
    toc = yaml.safe_load(toc_path.read_text())
    out: list[tuple[str, str]] = [("", toc["root"])]

    def walk(entries, caption):
        for e in entries or []:
            if "file" in e:
                out.append((caption, e["file"]))
            walk(e.get("sections"), caption)

    for part in toc.get("parts", []):
        walk(part.get("chapters"), part.get("caption", ""))
    return out


def book_drills(root: str | Path) -> list[Drill]:
    """Every drill of every chapter (MyST ``.md``) in ``_toc.yml``, in reading order."""
    root = Path(root)
    drills: list[Drill] = []
    for _caption, doc in toc_documents(root):
        path = root / f"{doc}.md"
        if doc.startswith(EXCLUDED_PREFIXES) or not path.is_file():
            continue
        drills.extend(parse_drills(path.read_text(), doc))
    return drills


def _parts(root: Path) -> dict[str, str]:
    return {doc: caption for caption, doc in toc_documents(root)}


def _abbrev(part: str) -> str:
    """A short column head for a part: its initials (``Video search``: ``VS``), or a short word."""
    special = {"Core algorithms": "Core", "Graph learning": "Graph"}
    return special.get(part) or "".join(w[0].upper() for w in part.split() if w[0].isalpha())


def index_markdown(root: str | Path) -> str:
    """The drills index page (MyST): every drill, grouped by topic, linking to its answer."""
    root = Path(root)
    drills = book_drills(root)
    parts = {doc: caption or "Front matter" for doc, caption in _parts(root).items()}
    part_order = list(dict.fromkeys(parts[d.docname] for d in drills))
    by_topic = {t: [d for d in drills if d.topic == t] for t in TOPICS}
    n_docs = len({d.docname for d in drills})
    agree = sum(classify(d.question, d.answer, d.docname) == d.topic for d in drills)
    out = [
        "# Drills index",
        "",
        "<!-- Generated at build time by utils/site/drills.py from the chapters' drill sections."
        " Do not edit: edit the chapter. -->",
        "",
        f"Every interview drill in the book, {len(drills)} questions from {n_docs} chapters, "
        "grouped by topic. Each question names its part and links to its model answer in the "
        "chapter, which sets the question's scenario; measured numbers in the answers come from "
        "the chapter's lab where it has one. Try to answer aloud in two minutes before you open "
        "the link.",
        "",
        "This page is generated when the book is built, from the chapters' drill sections, so it "
        "always holds every drill. Each drill sits under the one topic its chapter declares for "
        "it; many drills touch two topics, so read a neighbouring topic too. (Keyword rules, which "
        "suggest a topic when a new drill declares none, agree with the declared topic on "
        f"{agree} of the {len(drills)} drills.) `make flashcards` turns the same drills into an "
        "Anki deck.",
        "",
        "| Topic | " + " | ".join(_abbrev(p) for p in part_order) + " | All |",
        "|---|" + "---:|" * (len(part_order) + 1),
    ]
    for t in TOPICS:
        counts = [sum(parts[d.docname] == p for d in by_topic[t]) for p in part_order]
        out.append(f"| {t} | " + " | ".join(map(str, counts)) + f" | {len(by_topic[t])} |")
    out += ["", "Columns: " + "; ".join(f"{_abbrev(p)}, {p}" for p in part_order) + "."]
    for t in TOPICS:
        out += ["", f"## {t}", ""]
        for d in by_topic[t]:
            title = d.chapter.replace("`", "").replace("<", "").replace(">", "")
            out.append(
                f"1. *{parts[d.docname]}.* {d.question} ({{ref}}`answer in: {title} <{d.label}>`)"
            )
    return "\n".join(out) + "\n"


def write_index(root: str | Path, path: str | Path | None = None) -> Path:
    """Write the drills index (default ``<root>/book/interview_practice/drills.md``) if changed."""
    root = Path(root)
    path = Path(path) if path is not None else root / f"{INDEX_DOC}.md"
    text = index_markdown(root)
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path


# --------------------------------------------------------------------------------------------
# Flashcards: the same drills, glue resolved, as an Anki CSV
# --------------------------------------------------------------------------------------------
_GLUE = re.compile(r"\{glue:text\}`([^`]*)`")
_ROLE = re.compile(r"\{(doc|ref|numref|cite|cite:p|cite:t|term|math)\}`([^`]*)`")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


@cache
def _glued(notebook: Path) -> dict[str, str]:
    import nbformat

    from utils import glued_texts

    if not notebook.is_file():
        raise FileNotFoundError(f"a glue role names {notebook}, which does not exist")
    nb = nbformat.read(notebook, as_version=4)
    found: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type == "code":
            found.update(
                {k: v for k, v in glued_texts(cell.get("outputs")).items() if v is not None}
            )
    return found


def resolve_glue(text: str, root: str | Path) -> str:
    """Replace every ``{glue:text}`/nb.ipynb::key:fmt``` role by the committed lab's value.

    Formatting is myst-nb's own (``myst_nb.core.variables.format_plain_text``), so a card shows
    the digits the rendered book shows. A role naming a missing lab or key is an error.
    """
    from myst_nb.core.variables import format_plain_text

    root = Path(root)

    def sub(m: re.Match) -> str:
        path, _, rest = m.group(1).partition("::")
        key, _, fmt = rest.partition(":")
        values = _glued(root / path.lstrip("/"))
        if key not in values:
            raise KeyError(f"{path} glues no key {key!r} (role {m.group(0)})")
        return format_plain_text(values[key], fmt)

    return _GLUE.sub(sub, text)


def plain_text(myst: str, root: str | Path) -> str:
    """A drill's MyST as card text: glue resolved, roles as their text, math as ``\\(...\\)``."""
    text = resolve_glue(myst, root)
    text = re.sub(r"\$\$(.+?)\$\$", r"\\[\1\\]", text, flags=re.S)
    text = re.sub(r"(?<![\\$])\$([^$\n]+)\$", r"\\(\1\\)", text)

    def role(m: re.Match) -> str:
        kind, body = m.group(1), m.group(2)
        shown = re.match(r"(.*?)\s*<[^>]*>$", body)
        if shown and shown.group(1):
            return shown.group(1)
        if kind == "doc":
            return "chapter " + body.rsplit("/", 1)[-1].replace("_", " ")
        if kind.startswith("cite"):
            return f"[{body}]"
        return body

    text = _ROLE.sub(role, text)
    text = _LINK.sub(r"\1", text)
    # join the source's soft line wraps; keep blank lines and list items on their own lines
    return re.sub(r"(?<!\n)\n(?!\n|\s*(?:[-*+]|\d+\.)\s)", " ", text)


def flashcards_csv(root: str | Path, base_url: str = "") -> str:
    """Anki-importable CSV text: ``guid, question, answer, link, tags``, one row per drill.

    The first lines are Anki's file headers (separator, HTML fields, column names, the GUID and
    tags columns), which Anki 2.1.55 and newer read. The GUID is the drill's label, so a
    re-import after the book changes updates each card in place (keeping its review history),
    even where two chapters ask the same question. Fields are HTML: text escaped, line breaks as
    ``<br>``, the link as an anchor; formulas stay ``\\(...\\)`` for Anki's MathJax.
    ``base_url`` is where the built site lives (``https://<user>.github.io/<repo>``, or a local
    ``file://`` path); links are ``<base_url>/<docname>.html#<drill label>``.
    """
    if not isinstance(base_url, str):
        raise TypeError(f"base_url must be a string, got {type(base_url).__name__}")
    root = Path(root)
    parts = _parts(root)
    buf = io.StringIO()
    buf.write(
        "#separator:Comma\n#html:true\n#columns:GUID,Question,Answer,Link,Tags\n"
        "#guid column:1\n#tags column:5\n"
    )
    w = csv.writer(buf, lineterminator="\n")
    base = base_url.rstrip("/")
    for d in book_drills(root):
        link = f"{base}/{d.docname}.html#{d.label}" if base else f"{d.docname}.html#{d.label}"
        tags = " ".join(
            "mlsd::" + re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")
            for s in (parts[d.docname] or "front matter", d.topic)
        )
        answer = _html(plain_text(d.answer, root)) + (
            f'<br><br>In the book: <a href="{html.escape(link)}">{html.escape(d.chapter)}</a>'
        )
        w.writerow([d.label, _html(plain_text(d.question, root)), answer, link, tags])
    return buf.getvalue()


def _html(text: str) -> str:
    return html.escape(text, quote=False).replace("\n", "<br>")


def write_flashcards(root: str | Path, out: str | Path, base_url: str = "") -> Path:
    """Write :func:`flashcards_csv` to ``out`` and return its path."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(flashcards_csv(root, base_url), encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m utils.site.drills {index,flashcards} [--out PATH] [--base-url URL]``."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m utils.site.drills", description=main.__doc__)
    p.add_argument("what", choices=["index", "flashcards"])
    p.add_argument("--root", default=".")
    p.add_argument("--out", default=None)
    p.add_argument("--base-url", default="")
    a = p.parse_args(argv)
    if a.what == "index":
        path = write_index(a.root, a.out)
        print(f"wrote {path}: {len(book_drills(a.root))} drills")
    else:
        out = a.out or "_build/flashcards.csv"
        path = write_flashcards(a.root, out, a.base_url)
        print(f"wrote {path}: {len(book_drills(a.root))} cards")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
