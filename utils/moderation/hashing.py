"""Matching content against a list of known-bad items by hash: exact fingerprints, SimHash for
near-duplicate text, and multi-index hashing for Hamming-radius search over binary codes.

Codes are packed bits: a ``uint8`` array of shape ``(n, bits // 8)``, most significant bit
first (a 256-bit PDQ-style code is 32 bytes, a 64-bit SimHash 8 bytes).

- :func:`normalize_for_hash` and :func:`exact_fingerprint`: a text's SHA-1 after lower-casing
  and collapsing whitespace, so a re-send that differs only in spacing or case matches.
- :func:`simhash` / :func:`simhash_many`: Charikar's SimHash (2002) over word shingles: each
  shingle is hashed to ``bits`` bits, each bit of the fingerprint is the sign of the sum over
  shingles of +1 (bit set) or -1 (bit clear). Texts sharing most shingles get fingerprints at a
  small Hamming distance (Manku, Jain and Das Sarma, 2007, use 64 bits and a radius of 3 for
  web pages).
- :func:`hamming_distances` and :func:`brute_force_search`: the reference, every code compared.
- :class:`MultiIndexHash`: Norouzi, Punjani and Fleet (2012). The ``bits`` are cut into ``m``
  contiguous chunks, and each chunk gets a sorted table from chunk value to code ids. If two codes
  differ in at most ``r`` bits, then by the pigeonhole principle at least one chunk differs in at
  most ``floor(r / m)`` bits, so probing every chunk value within that distance of the query's
  chunk and verifying the candidates' full distance finds *every* code within ``r``: exact
  search that touches about ``m * probes * n / 2**(bits/m)`` candidates instead of ``n``.
  ``probe_radius`` below ``floor(r / m)`` trades that guarantee for fewer probes.
- :func:`random_codes` and :func:`flip_bits`: uniform random codes and seeded near-duplicates of
  them with an exact number of flipped bits (a model of an edited re-upload; real perceptual
  hashes have correlated bits, so their chunk tables are less even than uniform codes give).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re

import numpy as np

from .._checks import check_positive_int

__all__ = [
    "MultiIndexHash",
    "brute_force_search",
    "exact_fingerprint",
    "expected_candidates",
    "flip_bits",
    "hamming_distances",
    "normalize_for_hash",
    "random_codes",
    "simhash",
    "simhash_many",
]

_WS = re.compile(r"\s+")
_TOKEN = re.compile(r"\w+")


def _check_text(text: object, name: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    return text


def normalize_for_hash(text: str) -> str:
    """Lower-case ``text`` and collapse every run of whitespace to one space (ends stripped)."""
    return _WS.sub(" ", _check_text(text).lower()).strip()


def exact_fingerprint(text: str) -> str:
    """SHA-1 hex digest of :func:`normalize_for_hash` of ``text``: equal for texts that differ only
    in case and whitespace, different for any other edit."""
    return hashlib.sha1(normalize_for_hash(text).encode("utf-8", "replace")).hexdigest()


def _check_bits(bits: object, name: str = "bits") -> int:
    bits = check_positive_int(bits, name)
    if bits % 8:
        raise ValueError(f"{name} must be a multiple of 8, got {bits}")
    return bits


def simhash(text: str, bits: int = 64, shingle: int = 3) -> np.ndarray:
    """SimHash of ``text``: ``bits // 8`` bytes (``uint8``). Features are the distinct word
    ``shingle``-grams of the lower-cased word tokens (the whole token list when it is shorter);
    each is hashed with BLAKE2b to ``bits`` bits, and bit ``i`` of the result is set when more
    features have bit ``i`` set than clear. An empty text hashes to all zeros."""
    text = _check_text(text)
    bits = _check_bits(bits)
    shingle = check_positive_int(shingle, "shingle")
    toks = _TOKEN.findall(text.lower())
    if not toks:
        return np.zeros(bits // 8, dtype=np.uint8)
    grams = {" ".join(toks[i : i + shingle]) for i in range(max(1, len(toks) - shingle + 1))}
    raw = b"".join(
        hashlib.blake2b(g.encode("utf-8", "replace"), digest_size=bits // 8).digest()
        for g in sorted(grams)
    )
    feats = np.unpackbits(np.frombuffer(raw, dtype=np.uint8).reshape(len(grams), bits // 8), axis=1)
    votes = 2 * feats.sum(axis=0, dtype=np.int64) - len(grams)
    return np.packbits(votes > 0)


def simhash_many(texts: list[str], bits: int = 64, shingle: int = 3) -> np.ndarray:
    """:func:`simhash` of each text: ``(len(texts), bits // 8)`` ``uint8``."""
    if isinstance(texts, str) or not hasattr(texts, "__len__"):
        raise TypeError("texts must be a list of str")
    if len(texts) == 0:
        raise ValueError("texts must not be empty")
    return np.stack([simhash(t, bits, shingle) for t in texts])


def _check_codes(codes: object, name: str, nbytes: int | None = None) -> np.ndarray:
    arr = np.asarray(codes)
    if arr.dtype != np.uint8:
        raise TypeError(f"{name} must be packed bits of dtype uint8, got {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must be (n, bytes) with n, bytes > 0, got shape {arr.shape}")
    if nbytes is not None and arr.shape[1] != nbytes:
        raise ValueError(f"{name} must have {nbytes} bytes a code to match, got {arr.shape[1]}")
    return np.ascontiguousarray(arr)


def _popcount_rows(x: np.ndarray) -> np.ndarray:
    """Set bits per row of a packed array, summed column by column (a reduction along the short
    axis of a tall array is several times slower in NumPy)."""
    if x.shape[1] % 8 == 0:
        x = x.view(np.uint64)
    out = np.bitwise_count(x[:, 0]).astype(np.int64)
    for j in range(1, x.shape[1]):
        out += np.bitwise_count(x[:, j])
    return out


def hamming_distances(codes: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Hamming distance from one packed ``query`` (``(bytes,)``) to every row of ``codes``."""
    codes = _check_codes(codes, "codes")
    q = _check_codes(query, "query", codes.shape[1])
    if q.shape[0] != 1:
        raise ValueError(f"query must be one code, got {q.shape[0]}")
    if codes.shape[1] % 8 == 0:  # XOR eight bytes at a time
        return _popcount_rows(np.bitwise_xor(codes.view(np.uint64), q.view(np.uint64)))
    return _popcount_rows(np.bitwise_xor(codes, q))


def brute_force_search(codes: np.ndarray, query: np.ndarray, radius: int) -> np.ndarray:
    """Ids (ascending) of every code within Hamming distance ``radius`` of ``query``: the
    reference that compares all ``n`` codes."""
    radius = _check_radius(radius)
    return np.flatnonzero(hamming_distances(codes, query) <= radius)


def _check_radius(radius: object, name: str = "radius") -> int:
    if isinstance(radius, bool) or not isinstance(radius, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(radius).__name__}")
    if radius < 0:
        raise ValueError(f"{name} must be >= 0, got {radius}")
    return int(radius)


def random_codes(n: int, bits: int = 256, seed: int = 0) -> np.ndarray:
    """``n`` uniform random codes of ``bits`` bits, packed: ``(n, bits // 8)`` ``uint8``."""
    n = check_positive_int(n, "n")
    bits = _check_bits(bits)
    return np.random.default_rng(seed).integers(0, 256, size=(n, bits // 8), dtype=np.uint8)


def flip_bits(codes: np.ndarray, n_flips: object, seed: int = 0) -> np.ndarray:
    """A copy of ``codes`` with exactly ``n_flips`` distinct bits flipped in each row (one int for
    all rows, or one per row), the positions drawn uniformly without replacement."""
    codes = _check_codes(codes, "codes")
    bits = codes.shape[1] * 8
    k = np.broadcast_to(np.asarray(n_flips), (codes.shape[0],))
    if not np.issubdtype(k.dtype, np.integer):
        raise TypeError(f"n_flips must be integers, got dtype {k.dtype}")
    if k.min() < 0 or k.max() > bits:
        raise ValueError(f"n_flips must lie in [0, {bits}], got {k.min()}..{k.max()}")
    rng = np.random.default_rng(seed)
    ranks = np.argsort(rng.random((codes.shape[0], bits)), axis=1)  # a random order of positions
    mask = ranks < k[:, None]  # the first k positions of that order in each row
    return np.bitwise_xor(codes, np.packbits(mask, axis=1))


def _chunk_keys(codes: np.ndarray, n_chunks: int) -> np.ndarray:
    """``(n, n_chunks)`` integer value of each chunk (its bytes read big-endian), in the
    narrowest unsigned type that holds it."""
    per = codes.shape[1] // n_chunks
    if per in (1, 2, 4, 8):
        return codes.view(f">u{per}").astype(f"u{per}")
    c = codes.reshape(codes.shape[0], n_chunks, per).astype(np.uint64)
    weights = np.uint64(1) << (np.uint64(8) * np.arange(per - 1, -1, -1, dtype=np.uint64))
    return (c * weights).sum(axis=2, dtype=np.uint64)


class MultiIndexHash:
    """Exact Hamming-radius search by multi-index hashing (Norouzi et al., 2012).

    ``codes``: packed codes ``(n, bytes)``; ``n_chunks``: ``m``, dividing ``bytes`` with chunks of
    at most 8 bytes. Each chunk keeps its keys sorted, in the narrowest unsigned type, with the
    matching code ids (``int32``): 2 + 4 bytes a code a chunk for 16-bit chunks. Sorted arrays
    and binary search stand in for the hash tables of a production index.

    :meth:`search` returns the ids within ``radius`` of a query and the number of candidates whose
    full distance it checked; :attr:`last_probes` / :attr:`last_touched` count bucket probes and
    table entries read (with repeats across chunks) by the latest call."""

    def __init__(self, codes: np.ndarray, n_chunks: int) -> None:
        self.codes = _check_codes(codes, "codes")
        n_chunks = check_positive_int(n_chunks, "n_chunks")
        nbytes = self.codes.shape[1]
        if nbytes % n_chunks or nbytes // n_chunks > 8:
            raise ValueError(
                f"n_chunks must divide the {nbytes} bytes of a code into chunks of at most 8 "
                f"bytes, got {n_chunks}"
            )
        self.n_chunks = n_chunks
        self.bits = nbytes * 8
        self.chunk_bits = self.bits // n_chunks
        keys = _chunk_keys(self.codes, n_chunks)
        id_type = np.int32 if len(self.codes) < 2**31 else np.int64
        self._order = np.argsort(keys, axis=0, kind="stable").astype(id_type).T.copy()
        self._sorted = np.take_along_axis(keys, self._order.T, axis=0).T.copy()
        self._masks: dict[int, np.ndarray] = {}
        self.last_probes = 0
        self.last_touched = 0

    def __len__(self) -> int:
        return self.codes.shape[0]

    def masks(self, s: int) -> np.ndarray:
        """Every chunk-width XOR mask with at most ``s`` set bits: ``sum_{i<=s} C(w, i)`` of them
        for chunks of ``w`` bits."""
        if s not in self._masks:
            out = [0]
            for i in range(1, min(s, self.chunk_bits) + 1):
                out.extend(
                    sum(1 << p for p in pos)
                    for pos in itertools.combinations(range(self.chunk_bits), i)
                )
            self._masks[s] = np.asarray(out, dtype=self._sorted.dtype)
        return self._masks[s]

    def search(
        self, query: np.ndarray, radius: int, probe_radius: int | None = None
    ) -> tuple[np.ndarray, int]:
        """``(ids, n_candidates)``: ids (ascending) of the codes within ``radius`` of ``query``
        among those sharing a chunk within ``probe_radius`` bits of the query's (default
        ``floor(radius / n_chunks)``, which makes the search exact), and how many distinct
        candidates were verified."""
        radius = _check_radius(radius)
        q = _check_codes(query, "query", self.codes.shape[1])
        if q.shape[0] != 1:
            raise ValueError(f"query must be one code, got {q.shape[0]}")
        s = (
            radius // self.n_chunks
            if probe_radius is None
            else _check_radius(probe_radius, "probe_radius")
        )
        masks = self.masks(s)
        qk = _chunk_keys(q, self.n_chunks)[0]
        parts = []
        touched = 0
        for j in range(self.n_chunks):
            probe = np.bitwise_xor(qk[j], masks)
            lo = np.searchsorted(self._sorted[j], probe, side="left")
            hi = np.searchsorted(self._sorted[j], probe, side="right")
            hit = hi > lo
            if hit.any():
                lo, hi = lo[hit], hi[hit]
                touched += int((hi - lo).sum())
                parts.append(self._order[j][_ranges(lo, hi)])
        self.last_probes = self.n_chunks * len(masks)
        self.last_touched = touched
        if not parts:
            return np.empty(0, dtype=np.int64), 0
        cand = np.unique(np.concatenate(parts))
        d = _popcount_rows(np.bitwise_xor(self.codes[cand], q))
        return cand[d <= radius], int(cand.size)

    def memory_bytes(self) -> int:
        """Bytes held: the codes plus every chunk's sorted keys and ids."""
        return int(self.codes.nbytes + self._sorted.nbytes + self._order.nbytes)


def _ranges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(lo[i], hi[i])`` over ``i``, without a Python loop."""
    lens = hi - lo
    total = int(lens.sum())
    starts = np.repeat(lo - np.concatenate(([0], lens.cumsum()[:-1])), lens)
    return starts + np.arange(total)


def expected_candidates(n: int, bits: int, n_chunks: int, probe_radius: int) -> float:
    """Expected table entries a query touches on ``n`` uniform random codes: ``m`` chunks times
    ``sum_{i<=s} C(bits/m, i)`` probes times ``n / 2**(bits/m)`` codes a bucket."""
    w = bits // n_chunks
    probes = sum(math.comb(w, i) for i in range(probe_radius + 1))
    return n_chunks * probes * n / 2.0**w
