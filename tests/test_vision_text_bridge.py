"""utils.vision.text_bridge: text query -> classifier classes -> images ranked by probability."""

from __future__ import annotations

import numpy as np
import pytest

from utils.vision.text_bridge import TextBridge

CLASSES = ["tabby cat", "teapot", "sandal", "running shoe", "jean"]


def fake_encoder(texts):
    """A deterministic bag-of-words encoder: one axis per known word, so 'a photo of a teapot.'
    is nearest to the teapot prompt and prompts share the template's words."""
    vocab = sorted({w for c in CLASSES for w in c.split()} | {"a", "photo", "of", "shoe"})
    out = np.zeros((len(texts), len(vocab) + 1), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in t.lower().replace(".", " ").split():
            out[i, vocab.index(w) if w in vocab else len(vocab)] += 1.0
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture
def bridge():
    return TextBridge(encode=fake_encoder, n_classes=2, temperature=0.05).fit(CLASSES)


def one_hot_logits(classes, confident=8.0):
    L = np.zeros((len(classes), len(CLASSES)))
    L[np.arange(len(classes)), classes] = confident
    return L


def test_match_finds_the_named_class_first(bridge):
    matched = bridge.match("teapot", k=3)
    assert matched[0][:2] == (1, "teapot") and matched[0][2] == pytest.approx(1.0, abs=1e-6)
    assert [c for c, _, _ in matched] == sorted(
        [c for c, _, _ in matched], key=lambda c: -dict((m[0], m[2]) for m in matched)[c]
    )
    assert len(bridge.match("teapot")) == 2  # default k = n_classes


def test_class_weights_are_a_softmax_over_the_bridge_classes(bridge):
    w = bridge.class_weights("shoe")
    assert w.shape == (len(CLASSES),) and w.sum() == pytest.approx(1.0)
    assert np.count_nonzero(w) == 2
    m = bridge.match("shoe")
    sims = np.array([s for _, _, s in m])
    expected = np.exp(sims / 0.05) / np.exp(sims / 0.05).sum()
    np.testing.assert_allclose(w[[c for c, _, _ in m]], expected, rtol=1e-6)
    # a huge temperature weighs the bridge classes equally
    flat = TextBridge(encode=fake_encoder, n_classes=2, temperature=1e6).fit(CLASSES)
    np.testing.assert_allclose(flat.class_weights("shoe")[[c for c, _, _ in m]], 0.5, rtol=1e-4)


def test_scores_are_the_probability_of_the_named_classes(bridge):
    L = np.array([[0.0, 2.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    P = np.exp(L) / np.exp(L).sum(axis=1, keepdims=True)
    s = bridge.scores("teapot", L)
    np.testing.assert_allclose(s, P @ bridge.class_weights("teapot"), rtol=1e-9)
    assert ((s >= 0) & (s <= 1)).all()
    # softmax is shift-invariant per row, so adding a constant to an image's logits changes nothing
    np.testing.assert_allclose(bridge.scores("teapot", L + np.array([[5.0], [-3.0]])), s, rtol=1e-9)


def test_search_ranks_images_of_the_named_class_first(bridge):
    labels = [0, 1, 2, 1, 4, 3, 1]
    scores, idx = bridge.search("teapot", one_hot_logits(labels), 3)
    assert sorted(idx.tolist()) == [1, 3, 6] and (np.diff(scores) <= 0).all()
    _, idx = bridge.search("jean", one_hot_logits(labels), 1)
    assert idx.tolist() == [4]
    # ties keep the lower index first (stable order)
    _, idx = bridge.search("teapot", one_hot_logits([1, 1, 1]), 3)
    assert idx.tolist() == [0, 1, 2]


def test_search_cannot_find_what_the_classifier_has_no_class_for(bridge):
    """A concept outside the label space maps to some class anyway: the ranking then follows
    that class, not the concept (the limit the chapter measures)."""
    matched = bridge.match("giraffe")  # no word in common with any class
    assert all(s < 0.9 for _, _, s in matched)  # only the template words are shared
    labels = [0, 1, 2, 3, 4]
    _, idx = bridge.search("giraffe", one_hot_logits(labels), 2)
    assert set(idx.tolist()) == {c for c, _, _ in matched}


def test_stored_probabilities_give_the_same_ranking_as_logits(bridge):
    """The upload path stores softmax(logits) once; queries then need no softmax."""
    L = np.random.default_rng(0).normal(size=(30, 5)) * 3
    P = bridge.probabilities(L)
    assert P.dtype == np.float32 and P.shape == (30, 5)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(
        bridge.scores("teapot", probabilities=P), bridge.scores("teapot", L), rtol=1e-6
    )
    s_l, i_l = bridge.search("sandal", L, 7)
    s_p, i_p = bridge.search("sandal", probabilities=P, k=7)
    assert i_l.tolist() == i_p.tolist()
    np.testing.assert_allclose(s_p, s_l, rtol=1e-6)
    with pytest.raises(ValueError, match="exactly one"):
        bridge.scores("teapot")
    with pytest.raises(ValueError, match="exactly one"):
        bridge.search("teapot", L, 3, probabilities=P)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bridge.scores("teapot", probabilities=L)  # logits passed as probabilities
    with pytest.raises(ValueError, match="one column per class"):
        bridge.scores("teapot", probabilities=P[:, :4])


def test_posting_lists_merge_matches_the_full_scan(bridge):
    rng = np.random.default_rng(1)
    P = bridge.probabilities(rng.normal(size=(200, 5)) * 4)
    post = bridge.posting_lists(P, 40)
    assert post.ids.shape == post.probs.shape == (5, 40) and post.m == 40
    # each list holds its class's 40 most probable images, best first
    for c in range(5):
        np.testing.assert_array_equal(post.ids[c], np.argsort(-P[:, c], kind="stable")[:40])
        assert post.floor[c] == post.probs[c, -1] and (np.diff(post.probs[c]) <= 0).all()
    certified = 0
    for query in ("teapot", "shoe", "jean", "sandal"):
        full = bridge.scores(query, probabilities=P)
        _, full_i = bridge.search(query, probabilities=P, k=10)
        s, idx, exact = bridge.search_postings(query, post, 10)
        assert len(idx) == 10 and (np.diff(s) <= 1e-12).all()
        assert (s <= full[idx] + 1e-6).all()  # merged scores are lower bounds
        if exact:
            assert set(idx.tolist()) == set(full_i.tolist())
        certified += exact
    assert certified >= 2  # 40 of 200 per class: most queries are certified from the lists
    # lists holding every image: the merge is the full scan, certified exact
    whole = bridge.posting_lists(P, 10_000)
    assert whole.m == 200 and (whole.floor == 0).all()
    s, idx, exact = bridge.search_postings("teapot", whole, 10)
    full_s, full_i = bridge.search("teapot", probabilities=P, k=10)
    assert exact and idx.tolist() == full_i.tolist()
    np.testing.assert_allclose(s, full_s, rtol=1e-5)


def test_posting_lists_flag_an_uncertified_merge(bridge):
    """Lists too short to hold the answer: the merge says it is not exact."""
    P = np.full((6, 5), 0.2, dtype=np.float32)  # every image equally likely for every class
    post = bridge.posting_lists(P, 1)
    _, idx, exact = bridge.search_postings("teapot", post, 3)
    assert len(idx) <= 2 and not exact  # two one-entry lists cannot fill a page of three
    with pytest.raises(TypeError, match="ClassPostings"):
        bridge.search_postings("teapot", P, 3)
    with pytest.raises(ValueError, match="classes"):
        bridge.search_postings(
            "teapot",
            bridge.posting_lists(P, 2).__class__(post.ids[:3], post.probs[:3], post.floor[:3]),
            3,
        )
    with pytest.raises(ValueError, match="m"):
        bridge.posting_lists(P, 0)


def test_repr_and_fit_returns_self():
    b = TextBridge(encode=fake_encoder)
    assert "unfitted" in repr(b)
    assert b.fit(CLASSES) is b and "5 classes" in repr(b)


@pytest.mark.parametrize(
    ("kwargs", "err", "match"),
    [
        ({"template": "no placeholder"}, ValueError, "template"),
        ({"template": "{} and {}"}, ValueError, "template"),
        ({"n_classes": 0}, ValueError, "n_classes"),
        ({"n_classes": 1.5}, TypeError, "n_classes"),
        ({"temperature": 0.0}, ValueError, "temperature"),
        ({"temperature": float("nan")}, ValueError, "temperature"),
        ({"temperature": "hot"}, TypeError, "temperature"),
        ({"encode": "minilm"}, TypeError, "encode"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        TextBridge(**kwargs)


def test_bad_inputs_raise_clear_errors(bridge):
    with pytest.raises(RuntimeError, match="fit"):
        TextBridge(encode=fake_encoder).match("teapot")
    with pytest.raises(TypeError, match="class_names"):
        TextBridge(encode=fake_encoder).fit("teapot")
    with pytest.raises(ValueError, match="at least 2"):
        TextBridge(encode=fake_encoder).fit(["teapot"])
    with pytest.raises(ValueError, match=r"class_names\[1\]"):
        TextBridge(encode=fake_encoder).fit(["teapot", " "])
    with pytest.raises(ValueError, match="n_classes=9"):
        TextBridge(encode=fake_encoder, n_classes=9).fit(CLASSES)
    with pytest.raises(TypeError, match="query"):
        bridge.match(3)
    with pytest.raises(ValueError, match="query"):
        bridge.match("  ")
    with pytest.raises(ValueError, match="one column per class"):
        bridge.scores("teapot", np.zeros((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        bridge.scores("teapot", np.full((2, 5), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        bridge.scores("teapot", np.zeros(5))
    with pytest.raises(ValueError, match="larger than the images"):
        bridge.search("teapot", np.zeros((3, 5)), 4)
    with pytest.raises(ValueError, match="larger than the class list"):
        bridge.match("teapot", k=6)
    with pytest.raises(ValueError, match="returned 1 rows"):
        TextBridge(encode=lambda t: np.ones((1, 3))).fit(CLASSES)
    with pytest.raises(ValueError, match="zero vector"):
        TextBridge(encode=lambda t: np.zeros((len(t), 3))).fit(CLASSES)


def test_encoder_output_is_normalised():
    """An encoder that returns unnormalised vectors still gives cosines in [-1, 1]."""
    b = TextBridge(encode=lambda t: 7.0 * fake_encoder(t), n_classes=2).fit(CLASSES)
    assert b.match("teapot")[0][2] == pytest.approx(1.0, abs=1e-6)


def test_with_minilm_and_imagenet_names():
    """The real bridge: MiniLM over the 1,000 ImageNet class prompts (offline, cached). An
    ImageNet concept maps to its class; 'trouser' (no ImageNet class) does not reach 'jean'."""
    pytest.importorskip("sentence_transformers")
    from utils.vision.efficientnet import imagenet_classes

    names = imagenet_classes()
    b = TextBridge().fit()
    assert b.class_names == names and b.class_vectors.shape == (1000, 384)
    assert b.match("sandal")[0][1] == "sandal"
    assert b.match("teapot")[0][1] == "teapot"
    assert "jean" not in [n for _, n, _ in b.match("trouser", k=3)]
    L = np.full((2, 1000), -5.0)
    L[0, names.index("teapot")] = 5.0
    L[1, names.index("sandal")] = 5.0
    _, idx = b.search("a teapot", L, 1)
    assert idx.tolist() == [0]
