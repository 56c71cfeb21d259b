"""The film database of ``bokeh_sampledata==2026.1`` as tables and graphs.

``bokeh_sampledata/_data/movies.db`` is an 8 MB SQLite file: table ``omdb`` holds 17,472 films
released 1940-2014 with title, year, genre, director, writer, cast (comma-separated, in
alphabetical order, so billing order is lost; some casts are incomplete or empty), language,
country, runtime and rating. The package's licence file records it as CC0-1.0 (Wikidata). Earlier
releases of the package held other content under other terms, hence the exact pin and checksum.

The loader tries, in order:

1. the cache in ``data/cache/films/`` (validated; a corrupt cache is rebuilt);
2. the installed ``bokeh_sampledata`` package (checked against the SHA-256 below);
3. the wheel from PyPI, fetched with ``pip download --no-deps bokeh_sampledata==2026.1``.

Two rows share an imdb id (a re-release, "Apocalypse Now Redux", and a retitled documentary); the
loader keeps the earliest so that a re-release does not fake a repeated collaboration.

Graphs built from it (all actor names are as Wikidata spells them; two people with one name are
one node):

- :func:`costar_edges`: one row per pair of actors per shared film, stamped with the film's year;
- :func:`collaboration_graph`: a tie per pair with at least ``min_shared`` shared films, born in
  the year of the ``min_shared``-th one (the repeat-collaboration graph when 2);
- :func:`film_hetero_graph`: actor, film, director, writer and genre nodes;
- :func:`film_kg_triples`: film -directed_by-> person, -has_genre-> genre, -from_country-> country;
- :func:`actor_features` / :func:`actor_profiles`: per-actor attributes from films released before
  a cut-off year (so that a temporal split does not leak).
"""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
import tempfile
import warnings
import zipfile
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ._cache import cache_dir

SAMPLEDATA_SPEC = "bokeh_sampledata==2026.1"
MOVIES_DB_SHA256 = "1d9c6a02e488d0354b2309e16130c58820a91ac2ce417e814c5964f9579a65ac"
N_ROWS_RAW, N_FILMS = 17_472, 17_470  # rows in omdb; films after dropping 2 repeated imdb ids
YEAR_RANGE = (1940, 2014)
LIST_COLUMNS = ("genres", "directors", "writers", "cast", "languages", "countries")
_SOURCE_COLUMNS = {
    "Genre": "genres",
    "Director": "directors",
    "Writer": "writers",
    "Cast": "cast",
    "Language": "languages",
    "Country": "countries",
}
KG_RELATIONS = ("directed_by", "has_genre", "from_country")
CACHE_VERSION = 4  # bump when parsing changes: 3 keeps name suffixes such as "Jr." attached;
# 4 adds the Rotten Tomatoes review count, Tomatometer and critic rating


NAME_SUFFIXES = frozenset({"Jr.", "Jr", "Sr.", "Sr", "II", "III", "IV"})


def _split_names(text: object) -> tuple[str, ...]:
    """Split a comma-separated list. A bare suffix after a comma belongs to the name before it:
    "Frank Coghlan, Jr." is one person, spelt "Frank Coghlan Jr." as most casts write such names,
    not "Frank Coghlan" and someone called "Jr."."""
    if not isinstance(text, str):
        return ()
    names: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if name in NAME_SUFFIXES and names:
            names[-1] = f"{names[-1]} {name}"  # the spelling most casts use: "Elisha Cook Jr."
        elif name:
            names.append(name)
    return tuple(dict.fromkeys(names))


