"""Seeded adversarial perturbations of spam text, and the normalisation that undoes some of them.

Spammers obfuscate the words a filter keys on. :func:`perturb` applies one obfuscation to a
share ``rate`` of the *eligible* words of a text (runs of ASCII letters of length >= 3 that
the kind can alter), picked by ``random.Random(seed)``; exactly ``round(rate * n_eligible)``
words change. The kinds (:data:`PERTURBATIONS`):

- ``"leet"``: letters swapped for digits/symbols (a->4/@, e->3, i->1/!, o->0, s->5/$, t->7),
  each mappable letter with probability 1/2, at least one per word; "!" never ends a word.
- ``"zero_width"``: U+200B ZERO WIDTH SPACE, U+200C ZWNJ, U+200D ZWJ or U+2060 WORD JOINER
  inserted into ``max(1, len // 4)`` gaps between letters; invisible when rendered.
- ``"homoglyph"``: Latin letters swapped for Cyrillic/Greek look-alikes taken from the
  Unicode TR39 confusables data (https://www.unicode.org/reports/tr39/), as for leet.
- ``"spacing"``: the letters separated by spaces or dots ("v i a g r a", "v.i.a.g.r.a").
- ``"html_split"``: an empty tag pair or comment ("vi<b></b>agra") in one gap, which an
  HTML renderer hides.

:func:`normalize` is the dictionary-free defence: NFKC (Unicode TR#15,
https://www.unicode.org/reports/tr15/) folds full-width and styled letters ("ｖｉａｇｒａ",
"𝐯𝐢𝐚𝐠𝐫𝐚"); format characters (category Cf: zero-width, soft hyphen, bidi controls) are
dropped; empty tag pairs and comments are removed; homoglyphs are mapped back to Latin in
words that mix scripts or are spelt wholly in look-alikes (TR39's mixed-script and
whole-script confusable cases); with ``leet=True`` digits/@/$/! inside words that contain a
letter are read as letters. What it cannot undo: spacing (rejoining "v i a g r a" needs a
dictionary, and so does telling it from "a b c"); leet in words where digits are legitimate
("mp3" -> "mpe", "b2b", "3rd", "user@mail" -> "useramail", "US$10"), which is why ``leet``
is off by default; the case of leeted letters in mixed-case words; emoji ZWJ sequences,
which fall apart once U+200D is dropped; and genuine Cyrillic/Greek words that happen to
use only Latin look-alikes ("рос" reads "poc").
"""

from __future__ import annotations

import numbers
import random
import re
import unicodedata
from collections.abc import Iterable

PERTURBATIONS = ("leet", "zero_width", "homoglyph", "spacing", "html_split")

LEET = {"a": "4@", "e": "3", "i": "1!", "o": "0", "s": "5$", "t": "7"}
ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\u2060")
# Latin letter -> Cyrillic/Greek look-alikes (TR39 confusables.txt maps each back to it).
HOMOGLYPHS = {
    "a": "\u0430", "c": "\u0441", "e": "\u0435", "h": "\u04bb", "i": "\u0456",
    "j": "\u0458", "o": "\u043e\u03bf", "p": "\u0440", "s": "\u0455", "v": "\u03bd",
    "x": "\u0445", "y": "\u0443", "A": "\u0410\u0391", "B": "\u0412\u0392", "C": "\u0421",
    "E": "\u0415\u0395", "H": "\u041d\u0397", "I": "\u0406\u0399", "J": "\u0408",
    "K": "\u041a\u039a", "M": "\u041c\u039c", "N": "\u039d", "O": "\u041e\u039f",
    "P": "\u0420\u03a1", "S": "\u0405", "T": "\u0422\u03a4", "X": "\u0425\u03a7",
    "Y": "\u04ae\u03a5", "Z": "\u0396",
}  # fmt: skip
HTML_SPLITS = ("<b></b>", "<i></i>", "<span></span>", "<!---->")

_FROM_GLYPH = {g: latin for latin, glyphs in HOMOGLYPHS.items() for g in glyphs}
_FROM_LEET = {c: latin for latin, chars in LEET.items() for c in chars}
_WORD = re.compile(r"[A-Za-z]{3,}")
_LETTERS = re.compile(r"[^\W\d_]+")
_LEET_TOKEN = re.compile(r"[A-Za-z0-9@$!]+")
_HTML_SPLIT = re.compile(r"<!--\s*-->|<(b|i|u|em|strong|span|font)>\s*</\1>", re.IGNORECASE)


