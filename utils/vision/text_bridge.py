"""Text-to-image search without a text-image model: a bridge through a classifier's label space.

A joint text-image encoder (CLIP) embeds a query and the images in one space. Without one, a
sentence encoder and an image *classifier* can still be joined through the classifier's class
names:

1. **fit** (once): every class name ``c`` becomes a prompt ``template.format(c)`` ("a photo of a
   tabby cat.") and is embedded by the sentence encoder (MiniLM-L6-v2 by default,
   :func:`utils.data.encode_texts`, offline) into unit vectors ``t_c``;
2. **match** (per query): the query, put in the same template, is embedded to ``u``; the
   ``n_classes`` classes with the highest cosine ``s_c = u . t_c`` are its *bridge classes*,
   weighted ``w_c = softmax(s_c / temperature)`` over those classes;
3. **score** (per image): with ``p_i = softmax(logits_i)`` the classifier's probabilities for image
   ``i``, the image's score is ``sum_c w_c p_ic``, the probability mass the classifier puts on the
   classes the text named; :meth:`TextBridge.search` returns the ``k`` highest.

Scoring every image is a full scan: ``n x n_classes`` probabilities per query, and a softmax of
every image's logits on top when logits are passed. A service computes the probabilities once,
when an image is uploaded (:meth:`TextBridge.probabilities`; :meth:`~TextBridge.scores` and
:meth:`~TextBridge.search` accept them as ``probabilities=``), and stores per class a *posting
list*, the ``m`` images with the highest probability of that class
(:meth:`TextBridge.posting_lists`). A query then merges its ``n_classes`` lists
(:meth:`TextBridge.search_postings`): ``n_classes * m`` entries, whatever the catalogue's size.
An image absent from a list is scored as if its probability of that class were 0, so the merge
ranks by a lower bound of the full-scan score; it returns the full scan's top ``k`` (as a set)
whenever no image left out could reach the ``k``-th merged score (``exact``).

The bridge can only find what the classifier has a class for. With ImageNet-1k's 1,000 classes
(:func:`utils.vision.efficientnet.imagenet_classes`, which has no generic "person" or "face"
class and no "trousers") a query outside those concepts is silently mapped to the
nearest-sounding class ("trouser" is closer to "ruffed grouse" than to "jean" for MiniLM), and an
image the classifier does not recognise scores low for every query. Homonyms share a prompt
("Cardigan" the dog and "cardigan" the sweater; MiniLM lower-cases), so both classes are matched.
The chapter ``book/image_search/09_end_to_end.md`` measures where this works and where it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .._checks import as_matrix, check_k, check_positive_int

__all__ = ["ClassPostings", "TextBridge"]

TextEncoder = Callable[[Sequence[str]], np.ndarray]


def _softmax_rows(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    return z / z.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class ClassPostings:
    """Per-class posting lists: ``ids[c]`` the (at most) ``m`` image rows with the highest
    probability of class ``c``, best first, and ``probs[c]`` those probabilities; ``floor[c]`` is
    the smallest probability kept for ``c`` (an image not in the list has at most that much;
    0 when the list holds every image)."""

    ids: np.ndarray
    probs: np.ndarray
    floor: np.ndarray

    @property
    def m(self) -> int:
        return int(self.ids.shape[1])


class TextBridge:
    """Rank images for a text query by the classifier's probability of the classes it names.

    ``encode``: texts -> (n, d) unit-norm vectors (default :func:`utils.data.encode_texts`,
    MiniLM-L6-v2, cached). ``template`` must contain ``{}``; it wraps both class names and
    queries. ``n_classes`` bridge classes per query, weighted by a softmax of their cosine
    similarities at ``temperature`` (small: the best class dominates; large: equal weights).

    >>> bridge = TextBridge().fit()                          # doctest: +SKIP
    >>> scores, idx = bridge.search("a teapot", logits, 5)   # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        template: str = "a photo of a {}.",
        n_classes: int = 3,
        temperature: float = 0.05,
        encode: TextEncoder | None = None,
    ) -> None:
        if not isinstance(template, str) or template.count("{}") != 1:
            raise ValueError(f"template must be a str with one '{{}}', got {template!r}")
        self.template = template
        self.n_classes = check_positive_int(n_classes, "n_classes")
        if isinstance(temperature, bool) or not isinstance(temperature, int | float):
            raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
        if not (np.isfinite(temperature) and temperature > 0):
            raise ValueError(f"temperature must be positive and finite, got {temperature}")
        self.temperature = float(temperature)
        if encode is not None and not callable(encode):
            raise TypeError(f"encode must be callable (texts -> vectors), got {type(encode)}")
        self._encode = encode
        self.class_names: list[str] | None = None
        self.class_vectors: np.ndarray | None = None

    # ------------------------------------------------------------------ fitting
    def _embed(self, texts: list[str], name: str) -> np.ndarray:
        if self._encode is None:
            from ..data import encode_texts

            self._encode = encode_texts
        vecs = as_matrix(self._encode(texts), name)
        if vecs.shape[0] != len(texts):
            raise ValueError(f"{name}: the encoder returned {vecs.shape[0]} rows for {len(texts)}")
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        if (norms < 1e-12).any():
            raise ValueError(f"{name}: the encoder returned a zero vector")
        return (vecs / norms).astype(np.float32)

    def fit(self, class_names: Sequence[str] | None = None) -> TextBridge:
        """Embed one prompt per class (default: the 1,000 ImageNet-1k class names, in the
        classifier's logit order). Returns ``self``."""
        if class_names is None:
            from .efficientnet import imagenet_classes

            class_names = imagenet_classes()
        if isinstance(class_names, str) or not isinstance(class_names, Sequence):
            raise TypeError("class_names must be a sequence of str (a list, not a single str)")
        names = list(class_names)
        if len(names) < 2:
            raise ValueError(f"class_names must hold at least 2 classes, got {len(names)}")
        bad = [i for i, c in enumerate(names) if not isinstance(c, str) or not c.strip()]
        if bad:
            raise ValueError(
                f"class_names[{bad[0]}] must be a non-empty str, got {names[bad[0]]!r}"
            )
        if self.n_classes > len(names):
            raise ValueError(f"n_classes={self.n_classes} is larger than the {len(names)} classes")
        self.class_vectors = self._embed([self.template.format(c) for c in names], "class prompts")
        self.class_names = names
        return self

    def _check_fitted(self) -> np.ndarray:
        if self.class_vectors is None:
            raise RuntimeError("call fit() before matching or searching")
        return self.class_vectors

    # ------------------------------------------------------------------ querying
    def _query_vector(self, query: str) -> np.ndarray:
        if not isinstance(query, str):
            raise TypeError(f"query must be a str, got {type(query).__name__}")
        if not query.strip():
            raise ValueError("query must not be empty")
        return self._embed([self.template.format(query.strip())], "query")[0]

    def match(self, query: str, k: int | None = None) -> list[tuple[int, str, float]]:
        """The ``k`` (default ``n_classes``) classes nearest to the query, best first, as
        ``(class index, class name, cosine)``."""
        T = self._check_fitted()
        k = self.n_classes if k is None else check_k(k, len(T), "k", "the class list")
        sims = T @ self._query_vector(query)
        top = np.argsort(-sims, kind="stable")[:k]
        assert self.class_names is not None
        return [(int(c), self.class_names[c], float(sims[c])) for c in top]

    def class_weights(self, query: str) -> np.ndarray:
        """(n_classes_total,) weights: ``softmax(s / temperature)`` over the query's
        ``n_classes`` bridge classes, zero elsewhere; they sum to 1."""
        T = self._check_fitted()
        matched = self.match(query)
        idx = np.array([c for c, _, _ in matched])
        s = np.array([sim for _, _, sim in matched]) / self.temperature
        w = np.exp(s - s.max())
        out = np.zeros(len(T), dtype=np.float64)
        out[idx] = w / w.sum()
        return out

    def _softmax(self, image_logits: object) -> np.ndarray:
        T = self._check_fitted()
        L = as_matrix(image_logits, "image_logits", dtype=np.float64)
        if L.shape[1] != len(T):
            raise ValueError(
                f"image_logits must have one column per class ({len(T)}), got {L.shape[1]}"
            )
        return _softmax_rows(L)

    def probabilities(self, image_logits: object) -> np.ndarray:
        """(n, n_classes_total) float32 class probabilities, ``softmax`` of each row of logits:
        computed once per image (at upload) and stored, so queries need no softmax."""
        return self._softmax(image_logits).astype(np.float32)

    def _stored(self, image_logits: object, probabilities: object) -> np.ndarray:
        """Exactly one of logits (softmax now) or stored probabilities, checked."""
        if (image_logits is None) == (probabilities is None):
            raise ValueError("pass exactly one of image_logits or probabilities=")
        if image_logits is not None:
            return self._softmax(image_logits)
        T = self._check_fitted()
        P = as_matrix(probabilities, "probabilities", dtype=np.float64)
        if P.shape[1] != len(T):
            raise ValueError(
                f"probabilities must have one column per class ({len(T)}), got {P.shape[1]}"
            )
        if P.min() < 0 or P.max() > 1 + 1e-6:
            raise ValueError("probabilities must lie in [0, 1] (use image_logits= for logits)")
        return P

    def scores(
        self, query: str, image_logits: object = None, *, probabilities: object = None
    ) -> np.ndarray:
        """(n,) score of each image: the probability the classifier gives the bridge classes,
        weighted by ``class_weights(query)``; in [0, 1]. Pass the classifier's logits (a softmax
        per call) or the stored ``probabilities=`` (:meth:`probabilities`); either way every
        image is scored (a full scan)."""
        P = self._stored(image_logits, probabilities)
        return P @ self.class_weights(query)

    def search(
        self, query: str, image_logits: object = None, k: int = 10, *, probabilities: object = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best images for ``query``: ``(scores, row indices)``, best first (ties by
        lower index). ``image_logits``: (n, n_classes_total) classifier logits, e.g. from
        ``EfficientNetEmbedder(output="logits")``, or ``probabilities=`` stored at upload."""
        P = self._stored(image_logits, probabilities)
        k = check_k(k, P.shape[0], "k", "the images")
        s = P @ self.class_weights(query)
        order = np.argsort(-s, kind="stable")[:k]
        return s[order], order

    # ------------------------------------------------------------------ posting lists
    def posting_lists(self, probabilities: object, m: int) -> ClassPostings:
        """Per class, the ``m`` images (rows of ``probabilities``) with the highest probability
        of it, best first (ties by lower row): built at upload, ``n_classes_total * m`` entries
        however many images there are. ``m`` larger than the image count keeps every image."""
        P = self._stored(None, probabilities)
        m = min(check_positive_int(m, "m"), P.shape[0])
        order = np.argsort(-P.T, axis=1, kind="stable")[:, :m]  # (C, m) image rows
        probs = np.take_along_axis(P.T, order, axis=1)
        floor = probs[:, -1] if m < P.shape[0] else np.zeros(P.shape[1], dtype=np.float32)
        return ClassPostings(order.astype(np.int64), probs.astype(np.float32), floor)

    def search_postings(
        self, query: str, postings: ClassPostings, k: int
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """Merge the query's bridge-class posting lists: ``(scores, row indices, exact)``, best
        first (ties by lower index), at most ``k`` rows (fewer if the lists hold fewer images).

        A candidate's score sums ``w_c p_ic`` over the lists it appears in (absent: 0, so a lower
        bound of its full-scan score, and equal to it for an image in every list). ``exact`` is
        True when no image left out can reach the returned ``k``-th score even with the most
        the lists' floors allow: the rows are then the full scan's top ``k`` as a set."""
        if not isinstance(postings, ClassPostings):
            raise TypeError(f"postings must be ClassPostings, got {type(postings).__name__}")
        T = self._check_fitted()
        if postings.ids.shape[0] != len(T):
            raise ValueError(f"postings hold {postings.ids.shape[0]} classes, the bridge {len(T)}")
        k = check_positive_int(k, "k")
        w = self.class_weights(query)
        classes = np.flatnonzero(w)
        cand = np.unique(postings.ids[classes])
        lower, mass = np.zeros(len(cand)), np.zeros(len(cand))
        seen = np.zeros((len(cand), len(classes)), dtype=bool)
        for a, c in enumerate(classes):
            rows = np.searchsorted(cand, postings.ids[c])  # cand is sorted and holds every id
            lower[rows] += w[c] * postings.probs[c]
            mass[rows] += postings.probs[c]
            seen[rows, a] = True
        missing = w[classes] * postings.floor[classes]  # the most an absent entry can add
        # an absent probability is at most the list's floor and at most what the image's known
        # probabilities leave of 1 (they sum to 1 over all classes)
        left = np.clip(1.0 - mass, 0.0, 1.0)[:, None]
        upper = lower + (~seen * w[classes] * np.minimum(postings.floor[classes], left)).sum(1)
        order = np.lexsort((cand, -lower))[:k]
        rest = np.setdiff1d(np.arange(len(cand)), order)
        best_outside = max(float(missing.sum()), float(upper[rest].max()) if len(rest) else 0.0)
        exact = bool(len(order) == k and lower[order[-1]] >= best_outside)
        return lower[order], cand[order], exact

    def __repr__(self) -> str:
        n = "unfitted" if self.class_names is None else f"{len(self.class_names)} classes"
        return (
            f"TextBridge({n}, template={self.template!r}, n_classes={self.n_classes},"
            f" temperature={self.temperature})"
        )
