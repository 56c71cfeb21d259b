"""Tests for the image-search utilities: encoders, ImageIndex, load_image, the metric-learning
losses, train_embedding and bootstrap_ci."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from utils.image_search import (
    HOGEncoder,
    ImageIndex,
    PixelEncoder,
    TorchEncoder,
    check_images,
    load_image,
)
from utils.losses import normalized_softmax_loss, triplet_semi_hard_loss
from utils.metrics import average_precision_at_k, bootstrap_ci
from utils.models.encoders import SmallCNN
from utils.models.metric_learning import DigitCNN, train_embedding


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """300 real MNIST digits (n, 784) in [0, 1] and their labels."""
    from utils.data import load_mnist_5k

    X, y = load_mnist_5k()
    idx = np.random.default_rng(0).permutation(len(y))[:300]
    return X[idx], y[idx]


# --- check_images and load_image -------------------------------------------------------------
def test_check_images_policy():
    u8 = np.full((2, 4, 4), 255, dtype=np.uint8)
    np.testing.assert_allclose(check_images(u8), 1.0)
    assert check_images([np.zeros((3, 3)), np.ones((3, 3))]).shape == (2, 3, 3)
    assert check_images(torch.zeros(2, 1, 4, 4)).dtype == np.float32
    with pytest.raises(ValueError, match="same shape"):
        check_images([np.zeros((3, 3)), np.zeros((4, 4))])
    with pytest.raises(TypeError, match="dtype bool"):
        check_images(np.zeros((2, 3, 3), dtype=bool))
    with pytest.raises(TypeError, match="images"):
        check_images(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="NumPy array"):
        check_images("cat.png")
    with pytest.raises(ValueError, match="NaN"):
        check_images(np.full((1, 3, 3), np.nan))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        check_images(np.full((1, 3, 3), 2.0))
    with pytest.raises(ValueError, match="at least one"):
        check_images(np.zeros((0, 3, 3)))
    with pytest.raises(ValueError, match="batch"):
        check_images(np.zeros(5))
    with pytest.raises(TypeError, match="uint8"):
        check_images(np.zeros((1, 3, 3), dtype=np.int32))
    with pytest.raises(ValueError, match=r"shape \(4, 4\)"):
        check_images(np.zeros((1, 3, 3)), image_shape=(4, 4))


def test_load_image_roundtrip_and_bad_files(tmp_path):
    from PIL import Image
    from skimage import data

    img = data.camera()[::8, ::8]
    path = tmp_path / "camera.png"
    Image.fromarray(img).save(path)
    out = load_image(path)
    np.testing.assert_array_equal(out, img)
    assert load_image(str(path), mode="RGB").shape == (*img.shape, 3)

    with pytest.raises(ValueError, match="does not exist"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="not a file"):
        load_image(tmp_path)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        load_image(empty)
    junk = tmp_path / "junk.png"
    junk.write_bytes(np.random.default_rng(0).bytes(500))
    with pytest.raises(ValueError, match="corrupt"):
        load_image(junk)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="corrupt"):
        load_image(truncated)
    with pytest.raises(TypeError, match="path"):
        load_image(42)


def test_load_image_rejects_decompression_bombs(tmp_path, monkeypatch):
    from PIL import Image

    path = tmp_path / "big.png"
    Image.fromarray(np.zeros((64, 64), dtype=np.uint8)).save(path)
    # Pillow refuses images over 2 * MAX_IMAGE_PIXELS; shrink the limit instead of writing GBs
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ValueError, match="too many pixels"):
        load_image(path)


# --- encoders ----------------------------------------------------------------------------------
def test_pixel_encoder(digits):
    X, _ = digits
    V = PixelEncoder()(X[:5].reshape(5, 28, 28))
    np.testing.assert_allclose(V, X[:5])


def test_hog_encoder_matches_skimage(digits):
    from skimage.feature import hog

    X, _ = digits
    enc = HOGEncoder()
    V = enc(X[:4])
    assert V.shape == (4, 324)  # 4x4 cells of 7 px -> 3x3 blocks of 2x2 cells x 9 bins
    ref = hog(X[0].reshape(28, 28), 9, (7, 7), (2, 2), block_norm="L2-Hys")
    np.testing.assert_allclose(V[0], ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(enc(X[:4].reshape(4, 28, 28)), V)
    assert HOGEncoder(pixels_per_cell=(4, 4))(X[:2]).shape == (2, 6 * 6 * 4 * 9)
    rgb = np.repeat(X[:2].reshape(2, 28, 28, 1), 3, axis=3)
    np.testing.assert_allclose(enc(rgb), V[:2], atol=1e-4)
    with pytest.raises(ValueError, match="fewer than one block"):
        HOGEncoder(pixels_per_cell=(8, 8))(np.zeros((1, 10, 10)))
    with pytest.raises(ValueError, match="square"):
        enc(np.zeros((1, 30)))
    with pytest.raises(ValueError, match="block_norm"):
        HOGEncoder(block_norm="L3")


def test_torch_encoder_eval_nograd_batched(digits):
    X, _ = digits
    torch.manual_seed(0)
    model = SmallCNN(1, dim=8, width=4)
    model.train()
    V = TorchEncoder(model, batch_size=7, num_threads=1)(X[:20])
    assert model.training  # previous mode restored
    model.eval()
    with torch.no_grad():
        ref = model(torch.from_numpy(X[:20]).reshape(-1, 1, 28, 28)).numpy()
    np.testing.assert_allclose(V, ref, rtol=1e-5, atol=1e-6)
    nhwc = X[:3].reshape(3, 28, 28, 1)
    np.testing.assert_allclose(TorchEncoder(model)(nhwc), ref[:3], rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        TorchEncoder(lambda x: x)
    with pytest.raises(ValueError, match="square"):
        TorchEncoder(model)(np.zeros((2, 30), dtype=np.float32))


# --- ImageIndex --------------------------------------------------------------------------------
def test_exact_search_matches_numpy(digits):
    X, _ = digits
    gallery, queries = X[:250], X[250:]
    ids = np.arange(1000, 1250)
    index = ImageIndex(PixelEncoder()).add(gallery, ids=ids)
    S, I = index.search(queries, 10)
    G = gallery / np.linalg.norm(gallery, axis=1, keepdims=True)
    Q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    sims = Q @ G.T
    order = np.argsort(-sims, axis=1, kind="stable")[:, :10]
    np.testing.assert_array_equal(I, ids[order])
    np.testing.assert_allclose(S, np.take_along_axis(sims, order, 1), atol=1e-5)
    assert len(index) == 250 and index.image_shape == (784,)


def test_add_twice_ids_and_vectors(digits):
    X, _ = digits
    index = ImageIndex(PixelEncoder())
    index.add(X[:10]).add(X[10:20])
    np.testing.assert_array_equal(index.ids, np.arange(20))
    _, I = index.search(X[:3], 1)
    np.testing.assert_array_equal(I[:, 0], [0, 1, 2])  # each image finds itself
    with pytest.raises(ValueError, match="unique"):
        index.add(X[:2], ids=[5, 100])
    with pytest.raises(ValueError, match="unique"):
        index.add(X[:2], ids=[200, 200])
    with pytest.raises(ValueError, match="one id per image"):
        index.add(X[:2], ids=[300])
    with pytest.raises(TypeError, match="integers"):
        index.add(X[:2], ids=[0.5, 1.5])
    # vectors: precomputed embeddings, searched by vector
    vindex = ImageIndex(index="flat").add_vectors(X[:20] + 0.01, ids=np.arange(20) * 2)
    _, Iv = vindex.search(X[:20] + 0.01, 1)
    np.testing.assert_array_equal(Iv[:, 0], np.arange(20) * 2)
    with pytest.raises(ValueError, match="784 dimensions"):
        vindex.search(np.ones((2, 10)), 1)
    with pytest.raises(ValueError, match="784 dimensions"):
        vindex.add_vectors(np.ones((2, 10)))
    with pytest.raises(ValueError, match="no encoder"):
        vindex.add(X[:2].reshape(2, 28, 28))


def test_search_auto_detects_vectors_vs_images(digits):
    X, _ = digits
    index = ImageIndex(HOGEncoder()).add(X[:50].reshape(50, 28, 28))
    S_img, I_img = index.search(X[:5].reshape(5, 28, 28), 3)
    S_vec, I_vec = index.search(HOGEncoder()(X[:5]), 3)  # (5, 324) vectors
    np.testing.assert_array_equal(I_img, I_vec)
    np.testing.assert_allclose(S_img, S_vec, atol=1e-5)
    with pytest.raises(ValueError, match=r"expected images of shape \(n, 28, 28\)"):
        index.search(np.zeros((2, 32, 32)), 3)
    with pytest.raises(ValueError, match="324 dimensions"):
        index.search(np.zeros((2, 100)), 3, as_vectors=True)


def test_image_index_bad_input(digits):
    X, _ = digits
    empty = ImageIndex(PixelEncoder())
    with pytest.raises(ValueError, match="gallery is empty"):
        empty.search(X[:1], 1)
    index = ImageIndex(PixelEncoder()).add(X[:20].reshape(20, 28, 28))
    with pytest.raises(ValueError, match="larger than the gallery"):
        index.search(X[:1].reshape(1, 28, 28), 21)
    with pytest.raises(TypeError, match="k must be an int"):
        index.search(X[:1].reshape(1, 28, 28), 2.0)
    with pytest.raises(ValueError, match="k must be positive"):
        index.search(X[:1].reshape(1, 28, 28), 0)
    with pytest.raises(ValueError, match=r"images: each image must have shape \(28, 28\)"):
        index.add(np.zeros((2, 14, 14)))
    with pytest.raises(TypeError, match="dtype"):
        index.add(np.zeros((2, 28, 28), dtype=bool))
    with pytest.raises(ValueError, match="NaN"):
        index.search(np.full((1, 28, 28), np.nan), 1)
    with pytest.raises(TypeError, match="callable"):
        ImageIndex(encoder="pixels")
    with pytest.raises(ValueError, match="unknown index"):
        ImageIndex(PixelEncoder(), index="annoy")
    with pytest.raises(ValueError, match="takes no parameters"):
        ImageIndex(PixelEncoder(), M=16)
    bad = ImageIndex(lambda imgs: np.ones((1, 4)))
    with pytest.raises(ValueError, match="encoder must return"):
        bad.add(X[:3])
    nan_enc = ImageIndex(lambda imgs: np.full((len(imgs), 4), np.nan))
    with pytest.raises(ValueError, match="encoder output contains NaN"):
        nan_enc.add(X[:3])


@pytest.mark.parametrize(
    ("backend", "params"),
    [("hnsw", {"M": 8, "ef": 32}), ("faiss_hnsw", {"M": 16, "ef": 64}), ("faiss_ivfpq", {})],
)
def test_approximate_backends_agree_with_exact(digits, backend, params):
    X, _ = digits
    enc = HOGEncoder()
    exact = ImageIndex(enc).add(X[:280])
    _, I_exact = exact.search(X[280:], 5)
    if backend == "faiss_ivfpq":
        params = {"nlist": 4, "m": 12, "nbits": 4, "nprobe": 4}
    approx = ImageIndex(enc, index=backend, **params).add(X[:280])
    S, I = approx.search(X[280:], 5)
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(I, I_exact, strict=True)])
    # 4-bit PQ codes are coarse (recall ~0.5 here); a random top-5 would score 5/280 = 0.02
    assert recall >= (0.3 if backend == "faiss_ivfpq" else 0.9), recall
    assert (np.diff(S, axis=1) <= 1e-5).all()  # best first
    if backend == "faiss_ivfpq":
        with pytest.raises(ValueError, match="must divide"):
            ImageIndex(enc, index=backend, m=7).add(X[:280])


def test_custom_ann_index_instance(digits):
    from utils.ann import ExactIndex

    X, _ = digits
    custom = ImageIndex(PixelEncoder(), index=ExactIndex(784, metric="cosine")).add(X[:50])
    S, I = custom.search(X[:50], 1)
    np.testing.assert_array_equal(I[:, 0], np.arange(50))
    np.testing.assert_allclose(S[:, 0], 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="must be empty"):
        ImageIndex(PixelEncoder(), index=ExactIndex(784).add(X[:2]))


# --- losses -------------------------------------------------------------------------------------
def _triplet_brute_force(emb: np.ndarray, labels: np.ndarray, margin: float) -> float:
    z = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    losses = []
    for a in range(len(z)):
        for p in range(len(z)):
            if a == p or labels[a] != labels[p]:
                continue
            d_ap = np.sum((z[a] - z[p]) ** 2)
            negs = [np.sum((z[a] - z[n]) ** 2) for n in range(len(z)) if labels[n] != labels[a]]
            farther = [d for d in negs if d > d_ap]
            d_an = min(farther) if farther else min(negs)
            losses.append(max(0.0, d_ap - d_an + margin))
    return float(np.mean(losses))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triplet_semi_hard_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(24, 5))
    labels = rng.integers(0, 4, size=24)
    got = triplet_semi_hard_loss(torch.tensor(emb), torch.tensor(labels), margin=0.3)
    assert float(got) == pytest.approx(_triplet_brute_force(emb, labels, 0.3), rel=1e-6)


def test_triplet_fallback_and_zero_loss():
    # Anchor 0's positive (row 1) is farther than every negative: the fallback takes the
    # hardest negative, so the loss is d_ap - min d_an + margin > margin.
    emb = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.9, 0.1], [0.8, 0.3]])
    labels = torch.tensor([0, 0, 1, 1])
    loss = triplet_semi_hard_loss(emb, labels, margin=0.2)
    assert float(loss) == pytest.approx(_triplet_brute_force(emb.numpy(), labels.numpy(), 0.2))
    assert float(loss) > 0.2
    far = torch.tensor([[1.0, 0.0], [1.0, 0.01], [-1.0, 0.0], [-1.0, 0.01]])
    assert float(triplet_semi_hard_loss(far, labels, 0.2)) == 0.0
    emb.requires_grad_(True)
    triplet_semi_hard_loss(emb, labels).backward()
    assert torch.isfinite(emb.grad).all() and emb.grad.abs().sum() > 0


def test_triplet_rejects_undefined_batches():
    with pytest.raises(ValueError, match="at least 2"):
        triplet_semi_hard_loss(torch.ones(1, 3), torch.tensor([0]))
    with pytest.raises(ValueError, match="anchor-positive"):
        triplet_semi_hard_loss(torch.randn(3, 3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="single class"):
        triplet_semi_hard_loss(torch.randn(3, 3), torch.tensor([1, 1, 1]))
    with pytest.raises(ValueError, match="one label per row"):
        triplet_semi_hard_loss(torch.randn(3, 3), torch.tensor([1, 1]))
    with pytest.raises(TypeError, match="integer"):
        triplet_semi_hard_loss(torch.randn(2, 3), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="margin"):
        triplet_semi_hard_loss(torch.randn(2, 3), torch.tensor([0, 0]), margin=0)
    with pytest.raises(ValueError, match="NaN"):
        triplet_semi_hard_loss(torch.full((2, 3), float("nan")), torch.tensor([0, 0]))
    with pytest.raises(TypeError, match="emb"):
        triplet_semi_hard_loss(np.ones((2, 3)), torch.tensor([0, 0]))


def test_normalized_softmax_matches_manual_and_rejects_bad_input():
    rng = np.random.default_rng(0)
    emb, W = rng.normal(size=(6, 4)), rng.normal(size=(3, 4))
    labels = np.array([0, 1, 2, 0, 1, 2])
    got = normalized_softmax_loss(torch.tensor(emb), torch.tensor(labels), torch.tensor(W), 0.1)
    e = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    w = W / np.linalg.norm(W, axis=1, keepdims=True)
    logits = e @ w.T / 0.1
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    assert float(got) == pytest.approx(-logp[np.arange(6), labels].mean(), rel=1e-6)
    one = normalized_softmax_loss(torch.randn(1, 4), torch.tensor([2]), torch.randn(3, 4))
    assert torch.isfinite(one)  # a single row is defined: the proxies are the negatives
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        normalized_softmax_loss(torch.randn(2, 4), torch.tensor([0, 3]), torch.randn(3, 4))
    with pytest.raises(ValueError, match="4 columns"):
        normalized_softmax_loss(torch.randn(2, 4), torch.tensor([0, 1]), torch.randn(3, 5))
    with pytest.raises(ValueError, match="temperature"):
        normalized_softmax_loss(torch.randn(2, 4), torch.tensor([0, 1]), torch.randn(3, 4), 0.0)
    with pytest.raises(ValueError, match="at least 1"):
        normalized_softmax_loss(
            torch.randn(0, 4), torch.tensor([], dtype=torch.long), torch.randn(3, 4)
        )


# --- train_embedding -----------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["triplet", "infonce", "normsoftmax"])
def test_train_embedding_runs_and_is_deterministic(digits, loss):
    X, y = digits
    a = train_embedding(X[:120], y[:120], loss, epochs=2, batch_size=40, dim=8, width=4, seed=3)
    b = train_embedding(X[:120], y[:120], loss, epochs=2, batch_size=40, dim=8, width=4, seed=3)
    assert isinstance(a, DigitCNN) and not a.training
    assert len(a.loss_history) == 2 and all(np.isfinite(a.loss_history))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(pa, pb, rtol=0, atol=0)


def test_train_embedding_learns_and_options(digits):
    X, y = digits
    model = train_embedding(X[:200], y[:200], "normsoftmax", epochs=4, batch_size=50, seed=0)
    assert model.loss_history[-1] < model.loss_history[0]
    # trained embedding beats raw pixels at retrieving held-out digits of the same class
    rel = [set(np.flatnonzero(y[:200] == c).tolist()) for c in y[200:]]

    def mean_ap(enc) -> float:
        _, I = ImageIndex(enc).add(X[:200]).search(X[200:], 20)
        return float(np.mean(average_precision_at_k(I, rel, 20, ap_denominator="min")))

    assert mean_ap(TorchEncoder(model)) > mean_ap(PixelEncoder())
    small = train_embedding(X[:60], y[:60], "triplet", epochs=1, arch="smallcnn", width=4, dim=8)
    assert isinstance(small, SmallCNN)
    from utils.augment import digit_augmentations

    aug = train_embedding(X[:60], y[:60], "infonce", epochs=1, augment=digit_augmentations())
    assert np.isfinite(aug.loss_history[0])


def test_train_embedding_bad_input(digits):
    X, y = digits
    with pytest.raises(ValueError, match="unknown loss"):
        train_embedding(X[:20], y[:20], "arcface")
    with pytest.raises(ValueError, match="one label per image"):
        train_embedding(X[:20], y[:10])
    with pytest.raises(ValueError, match="at least 2 classes"):
        train_embedding(X[:20], np.zeros(20, dtype=int))
    with pytest.raises(TypeError, match="integers"):
        train_embedding(X[:20], y[:20].astype(float))
    with pytest.raises(ValueError, match="batch_size"):
        train_embedding(X[:20], np.repeat([0, 1], 10), batch_size=1)
    with pytest.raises(ValueError, match="unknown arch"):
        train_embedding(X[:20], y[:20], arch="resnet")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        train_embedding(X[:20] * 255, y[:20])


# --- bootstrap_ci ------------------------------------------------------------------------
def test_bootstrap_ci_covers_mean_and_matches_scipy():
    from scipy.stats import bootstrap

    v = np.random.default_rng(0).beta(5, 1, size=400)
    mean, lo, hi = bootstrap_ci(v, n_boot=2000, seed=1)
    assert lo < mean < hi and mean == pytest.approx(v.mean())
    ref = bootstrap((v,), np.mean, n_resamples=2000, method="percentile", rng=1)
    assert lo == pytest.approx(ref.confidence_interval.low, abs=0.004)
    assert hi == pytest.approx(ref.confidence_interval.high, abs=0.004)
    # the half-width shrinks like 1/sqrt(n): 4x the queries, about half the width
    _, lo4, hi4 = bootstrap_ci(np.tile(v, 4), n_boot=2000, seed=1)
    assert 0.4 < (hi4 - lo4) / (hi - lo) < 0.6
    assert bootstrap_ci(v, seed=5) == bootstrap_ci(v, seed=5)
    assert bootstrap_ci(np.full(10, 0.5)) == (0.5, 0.5, 0.5)


def test_bootstrap_ci_coverage_on_known_mean():
    rng = np.random.default_rng(0)
    covered = 0
    for rep in range(100):
        v = rng.normal(0.6, 0.2, size=200)
        _, lo, hi = bootstrap_ci(v, n_boot=400, seed=rep)
        covered += lo <= 0.6 <= hi
    assert 88 <= covered <= 100  # nominal 95%


def test_bootstrap_ci_bad_input():
    with pytest.raises(ValueError, match="non-empty 1-D"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="non-empty 1-D"):
        bootstrap_ci(np.ones((3, 3)))
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci([0.1, np.nan])
    with pytest.raises(ValueError, match="alpha"):
        bootstrap_ci([0.1, 0.2], alpha=1.5)
    with pytest.raises(ValueError, match="n_boot must be positive"):
        bootstrap_ci([0.1, 0.2], n_boot=0)
    with pytest.raises(TypeError, match="numbers"):
        bootstrap_ci(["a", "b"])