def films_from_db(path: str | Path, *, keep_repeats: bool = False) -> pd.DataFrame:
    """Read ``movies.db`` into the normalised film table (see :func:`load_films`)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"path: no movies.db at {path}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != MOVIES_DB_SHA256:
        raise ValueError(
            f"{path} has SHA-256 {digest[:12]}..., expected {MOVIES_DB_SHA256[:12]}..."
        )
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        raw = pd.read_sql("SELECT * FROM omdb", con)
        tomatoes = pd.read_sql("SELECT ID, Reviews, Meter, Rating FROM tomatoes", con)
    raw = raw.merge(tomatoes.rename(columns={"Rating": "rtRating"}), on="ID", how="left")
    raw = raw.sort_values(["Year", "ID"], kind="stable")
    if not keep_repeats:
        raw = raw.drop_duplicates("imdbID", keep="first")
    films = pd.DataFrame(
        {
            "film_id": raw["ID"].astype(np.int64).to_numpy(),
            "imdb_id": raw["imdbID"].astype(str).to_numpy(),
            "title": raw["Title"].astype(str).to_numpy(),
            "year": raw["Year"].astype(np.int64).to_numpy(),
        }
    )
    for source, column in _SOURCE_COLUMNS.items():
        films[column] = [_split_names(t) for t in raw[source]]
    films["cast_text"] = raw["Cast"].fillna("").astype(str).to_numpy()
    films["runtime"] = pd.to_numeric(raw["Runtime"], errors="coerce").to_numpy(dtype=float)
    films["imdb_rating"] = pd.to_numeric(raw["imdbRating"], errors="coerce").to_numpy(dtype=float)
    films["n_reviews"] = pd.to_numeric(raw["Reviews"], errors="coerce").to_numpy(dtype=float)
    films["rt_meter"] = pd.to_numeric(raw["Meter"], errors="coerce").to_numpy(dtype=float)
    films["rt_rating"] = pd.to_numeric(raw["rtRating"], errors="coerce").to_numpy(dtype=float)
    return films.reset_index(drop=True)


def validate_films(films: pd.DataFrame, *, keep_repeats: bool = False) -> None:
    """Raise ``ValueError`` unless ``films`` is the film table of movies.db (deduplicated unless
    ``keep_repeats``)."""
    problems = []
    expected = N_ROWS_RAW if keep_repeats else N_FILMS
    if len(films) != expected:
        problems.append(f"{len(films)} films, expected {expected}")
    missing = {"film_id", "imdb_id", "title", "year", *LIST_COLUMNS} - set(films.columns)
    if missing:
        problems.append(f"missing columns {sorted(missing)}")
    if not problems:
        lo, hi = int(films["year"].min()), int(films["year"].max())
        if (lo, hi) != YEAR_RANGE:
            problems.append(f"years {lo}-{hi}, expected {YEAR_RANGE[0]}-{YEAR_RANGE[1]}")
        if not keep_repeats and films["imdb_id"].duplicated().any():
            problems.append("duplicate imdb ids")
        if not all(isinstance(c, tuple) for c in films["cast"].head(50)):
            problems.append("cast is not a tuple of names")
    if problems:
        raise ValueError("not the movies.db film table: " + "; ".join(problems))


def _installed_db(tmp: str) -> Path:
    import bokeh_sampledata  # an optional source: imported only when the cache is empty

    return Path(bokeh_sampledata.__file__).parent / "_data" / "movies.db"


def _pypi_db(tmp: str, timeout: float = 600.0) -> Path:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, SAMPLEDATA_SPEC],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pip download {SAMPLEDATA_SPEC} failed: {proc.stderr.strip()[-300:]}")
    wheel = next(Path(tmp).glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        zf.extract("bokeh_sampledata/_data/movies.db", tmp)
    return Path(tmp) / "bokeh_sampledata" / "_data" / "movies.db"


def load_films(
    cache: str | Path | None = None, *, keep_repeats: bool = False, verbose: bool = False
) -> pd.DataFrame:
    """The film table: one row per film (17,470 after dropping repeated imdb ids), sorted by year.

    Columns: ``film_id`` (movies.db ID), ``imdb_id``, ``title``, ``year`` (int), ``genres``,
    ``directors``, ``writers``, ``cast``, ``languages``, ``countries`` (tuples of str, in the
    database's order; casts are alphabetical), ``runtime`` (minutes), ``imdb_rating`` (empty in
    this release: the database's imdbRating and imdbVotes columns hold no value), the Rotten
    Tomatoes critic figures from the database's ``tomatoes`` table, ``n_reviews`` (number of
    critic reviews, 5-388; a popularity prior that favours recent films, since online reviews
    grew over the years), ``rt_meter`` (Tomatometer, % positive) and ``rt_rating`` (mean critic
    score out of 10), and ``cast_text`` (the cast as stored, to show what parsing does).
    ``keep_repeats=True`` keeps both rows of a repeated imdb id (17,472 rows; not cached).
    """
    folder = cache_dir(cache) / "films"
    file = folder / f"films_v{CACHE_VERSION}.pkl"
    tried: list[str] = []
    if keep_repeats:
        tried.append("cache: not used for keep_repeats=True")
    elif file.exists():
        try:
            films = pd.read_pickle(file)
            validate_films(films)
            return films
        except Exception as exc:  # corrupt or stale cache: rebuild it
            warnings.warn(f"film cache {file} is corrupt ({exc}); rebuilding it", stacklevel=2)
            tried.append(f"cache {file}: corrupt ({exc})")
    else:
        tried.append(f"cache {file}: empty")
    sources = (
        (f"installed {SAMPLEDATA_SPEC}", _installed_db),
        (f"PyPI wheel {SAMPLEDATA_SPEC}", _pypi_db),
    )
    for name, locate in sources:
        try:
            with tempfile.TemporaryDirectory() as tmp:
                films = films_from_db(locate(tmp), keep_repeats=keep_repeats)
            validate_films(films, keep_repeats=keep_repeats)
        except Exception as exc:
            tried.append(f"{name}: {type(exc).__name__}: {exc}")
            if verbose:
                print(f"films from {name} failed: {exc}")
            continue
        if not keep_repeats:
            folder.mkdir(parents=True, exist_ok=True)
            films.to_pickle(file)
        return films
    raise RuntimeError(
        "Could not load the film database (movies.db). Tried:\n  - "
        + "\n  - ".join(tried)
        + f"\nFix: `pip install {SAMPLEDATA_SPEC}` (make setup does it), or connect to PyPI."
    )


def _films(films: pd.DataFrame | None) -> pd.DataFrame:
    if films is None:
        return load_films()
    if not isinstance(films, pd.DataFrame) or "cast" not in films or "year" not in films:
        raise TypeError("films: expected the DataFrame returned by load_films()")
    return films


class CoStar(NamedTuple):
    """Actors (sorted names) and one row per pair of actors per shared film."""

    actors: np.ndarray
    edges: pd.DataFrame  # u < v (int64 indices into actors), film_id, year


class Collaboration(NamedTuple):
    """The repeat-collaboration graph: actors in at least one tie, and the ties."""

    actors: np.ndarray
    ties: pd.DataFrame  # u < v, born, first_year, n_shared


def costar_edges(films: pd.DataFrame | None = None) -> CoStar:
    """Every pair of actors who share a film, once per film, with the film's year."""
    films = _films(films)
    actors = np.array(sorted({a for cast in films["cast"] for a in cast}), dtype=object)
    index = {a: i for i, a in enumerate(actors)}
    us, vs, fid, yrs = [], [], [], []
    cols = (films["film_id"].tolist(), films["year"].tolist(), films["cast"].tolist())
    for film_id, year, cast in zip(*cols, strict=True):
        ids = np.array(sorted(index[a] for a in cast), dtype=np.int64)
        if len(ids) < 2:
            continue
        iu, iv = np.triu_indices(len(ids), k=1)
        us.append(ids[iu])
        vs.append(ids[iv])
        fid.append(np.full(len(iu), film_id, dtype=np.int64))
        yrs.append(np.full(len(iu), year, dtype=np.int64))
    edges = pd.DataFrame(
        {
            "u": np.concatenate(us),
            "v": np.concatenate(vs),
            "film_id": np.concatenate(fid),
            "year": np.concatenate(yrs),
        }
    )
    return CoStar(actors, edges)