def _swap(word: str, table: dict[str, str], rng: random.Random, fold: bool, last_ok="") -> str:
    """Replace each mappable letter with probability 1/2 (at least one) by a table option."""
    key = str.lower if fold else str
    idx = [i for i, ch in enumerate(word) if key(ch) in table]
    chosen = [i for i in idx if rng.random() < 0.5] or [rng.choice(idx)]
    out = list(word)
    for i in chosen:
        options = table[key(word[i])]
        if i == len(word) - 1 and last_ok:
            options = "".join(o for o in options if o in last_ok) or options
        out[i] = rng.choice(options)
    return "".join(out)


def _alter(word: str, kind: str, rng: random.Random) -> str:
    if kind == "leet":
        return _swap(word, LEET, rng, True, last_ok="0123456789@$")
    if kind == "homoglyph":
        return _swap(word, HOMOGLYPHS, rng, False)
    if kind == "spacing":
        return rng.choice(" .").join(word)
    gaps = range(1, len(word))
    if kind == "html_split":
        g = rng.choice(gaps)
        return word[:g] + rng.choice(HTML_SPLITS) + word[g:]
    cut = set(rng.sample(gaps, max(1, len(word) // 4)))  # zero_width
    return "".join((rng.choice(ZERO_WIDTH) if i in cut else "") + c for i, c in enumerate(word))


def _eligible(word: str, kind: str) -> bool:
    if kind == "leet":
        return any(c.lower() in LEET for c in word)
    if kind == "homoglyph":
        return any(c in HOMOGLYPHS for c in word)
    return True


def _check(kind: str, rate: float) -> None:
    if kind not in PERTURBATIONS:
        raise ValueError(f"kind must be one of {PERTURBATIONS}, got {kind!r}")
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(f"rate must be a number in [0, 1], got {type(rate).__name__}")
    if not 0.0 <= rate <= 1.0:  # also rejects NaN
        raise ValueError(f"rate must be in [0, 1], got {rate}")


def _perturb(text: str, kind: str, rate: float, rng: random.Random) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    spans = [m.span() for m in _WORD.finditer(text) if _eligible(m.group(), kind)]
    picked = sorted(rng.sample(spans, round(rate * len(spans))))
    parts, pos = [], 0
    for a, b in picked:
        parts += [text[pos:a], _alter(text[a:b], kind, rng)]
        pos = b
    return "".join([*parts, text[pos:]])


def perturb(text: str, kind: str, rate: float = 0.5, seed: int | None = 0) -> str:
    """Obfuscate ``round(rate * n_eligible)`` eligible words of ``text`` with ``kind``.

    Words are runs of ASCII letters of length >= 3; for ``"leet"``/``"homoglyph"`` a word
    is eligible only if it has a letter the table maps. Same ``seed`` -> same output.
    """
    _check(kind, rate)
    return _perturb(text, kind, rate, random.Random(seed))


def perturb_many(
    texts: Iterable[str], kind: str, rate: float = 0.5, seed: int | None = 0
) -> list[str]:
    """:func:`perturb` over ``texts`` with one RNG seeded once (deterministic for the list)."""
    if isinstance(texts, str):
        raise TypeError("texts must be an iterable of str, not a single str")
    _check(kind, rate)
    rng = random.Random(seed)
    return [_perturb(t, kind, rate, rng) for t in texts]


def _unglyph(m: re.Match[str]) -> str:
    w = m.group()
    if not any(c in _FROM_GLYPH for c in w):
        return w
    if any(c.isascii() for c in w) or all(c in _FROM_GLYPH for c in w):
        return "".join(_FROM_GLYPH.get(c, c) for c in w)
    return w


def _unleet(m: re.Match[str]) -> str:
    tok = m.group()
    core = tok.rstrip("!")
    letters = [c for c in core if c.isalpha()]
    if not letters or not any(c in _FROM_LEET for c in core):
        return tok
    upper = all(c.isupper() for c in letters) and len(letters) > 1
    fixed = "".join(_FROM_LEET.get(c, c) for c in core)
    return (fixed.upper() if upper else fixed) + tok[len(core) :]


def normalize(text: str, *, leet: bool = False) -> str:
    """Undo what can be undone without a dictionary (see the module docstring for limits).

    Steps: NFKC; drop category-Cf characters; drop empty tag pairs/comments; map homoglyphs
    to Latin in mixed-script or wholly look-alike words; if ``leet``, read 4@3 1! 0 5$ 7
    inside words that contain a letter (a trailing "!" stays punctuation).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = unicodedata.normalize("NFKC", text)
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    text = _HTML_SPLIT.sub("", text)
    text = _LETTERS.sub(_unglyph, text)
    return _LEET_TOKEN.sub(_unleet, text) if leet else text
