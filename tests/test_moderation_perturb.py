"""utils.moderation.perturb: seeded spam obfuscations and the dictionary-free normalisation."""

from __future__ import annotations

import re
import unicodedata

import pytest

from utils.moderation.perturb import (
    HOMOGLYPHS,
    PERTURBATIONS,
    ZERO_WIDTH,
    normalize,
    perturb,
    perturb_many,
)

SENTENCES = [
    "Claim your FREE prize now: cheap viagra and Casino bonus, click the link today!",
    "Dear customer, your account has been suspended. Verify your password at once.",
    "Hi Anna, are we still meeting on Tuesday at 10:30 to review the quarterly report?",
    "Make money fast working from home, no experience needed, reply STOP to opt out.",
]
ELIGIBLE = re.compile(r"[A-Za-z]{3,}")


@pytest.mark.parametrize("kind", PERTURBATIONS)
def test_seeded_determinism(kind):
    text = SENTENCES[0]
    assert perturb(text, kind, 0.5, seed=3) == perturb(text, kind, 0.5, seed=3)
    outs = {perturb(text, kind, 0.5, seed=s) for s in range(6)}
    assert len(outs) > 1
    assert perturb_many(SENTENCES, kind, 0.5, 7) == perturb_many(SENTENCES, kind, 0.5, 7)


@pytest.mark.parametrize("kind", PERTURBATIONS)
def test_rate_zero_is_identity(kind):
    for s in SENTENCES:
        assert perturb(s, kind, 0.0, seed=1) == s
    assert perturb_many(SENTENCES, kind, 0.0) == SENTENCES


@pytest.mark.parametrize("kind", ["leet", "zero_width", "homoglyph", "html_split"])
@pytest.mark.parametrize("rate", [0.25, 0.5, 1.0])
def test_changes_the_rate_share_of_eligible_words(kind, rate):
    # every whitespace token of these sentences holds one word, so tokens line up
    for seed, text in enumerate(SENTENCES):
        out = perturb(text, kind, rate, seed)
        before, after = text.split(), out.split()
        assert len(before) == len(after)
        changed = sum(a != b for a, b in zip(before, after, strict=True))
        n = len(ELIGIBLE.findall(text))
        if kind == "homoglyph":  # eligible = has a letter with a look-alike
            n = sum(any(c in HOMOGLYPHS for c in w) for w in ELIGIBLE.findall(text))
        assert changed == round(rate * n)


@pytest.mark.parametrize("rate", [0.25, 0.5, 1.0])
def test_spacing_splits_the_rate_share(rate):
    for seed, text in enumerate(SENTENCES):
        out = perturb(text, "spacing", rate, seed)
        n = len(ELIGIBLE.findall(text))
        assert len(ELIGIBLE.findall(out)) == n - round(rate * n)
        assert re.search(r"\b(\w[ .]){2,}\w\b", out)


@pytest.mark.parametrize("kind", ["zero_width", "homoglyph", "html_split"])
@pytest.mark.parametrize("seed", range(5))
def test_normalize_undoes_invisible_and_lookalike(kind, seed):
    for text in SENTENCES:
        out = perturb(text, kind, 1.0, seed)
        assert out != text
        assert normalize(out) == text


def test_zero_width_and_homoglyph_characters():
    out = perturb("viagra casino bonus", "zero_width", 1.0, 0)
    assert any(z in out for z in ZERO_WIDTH)
    assert out.replace("\u200b", "").replace("\u200c", "").replace("\u200d", "") != out
    for glyphs in HOMOGLYPHS.values():
        for g in glyphs:
            name = unicodedata.name(g)
            assert name.startswith(("CYRILLIC", "GREEK")), name
            assert unicodedata.normalize("NFKC", g) == g  # NFKC alone does not fold them


@pytest.mark.parametrize("seed", range(10))
def test_leet_round_trip_on_plain_words(seed):
    text = "claim your free prize now cheap meds casino bonus act fast limited offer"
    out = perturb(text, "leet", 1.0, seed)
    assert out != text and re.search(r"[0-9@$!]", out)
    assert normalize(out) == out  # leet reversal is opt-in
    assert normalize(out, leet=True) == text
    assert normalize("FR33 C@$H!", leet=True) == "FREE CASH!"


def test_normalize_folds_nfkc_and_format_characters():
    assert normalize("\uff56\uff49\uff41\uff47\uff52\uff41") == "viagra"  # full-width
    assert normalize("\U0001d42f\U0001d422\U0001d41a") == "via"  # mathematical bold
    assert normalize("ca\u00adsi\u200bno") == "casino"  # soft hyphen, ZWSP
    assert normalize("\u0440\u043e\u0441 and \u043f\u0440\u0438\u0432\u0435\u0442") == (
        "poc and \u043f\u0440\u0438\u0432\u0435\u0442"
    )  # whole-script look-alike mapped, real Cyrillic word kept


def test_documented_limits():
    assert normalize("v i a g r a") == "v i a g r a"  # spacing needs a dictionary
    assert normalize("mp3 player", leet=True) == "mpe player"  # legit digits get read
    assert normalize("price 100 dollars!", leet=True) == "price 100 dollars!"


def test_bad_input():
    with pytest.raises(TypeError, match="text"):
        perturb(b"spam", "leet", 0.5)
    with pytest.raises(TypeError, match="text"):
        normalize(None)
    with pytest.raises(ValueError, match="zero_width"):
        perturb("spam", "rot13", 0.5)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match="rate"):
            perturb("spam", "leet", bad)
    with pytest.raises(TypeError, match="rate"):
        perturb("spam", "leet", "0.5")
    with pytest.raises(TypeError, match="iterable"):
        perturb_many("spam text", "leet", 0.5)
    with pytest.raises(TypeError, match="text"):
        perturb_many(["ok", 3], "leet", 0.5)
