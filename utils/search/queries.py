"""A documented query simulator over the real film catalogue (no public query log ships offline).

The catalogue is real (:func:`utils.data.load_films`); the queries and their relevance labels
are simulated from its metadata, so the ground truth is known exactly. What it can show: how
retrievers differ by *query type* (exact titles, misspelt or partial titles, structured facets,
facets phrased in words the metadata does not contain), and how position bias distorts clicks.
What it cannot show: real intent distributions, queries about plot or mood, the long tail of
real phrasing, or engagement after the click. Every lab that uses it says so.

Query types (:data:`KINDS`):

- ``"known_item"``: a film's title, lower-cased; with probability ``typo_rate`` per query one or
  two character edits (:func:`add_typos`: deletion, transposition, substitution or insertion);
- ``"partial_title"``: the first one to three words of a title with at least three words;
- ``"facet"``: genre + country + decade in metadata words, e.g. "comedy france 1960s";
- ``"person"``: a director's name, or two actors who share at least two films;
- ``"mismatch"``: a facet query phrased with a synonym from :data:`THESAURUS`
  ("french comedy from the sixties", "scary japanese movie"): the words the user types are not
  the words in the metadata, the case dense retrieval is meant to win.

Graded relevance (0-3), from the metadata only:

- known item / partial title: the target film 3; other films whose title equals the query
  (remakes, namesakes) 2 for a known-item query; for a partial title every film whose title
  starts with the query 1 (the target 3);
- facet and mismatch: every film matching all three facets 2, films matching genre and decade
  but another country 1; the simulator draws facets with between 3 and 200 matching films;
- person: a director's films 2 and the films they wrote but did not direct 1; an actor pair's
  shared films 2.

:func:`simulate_clicks`: a position-based click model, ``P(click) = (1 / rank)^eta *
attractiveness(grade)`` (Richardson et al., 2007; Craswell et al., 2008), with the examination
curve and attractiveness returned so the bias is known.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._checks import check_positive_int

__all__ = [
    "ATTRACTIVENESS",
    "KINDS",
    "THESAURUS",
    "Query",
    "add_typos",
    "simulate_clicks",
    "simulate_queries",
]

KINDS = ("known_item", "partial_title", "facet", "person", "mismatch")
DEFAULT_MIX = {
    "known_item": 0.3,
    "partial_title": 0.1,
    "facet": 0.2,
    "person": 0.2,
    "mismatch": 0.2,
}
# Words a user types -> the metadata value they mean. Reviewed by hand: each synonym is a
# common way to say the value, none shares a word with the value it stands for, and no synonym
# stands for two values. Nationality adjectives ("french", "japanese") are also language
# names: a lexical index over the languages field matches them, with a different meaning
# (spoken language, not country of production). "english" is left out for that reason.
THESAURUS: dict[str, dict[str, tuple[str, ...]]] = {
    "genre": {
        "Horror": ("scary", "frightening"),
        "Comedy": ("funny", "hilarious"),
        "Animation": ("cartoon", "animated"),
        "Sci-Fi": ("space", "futuristic"),
        "Mystery": ("whodunit",),
        "Western": ("cowboy",),
        "Crime": ("gangster", "mob"),
        "Romance": ("love story", "romantic"),
        "War": ("battlefield", "wartime"),
        "Documentary": ("nonfiction", "real life"),
        "Musical": ("song and dance",),
        "Thriller": ("suspenseful", "edge of your seat"),
    },
    "country": {
        "France": ("french",),
        "United Kingdom": ("british",),
        "Italy": ("italian",),
        "Japan": ("japanese",),
        "Germany": ("german",),
        "India": ("indian", "bollywood"),
        "United States": ("american", "hollywood"),
        "Spain": ("spanish",),
        "Hong Kong": ("cantonese",),
        "Sweden": ("swedish",),
        "Soviet Union": ("russian", "ussr"),
        "Canada": ("canadian",),
    },
    "decade": {
        "1940s": ("forties",),
        "1950s": ("fifties",),
        "1960s": ("sixties",),
        "1970s": ("seventies",),
        "1980s": ("eighties",),
        "1990s": ("nineties",),
        "2000s": ("noughties",),
        "2010s": ("twenty tens",),
    },
}
# P(click | examined) by relevance grade, 0..3.
ATTRACTIVENESS = (0.05, 0.25, 0.55, 0.85)
_KEYS = "qwertyuiopasdfghjklzxcvbnm"


@dataclass
class Query:
    """One simulated query: its text, type, graded relevance ``{row: grade}`` over the rows of
    the films table, the target row of a known-item/partial-title query, and the facets it
    was drawn from."""

    text: str
    kind: str
    relevance: dict[int, int]
    target: int | None = None
    facets: dict[str, str] = field(default_factory=dict)


def add_typos(text: str, n_edits: int, rng: np.random.Generator) -> str:
    """``n_edits`` random character edits (delete, swap with the next, substitute, insert) at
    positions inside words; spaces are never edited, so the word count is kept."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    chars = list(text)
    for _ in range(n_edits):
        letters = [i for i, c in enumerate(chars) if c.isalnum()]
        if len(letters) < 2:
            break
        i = int(rng.choice(letters))
        op = int(rng.integers(4))
        if op == 0 and len(letters) > 2:
            del chars[i]
        elif op == 1 and i + 1 < len(chars) and chars[i + 1].isalnum():
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        elif op == 2:
            chars[i] = _KEYS[int(rng.integers(len(_KEYS)))]
        else:
            chars.insert(i, _KEYS[int(rng.integers(len(_KEYS)))])
    return "".join(chars)


