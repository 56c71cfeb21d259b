"""utils.data.films: the movies.db loader (cache, checksum, clear errors) and the graphs built
from it, checked against the counts the graph part relies on."""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from utils.data import (
    actor_features,
    actor_profiles,
    collaboration_graph,
    costar_edges,
    film_hetero_graph,
    film_kg_triples,
    load_films,
)
from utils.data import films as films_mod


@pytest.fixture(scope="module")
def films():
    return load_films()


@pytest.fixture(scope="module")
def collab(films):
    return collaboration_graph(films)


def test_film_table(films):
    assert len(films) == films_mod.N_FILMS
    assert (films["year"].min(), films["year"].max()) == (1940, 2014)
    assert films["imdb_id"].is_unique
    # the re-release is dropped, the original kept
    assert "Apocalypse Now Redux" not in set(films["title"])
    assert "Apocalypse Now" in set(films["title"])
    # "X, Jr." in a cast list is one person, not X and someone called "Jr."
    names = {a for cast in films["cast"] for a in cast}
    assert "Jr." not in names and "Sr." not in names
    assert "Frank Coghlan Jr." in names
    assert all(isinstance(c, tuple) for c in films["cast"])
    assert (films["cast"].map(len) == 0).sum() > 1000  # some casts are empty, as documented


def test_repeat_collaboration_graph_counts(collab):
    actors, ties = collab
    assert (len(actors), len(ties)) == (14_972, 71_485)
    assert (ties["u"] < ties["v"]).all()
    assert not ties.duplicated(["u", "v"]).any()
    assert (ties["born"] >= ties["first_year"]).all() and (ties["n_shared"] >= 2).all()
    assert int((ties["born"] >= 2010).sum()) == 13_881
    g = nx.Graph()
    g.add_edges_from(ties[["u", "v"]].to_numpy())
    assert g.number_of_nodes() == len(actors)
    assert max(len(c) for c in nx.connected_components(g)) == 14_040
    assert np.median([d for _, d in g.degree()]) == 4


def test_tie_is_born_at_the_second_shared_film(films, collab):
    actors, ties = collab
    row = ties.iloc[1234]
    a, b = actors[row["u"]], actors[row["v"]]
    shared = films[films["cast"].map(lambda c: a in c and b in c)]["year"].sort_values()
    assert len(shared) == row["n_shared"]
    assert shared.iloc[1] == row["born"] and shared.iloc[0] == row["first_year"]


def test_costar_edges_and_min_shared(films):
    small = films.head(300)
    co = costar_edges(small)
    n_pairs = sum(len(c) * (len(c) - 1) // 2 for c in small["cast"])
    assert len(co.edges) == n_pairs
    one = collaboration_graph(small, min_shared=1)
    assert len(one.ties) == len(co.edges.drop_duplicates(["u", "v"]))
    with pytest.raises(ValueError, match="min_shared"):
        collaboration_graph(small, min_shared=0)
    with pytest.raises(TypeError, match="films"):
        costar_edges(films=[1, 2])


def test_actor_features_do_not_see_the_future(films, collab):
    actors = collab.actors
    X, names = actor_features(films, actors, until_year=2010)
    assert X.shape == (len(actors), len(names)) and X.dtype == np.float32
    assert np.isfinite(X).all()
    no_films = X[:, names.index("no_films")] == 1
    # an actor whose first film is after 2009 has no features before the cut-off
    debut = films.explode("cast").groupby("cast")["year"].min()
    late = debut.reindex(actors).to_numpy() >= 2010
    assert late.any() and no_films[late].all() and not no_films[~late].any()
    genre = [i for i, n in enumerate(names) if n.startswith("genre:")]
    has = ~no_films
    shares = X[has][:, genre]
    assert ((shares >= 0) & (shares <= 1)).all()
    assert (shares.sum(1) >= 1 - 1e-6).mean() > 0.99  # a few films list no genre
    with pytest.raises(ValueError, match="actors"):
        actor_features(films, np.array([]), 2010)
    with pytest.raises(TypeError, match="until_year"):
        actor_features(films, actors, until_year="2010")


def test_actor_profiles(films, collab):
    p = actor_profiles(films, collab.actors[:50], until_year=2010)
    assert len(p) == 50 and (p["n_films"] >= 0).all()
    some = p[p["n_films"] > 0]
    assert (some["first_year"] <= some["last_year"]).all() and (some["last_year"] < 2010).all()


def test_hetero_graph_and_kg_triples(films):
    h = film_hetero_graph(films)
    assert set(h.nodes) == {"actor", "film", "director", "writer", "genre"}
    acts = h.edges[("actor", "acts_in", "film")]
    assert len(acts) == films["cast"].map(len).sum()
    assert acts["src"].max() < len(h.nodes["actor"]) and acts["dst"].max() < len(films)
    kg = film_kg_triples(films)
    assert list(kg.relations) == ["directed_by", "has_genre", "from_country"]
    assert kg.triples.shape[1] == 3 and len(np.unique(kg.triples, axis=0)) == len(kg.triples)
    heads = kg.entities[kg.triples[:, 0]]
    assert all(h.startswith("film:") for h in heads[:100])
    n_genre = sum(len(set(g)) for g in films["genres"])
    assert (kg.triples[:, 1] == 1).sum() == n_genre


def test_corrupt_cache_is_rebuilt(tmp_path):
    (tmp_path / "films").mkdir()
    pd.DataFrame({"x": [1]}).to_pickle(tmp_path / "films" / f"films_v{films_mod.CACHE_VERSION}.pkl")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        films = load_films(tmp_path)
    assert len(films) == films_mod.N_FILMS
    assert any("corrupt" in str(w.message) for w in caught)
    assert len(load_films(tmp_path)) == films_mod.N_FILMS  # now served from the cache


def test_keep_repeats_returns_both_rows_of_a_repeated_id():
    raw = load_films(keep_repeats=True)
    assert len(raw) == films_mod.N_ROWS_RAW
    rep = raw[raw["imdb_id"].duplicated(keep=False)]
    assert len(rep) == 4 and "Apocalypse Now Redux" in set(rep["title"])
    row = raw[raw["title"] == "Apocalypse Now"].iloc[0]
    assert row["cast_text"].split(", ")[0] == row["cast"][0]
    jr = raw[raw["cast_text"].str.contains(", Jr.,", regex=False)].iloc[0]
    assert len(jr["cast"]) == len(jr["cast_text"].split(", ")) - jr["cast_text"].count(", Jr.")


def test_wrong_file_and_missing_sources_say_what_was_tried(tmp_path, monkeypatch):
    bad = tmp_path / "movies.db"
    bad.write_bytes(b"not sqlite")
    with pytest.raises(ValueError, match="SHA-256"):
        films_mod.films_from_db(bad)
    with pytest.raises(FileNotFoundError, match="path"):
        films_mod.films_from_db(tmp_path / "absent.db")

    def fail(tmp):
        raise RuntimeError("offline")

    monkeypatch.setattr(films_mod, "_installed_db", lambda tmp: tmp_path / "absent.db")
    monkeypatch.setattr(films_mod, "_pypi_db", fail)
    with pytest.raises(RuntimeError, match="Tried") as info:
        load_films(tmp_path / "empty")
    assert "pip install bokeh_sampledata==2026.1" in str(info.value)
    assert "offline" in str(info.value)
