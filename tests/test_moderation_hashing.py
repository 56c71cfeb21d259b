"""utils.moderation.hashing: fingerprints, SimHash, Hamming search and multi-index hashing."""

from __future__ import annotations

import numpy as np
import pytest

from utils.moderation.hashing import (
    MultiIndexHash,
    brute_force_search,
    exact_fingerprint,
    expected_candidates,
    flip_bits,
    hamming_distances,
    normalize_for_hash,
    random_codes,
    simhash,
    simhash_many,
)

TEXT = (
    "Dear friend, you have been selected to receive a free vacation package. Reply today to "
    "claim your prize before the offer expires at the end of the month, no purchase needed."
)


def _reference_distances(codes: np.ndarray, query: np.ndarray) -> np.ndarray:
    return (np.unpackbits(codes, axis=1) != np.unpackbits(query)[None, :]).sum(axis=1)


def test_exact_fingerprint_ignores_case_and_spacing_only():
    assert normalize_for_hash("  Hello\n\tWORLD  ") == "hello world"
    assert exact_fingerprint("Hello   world") == exact_fingerprint("hello\nWORLD ")
    assert exact_fingerprint("Hello world") != exact_fingerprint("Hello world!")
    with pytest.raises(TypeError, match="text"):
        exact_fingerprint(None)


def test_simhash_near_duplicates_are_close_and_unrelated_texts_are_not():
    a = simhash(TEXT)
    assert a.dtype == np.uint8 and a.shape == (8,)
    assert np.array_equal(a, simhash(TEXT))  # deterministic across calls
    edited = simhash(TEXT.replace("the month", "the week"))
    other = simhash("Minutes of the committee meeting: the budget review moves to Thursday at 10.")
    d_edit = int(hamming_distances(a[None, :], edited)[0])
    d_other = int(hamming_distances(a[None, :], other)[0])
    assert d_edit <= 10 < d_other
    assert not simhash("").any()
    assert simhash(TEXT, bits=256).shape == (32,)
    many = simhash_many([TEXT, ""], bits=64)
    assert many.shape == (2, 8) and np.array_equal(many[0], a)


@pytest.mark.parametrize("bad", [0, 12, -8])
def test_simhash_rejects_bad_bits(bad):
    with pytest.raises(ValueError, match="bits"):
        simhash(TEXT, bits=bad)


def test_simhash_many_rejects_bad_input():
    with pytest.raises(TypeError):
        simhash_many("one string")
    with pytest.raises(ValueError, match="empty"):
        simhash_many([])


@pytest.mark.parametrize("nbytes", [8, 12, 32])
def test_hamming_distances_match_unpacked_bits(nbytes):
    codes = random_codes(300, nbytes * 8, seed=1)
    q = random_codes(1, nbytes * 8, seed=2)[0]
    assert np.array_equal(hamming_distances(codes, q), _reference_distances(codes, q))


def test_hamming_distances_and_codes_validate_input():
    codes = random_codes(10, 64)
    with pytest.raises(TypeError, match="uint8"):
        hamming_distances(codes.astype(np.int64), codes[0])
    with pytest.raises(ValueError, match="bytes"):
        hamming_distances(codes, random_codes(1, 128)[0])
    with pytest.raises(ValueError, match="one code"):
        hamming_distances(codes, codes[:2])
    with pytest.raises(ValueError, match="radius"):
        brute_force_search(codes, codes[0], -1)
    with pytest.raises(TypeError, match="radius"):
        brute_force_search(codes, codes[0], 2.5)


def test_flip_bits_flips_exactly_k_bits():
    codes = random_codes(200, 256, seed=3)
    k = np.arange(200) % 40
    out = flip_bits(codes, k, seed=4)
    d = np.array([hamming_distances(out[i : i + 1], codes[i])[0] for i in range(200)])
    assert np.array_equal(d, k)
    assert np.array_equal(flip_bits(codes, 0), codes)
    assert np.array_equal(flip_bits(codes, 5, seed=9), flip_bits(codes, 5, seed=9))
    with pytest.raises(ValueError, match="n_flips"):
        flip_bits(codes, 257)
    with pytest.raises(TypeError, match="n_flips"):
        flip_bits(codes, 1.5)


@pytest.mark.parametrize(
    ("bits", "n_chunks", "radii"),
    [(256, 16, (0, 15, 16, 31, 40)), (256, 8, (7, 31)), (64, 4, (3, 7)), (96, 4, (5, 11))],
)
def test_multi_index_hash_is_exact(bits, n_chunks, radii):
    rng = np.random.default_rng(5)
    base = random_codes(4000, bits, seed=6)
    # plant near-duplicates of some codes so that every radius has neighbours to find
    planted = flip_bits(base[:300], rng.integers(0, max(radii) + 5, 300), seed=7)
    codes = np.concatenate([base, planted])
    index = MultiIndexHash(codes, n_chunks)
    assert len(index) == len(codes)
    queries = flip_bits(base[:40], rng.integers(0, max(radii) + 5, 40), seed=8)
    for r in radii:
        for q in queries:
            ids, n_cand = index.search(q, r)
            expect = brute_force_search(codes, q, r)
            assert np.array_equal(ids, expect), (r, ids, expect)
            assert n_cand >= len(ids)
            assert index.last_touched >= n_cand


def test_lower_probe_radius_returns_a_subset():
    codes = random_codes(3000, 256, seed=10)
    index = MultiIndexHash(codes, 16)
    q = flip_bits(codes[:20], 24, seed=11)
    for query in q:
        exact, _ = index.search(query, 31)
        approx, _ = index.search(query, 31, probe_radius=0)
        assert set(approx) <= set(exact)


def test_matches_faiss_binary_flat_range_search():
    faiss = pytest.importorskip("faiss")
    codes = random_codes(5000, 256, seed=12)
    queries = flip_bits(codes[:30], np.arange(30) + 10, seed=13)
    flat = faiss.IndexBinaryFlat(256)
    flat.add(codes)
    lims, _, ids = flat.range_search(queries, 32)  # faiss keeps distances < radius: <= 31
    index = MultiIndexHash(codes, 16)
    for i, q in enumerate(queries):
        mine, _ = index.search(q, 31)
        assert np.array_equal(mine, np.sort(ids[lims[i] : lims[i + 1]]))


def test_expected_candidates_predicts_table_reads_on_random_codes():
    codes = random_codes(50_000, 256, seed=14)
    index = MultiIndexHash(codes, 16)
    touched = []
    for q in random_codes(50, 256, seed=15):
        index.search(q, 31)
        touched.append(index.last_touched)
    expect = expected_candidates(50_000, 256, 16, 1)
    assert abs(np.mean(touched) - expect) < 0.15 * expect
    assert index.last_probes == 16 * 17
    assert index.memory_bytes() > codes.nbytes


def test_multi_index_hash_rejects_bad_chunks():
    codes = random_codes(10, 256)
    with pytest.raises(ValueError, match="n_chunks"):
        MultiIndexHash(codes, 3)
    with pytest.raises(ValueError, match="n_chunks"):
        MultiIndexHash(codes, 2)  # 16-byte chunks are too wide
    with pytest.raises(ValueError, match="one code"):
        MultiIndexHash(codes, 16).search(codes[:2], 3)