def _decade(year: int) -> str:
    return f"{year // 10 * 10}s"


class _Catalogue:
    """Lookups over the films table used by the generators."""

    def __init__(self, films: pd.DataFrame) -> None:
        need = {"title", "year", "genres", "countries", "directors", "writers", "cast"}
        missing = need - set(films.columns)
        if missing:
            raise ValueError(f"films is missing columns {sorted(missing)}")
        if len(films) == 0:
            raise ValueError("films must hold at least one film")
        self.films = films.reset_index(drop=True)
        self.titles = self.films["title"].str.lower().str.strip().to_numpy()
        # titles with at least two letters or digits can be typed as a query
        self.searchable = np.flatnonzero([sum(ch.isalnum() for ch in t) >= 2 for t in self.titles])
        self.by_title: dict[str, list[int]] = defaultdict(list)
        for i, t in enumerate(self.titles):
            self.by_title[t].append(i)
        self.decades = np.array([_decade(int(y)) for y in self.films["year"]])
        self.facet_rows: dict[tuple[str, str, str], list[int]] = defaultdict(list)
        self.genre_decade: dict[tuple[str, str], list[int]] = defaultdict(list)
        for i, (gs, cs, d) in enumerate(
            zip(self.films["genres"], self.films["countries"], self.decades, strict=True)
        ):
            for g in gs:
                self.genre_decade[(g, d)].append(i)
                for c in cs:
                    self.facet_rows[(g, c, d)].append(i)
        self.directed: dict[str, list[int]] = defaultdict(list)
        self.wrote: dict[str, list[int]] = defaultdict(list)
        self.acted: dict[str, list[int]] = defaultdict(list)
        for i, (ds, ws, cast) in enumerate(
            zip(self.films["directors"], self.films["writers"], self.films["cast"], strict=True)
        ):
            for p in ds:
                self.directed[p].append(i)
            for p in ws:
                self.wrote[p].append(i)
            for p in cast:
                self.acted[p].append(i)


def _facet_relevance(cat: _Catalogue, g: str, c: str, d: str) -> dict[int, int]:
    rel = dict.fromkeys(cat.genre_decade[(g, d)], 1)
    rel.update(dict.fromkeys(cat.facet_rows[(g, c, d)], 2))
    return rel