def collaboration_graph(films: pd.DataFrame | None = None, min_shared: int = 2) -> Collaboration:
    """Ties between actors who share at least ``min_shared`` films.

    A tie is born in the year of the pair's ``min_shared``-th shared film (films of one year in
    any order). With ``min_shared=2`` (the repeat-collaboration graph) the 2026.1 data give 14,972
    actors and 71,485 ties, 13,881 of them born in 2010 or later. Actors are re-indexed 0..n-1 in
    name order over the actors that have a tie; ``first_year`` is the first shared film's year and
    ``n_shared`` the total count.
    """
    if not isinstance(min_shared, (int, np.integer)) or min_shared < 1:
        raise ValueError(f"min_shared: expected an int >= 1, got {min_shared!r}")
    co = costar_edges(films)
    e = co.edges.sort_values(["u", "v", "year"], kind="stable")
    g = e.groupby(["u", "v"], sort=True)["year"]
    rank = g.cumcount()
    born = e.loc[rank.to_numpy() == min_shared - 1, ["u", "v", "year"]].rename(
        columns={"year": "born"}
    )
    stats = g.agg(first_year="min", n_shared="size").reset_index()
    ties = stats.merge(born, on=["u", "v"], how="inner")
    keep = np.unique(np.concatenate([ties["u"].to_numpy(), ties["v"].to_numpy()]))
    remap = np.full(len(co.actors), -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    ties = pd.DataFrame(
        {
            "u": remap[ties["u"].to_numpy()],
            "v": remap[ties["v"].to_numpy()],
            "born": ties["born"].to_numpy(dtype=np.int64),
            "first_year": ties["first_year"].to_numpy(dtype=np.int64),
            "n_shared": ties["n_shared"].to_numpy(dtype=np.int64),
        }
    )
    return Collaboration(
        co.actors[keep], ties.sort_values(["born", "u", "v"]).reset_index(drop=True)
    )


def _actor_film_rows(films: pd.DataFrame, actors: np.ndarray, until_year: int | None):
    if until_year is not None:
        films = films[films["year"] < until_year]
    index = {a: i for i, a in enumerate(actors)}
    rows = [(index[a], k) for k, cast in enumerate(films["cast"]) for a in cast if a in index]
    return films.reset_index(drop=True), rows


def actor_profiles(
    films: pd.DataFrame, actors: np.ndarray, until_year: int | None = None
) -> pd.DataFrame:
    """Per-actor profile from films released before ``until_year`` (all films if None).

    Columns: n_films, first_year, last_year (NaN without films), top_genre, top_country,
    top_language ("" without films), directors and writers (tuples of the people they worked with).
    """
    films = _films(films)
    actors = np.asarray(actors, dtype=object)
    films, rows = _actor_film_rows(films, actors, until_year)
    n = len(actors)
    count = np.zeros(n, dtype=np.int64)
    first = np.full(n, np.nan)
    last = np.full(n, np.nan)
    tallies = {c: [Counter() for _ in range(n)] for c in ("genres", "countries", "languages")}
    people = {c: [dict() for _ in range(n)] for c in ("directors", "writers")}
    years = films["year"].to_numpy()
    cols = {c: films[c].tolist() for c in (*tallies, *people)}
    for i, k in rows:
        count[i] += 1
        y = years[k]
        first[i] = y if np.isnan(first[i]) else min(first[i], y)
        last[i] = y if np.isnan(last[i]) else max(last[i], y)
        for c, t in tallies.items():
            t[i].update(cols[c][k] if c == "genres" else cols[c][k][:1])
        for c, p in people.items():
            p[i].update(dict.fromkeys(cols[c][k]))

    def top(counter: Counter) -> str:
        return min(counter.items(), key=lambda kv: (-kv[1], kv[0]))[0] if counter else ""

    return pd.DataFrame(
        {
            "n_films": count,
            "first_year": first,
            "last_year": last,
            "top_genre": [top(c) for c in tallies["genres"]],
            "top_country": [top(c) for c in tallies["countries"]],
            "top_language": [top(c) for c in tallies["languages"]],
            "directors": [tuple(p) for p in people["directors"]],
            "writers": [tuple(p) for p in people["writers"]],
        },
        index=pd.Index(actors, name="actor"),
    )


def actor_features(
    films: pd.DataFrame,
    actors: np.ndarray,
    until_year: int | None = None,
    *,
    n_countries: int = 12,
    n_languages: int = 8,
) -> tuple[np.ndarray, list[str]]:
    """A dense float32 feature matrix per actor from films released before ``until_year``.

    Columns: the share of the actor's films in each genre; the share in each of the
    ``n_countries`` most common first-listed countries and ``n_languages`` first-listed languages
    (vocabulary from the same films, so nothing after the cut-off leaks in); debut decade one-hot
    (1940s..2010s); log(1 + film count); and a "no films yet" flag. Returns the matrix and its
    column names.
    """
    films = _films(films)
    if until_year is not None and not isinstance(until_year, (int, np.integer)):
        raise TypeError(f"until_year: expected an int year or None, got {until_year!r}")
    actors = np.asarray(actors, dtype=object)
    if actors.ndim != 1 or len(actors) == 0:
        raise ValueError("actors: expected a non-empty 1-D array of names")
    past, rows = _actor_film_rows(films, actors, until_year)
    genres = sorted({g for gs in films["genres"] for g in gs})
    countries = [
        c for c, _ in Counter(c[0] for c in past["countries"] if c).most_common(n_countries)
    ]
    languages = [
        c for c, _ in Counter(c[0] for c in past["languages"] if c).most_common(n_languages)
    ]
    decades = list(range(1940, 2020, 10))
    g_ix = {g: j for j, g in enumerate(genres)}
    c_ix = {c: j for j, c in enumerate(countries)}
    l_ix = {c: j for j, c in enumerate(languages)}
    n = len(actors)
    G = np.zeros((n, len(genres)))
    C = np.zeros((n, len(countries)))
    L = np.zeros((n, len(languages)))
    count = np.zeros(n)
    debut = np.full(n, 10_000)
    years = past["year"].to_numpy()
    p_genres, p_countries, p_languages = (
        past[c].tolist() for c in ("genres", "countries", "languages")
    )
    for i, k in rows:
        count[i] += 1
        debut[i] = min(debut[i], years[k])
        for g in p_genres[k]:
            G[i, g_ix[g]] += 1
        cs, ls = p_countries[k], p_languages[k]
        if cs and cs[0] in c_ix:
            C[i, c_ix[cs[0]]] += 1
        if ls and ls[0] in l_ix:
            L[i, l_ix[ls[0]]] += 1
    denom = np.maximum(count, 1)[:, None]
    D = np.zeros((n, len(decades)))
    has = count > 0
    D[np.flatnonzero(has), (np.clip(debut[has], 1940, 2019) - 1940) // 10] = 1
    X = np.hstack([G / denom, C / denom, L / denom, D, np.log1p(count)[:, None], (~has)[:, None]])
    names = (
        [f"genre:{g}" for g in genres]
        + [f"country:{c}" for c in countries]
        + [f"language:{c}" for c in languages]
        + [f"debut:{d}s" for d in decades]
        + ["log_films", "no_films"]
    )
    return X.astype(np.float32), names


class HeteroGraph(NamedTuple):
    """Typed nodes (names per type) and typed edges (src, dst indices per relation)."""

    nodes: dict[str, np.ndarray]
    edges: dict[tuple[str, str, str], pd.DataFrame]


def film_hetero_graph(films: pd.DataFrame | None = None) -> HeteroGraph:
    """Actor, film, director, writer and genre nodes with acts_in, directed_by, written_by and
    has_genre edges (film nodes are indexed in the order of ``films``, labelled by imdb id)."""
    films = _films(films)
    relations = {
        ("actor", "acts_in", "film"): "cast",
        ("film", "directed_by", "director"): "directors",
        ("film", "written_by", "writer"): "writers",
        ("film", "has_genre", "genre"): "genres",
    }
    nodes: dict[str, np.ndarray] = {"film": films["imdb_id"].to_numpy(dtype=object)}
    for (src, _, dst), column in relations.items():
        other = src if dst == "film" else dst
        nodes[other] = np.array(sorted({x for xs in films[column] for x in xs}), dtype=object)
    edges = {}
    for key, column in relations.items():
        src, _, dst = key
        other = src if dst == "film" else dst
        ix = {x: i for i, x in enumerate(nodes[other])}
        pairs = [(k, ix[x]) for k, xs in enumerate(films[column]) for x in xs]
        f, o = (np.array(p, dtype=np.int64) for p in zip(*pairs, strict=True))
        edges[key] = pd.DataFrame({"src": o, "dst": f} if dst == "film" else {"src": f, "dst": o})
    return HeteroGraph(nodes, edges)


class KGTriples(NamedTuple):
    """Entities and relations (names) and an int64 (n, 3) array of (head, relation, tail)."""

    entities: np.ndarray
    relations: np.ndarray
    triples: np.ndarray


def film_kg_triples(films: pd.DataFrame | None = None) -> KGTriples:
    """Knowledge-graph triples: film -directed_by-> person, film -has_genre-> genre and
    film -from_country-> country. Entity names carry a type prefix (``film:tt0078788``,
    ``person:Francis Ford Coppola``, ``genre:Drama``, ``country:France``)."""
    films = _films(films)
    source = {
        "directed_by": ("directors", "person"),
        "has_genre": ("genres", "genre"),
        "from_country": ("countries", "country"),
    }
    heads, rels, tails = [], [], []
    for r, (column, kind) in source.items():
        for imdb, xs in zip(films["imdb_id"], films[column], strict=True):
            for x in xs:
                heads.append(f"film:{imdb}")
                rels.append(r)
                tails.append(f"{kind}:{x}")
    entities, inverse = np.unique(np.array(heads + tails, dtype=object), return_inverse=True)
    h, t = inverse[: len(heads)], inverse[len(heads) :]
    relations = np.array(KG_RELATIONS, dtype=object)
    r_ix = {r: i for i, r in enumerate(relations)}
    triples = np.stack([h, np.array([r_ix[r] for r in rels]), t], axis=1).astype(np.int64)
    return KGTriples(entities, relations, np.unique(triples, axis=0))