def simulate_queries(
    films: pd.DataFrame,
    n: int = 1000,
    *,
    mix: dict[str, float] | None = None,
    typo_rate: float = 0.3,
    seed: int = 0,
) -> list[Query]:
    """``n`` queries of the kinds in ``mix`` (``{kind: share}``, default :data:`DEFAULT_MIX`)
    over ``films`` (the frame of :func:`utils.data.load_films`); relevance refers to the
    frame's row positions. Seeded; the same arguments give the same queries."""
    n = check_positive_int(n, "n")
    if isinstance(typo_rate, bool) or not isinstance(typo_rate, int | float):
        raise TypeError(f"typo_rate must be a number in [0, 1], got {typo_rate!r}")
    if not 0.0 <= typo_rate <= 1.0:
        raise ValueError(f"typo_rate must lie in [0, 1], got {typo_rate}")
    mix = dict(DEFAULT_MIX if mix is None else mix)
    unknown = set(mix) - set(KINDS)
    if unknown:
        raise ValueError(f"mix names unknown query kinds {sorted(unknown)}; known: {KINDS}")
    shares = np.array([mix.get(k, 0.0) for k in KINDS], dtype=float)
    if not np.isfinite(shares).all() or (shares < 0).any() or shares.sum() <= 0:
        raise ValueError(f"mix shares must be >= 0 and not all 0, got {mix}")
    cat = _Catalogue(films)
    rng = np.random.default_rng(seed)
    kinds = rng.choice(len(KINDS), size=n, p=shares / shares.sum())
    facets = sorted(k for k, rows in cat.facet_rows.items() if 3 <= len(rows) <= 200)
    syn_facets = [
        k
        for k in facets
        if k[0] in THESAURUS["genre"]
        and k[1] in THESAURUS["country"]
        and k[2] in THESAURUS["decade"]
    ]
    directors = sorted(p for p, rows in cat.directed.items() if len(rows) >= 3)
    long_titles = [i for i, t in enumerate(cat.titles) if len(t.split()) >= 3]
    pools = {
        "known_item": cat.searchable,
        "partial_title": long_titles,
        "facet": facets,
        "person": directors,
        "mismatch": syn_facets,
    }
    for j in np.unique(kinds):
        if len(pools[KINDS[int(j)]]) == 0:
            raise ValueError(
                f"films is too small for {KINDS[int(j)]!r} queries (no film, facet or person "
                f"qualifies); pass a larger catalogue or a mix without {KINDS[int(j)]!r}"
            )
    out: list[Query] = []
    for k in kinds:
        kind = KINDS[int(k)]
        if kind == "known_item":
            i = int(rng.choice(cat.searchable))
            title = cat.titles[i]
            rel = dict.fromkeys(cat.by_title[title], 2)
            rel[i] = 3
            text = title
            if rng.random() < typo_rate:
                text = add_typos(title, int(rng.integers(1, 3)), rng)
            out.append(Query(text, kind, rel, target=i))
        elif kind == "partial_title":
            i = int(rng.choice(long_titles))
            words = cat.titles[i].split()
            prefix = " ".join(words[: int(rng.integers(1, min(3, len(words) - 1) + 1))])
            rel = {j: 1 for j, t in enumerate(cat.titles) if t.startswith(prefix + " ")}
            rel[i] = 3
            out.append(Query(prefix, kind, rel, target=i))
        elif kind == "facet":
            g, c, d = facets[int(rng.integers(len(facets)))]
            order = rng.permutation(3)
            words = [g.lower(), c.lower(), d]
            text = " ".join(words[j] for j in order)
            out.append(
                Query(
                    text,
                    kind,
                    _facet_relevance(cat, g, c, d),
                    facets={"genre": g, "country": c, "decade": d},
                )
            )
        elif kind == "person":
            if rng.random() < 0.5:
                p = directors[int(rng.integers(len(directors)))]
                rel = dict.fromkeys(cat.wrote[p], 1)
                rel.update(dict.fromkeys(cat.directed[p], 2))
                out.append(Query(p.lower(), kind, rel, facets={"director": p}))
            else:
                out.append(_actor_pair(cat, rng))
        else:
            g, c, d = syn_facets[int(rng.integers(len(syn_facets)))]
            gw = _pick(THESAURUS["genre"][g], rng)
            cw = _pick(THESAURUS["country"][c], rng)
            dw = _pick(THESAURUS["decade"][d], rng)
            text = f"{cw} {gw} movie from the {dw}"
            out.append(
                Query(
                    text,
                    kind,
                    _facet_relevance(cat, g, c, d),
                    facets={"genre": g, "country": c, "decade": d},
                )
            )
    return out


def _pick(options: tuple[str, ...], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def _actor_pair(cat: _Catalogue, rng: np.random.Generator) -> Query:
    """Two actors who share at least two films: pick a film with a cast, then a co-star."""
    for _ in range(1000):
        i = int(rng.integers(len(cat.films)))
        cast = cat.films["cast"].iat[i]
        if len(cast) < 2:
            continue
        a = cast[int(rng.integers(len(cast)))]
        films_a = set(cat.acted[a])
        partners = sorted(b for b in cast if b != a and len(films_a & set(cat.acted[b])) >= 2)
        if not partners:
            continue
        b = partners[int(rng.integers(len(partners)))]
        shared = sorted(films_a & set(cat.acted[b]))
        return Query(
            f"{a.lower()} {b.lower()}",
            "person",
            dict.fromkeys(shared, 2),
            facets={"actors": f"{a}; {b}"},
        )
    raise RuntimeError("no actor pair with two shared films found in 1,000 draws")


def simulate_clicks(
    rankings: list[np.ndarray],
    queries: list[Query],
    *,
    eta: float = 1.0,
    attractiveness: tuple[float, ...] = ATTRACTIVENESS,
    seed: int = 0,
) -> tuple[pd.DataFrame, np.ndarray]:
    """One impression of each query's ranked list, clicked by a position-based model.

    Returns ``(log, examination)``: one row per shown result with ``query``, ``rank``
    (1-based), ``doc``, ``grade``, ``clicked``; and ``(1 / rank)^eta`` for ranks 1..max.
    """
    if len(rankings) != len(queries):
        raise ValueError(f"rankings has {len(rankings)} lists for {len(queries)} queries")
    if isinstance(eta, bool) or not isinstance(eta, int | float) or eta < 0:
        raise ValueError(f"eta must be a number >= 0, got {eta!r}")
    att = np.asarray(attractiveness, dtype=float)
    if att.shape != (4,) or (att < 0).any() or (att > 1).any():
        raise ValueError("attractiveness must be 4 probabilities, one per grade 0..3")
    rng = np.random.default_rng(seed)
    rows = []
    depth = max((len(r) for r in rankings), default=0)
    exam = (1.0 / np.arange(1, depth + 1)) ** eta
    for qi, (ranked, q) in enumerate(zip(rankings, queries, strict=True)):
        for r, doc in enumerate(np.asarray(ranked).tolist(), start=1):
            grade = q.relevance.get(int(doc), 0)
            p = exam[r - 1] * att[grade]
            rows.append((qi, r, int(doc), grade, bool(rng.random() < p)))
    log = pd.DataFrame(rows, columns=["query", "rank", "doc", "grade", "clicked"])
    return log, exam
