"""Brand-text normalisation: make look-alike spellings of a word mark spell the same.

Counterfeiters write a registered word mark so that it reads like the brand to a buyer but not
to a keyword filter: "N I K E", "N.I.K.E", "N1KE", "Ρuma" with a Greek capital Rho, "ＮＩＫＥ"
in fullwidth letters, "Adidas®". :func:`normalize_text` undoes those tricks so that the text
matcher compares what a person would read:

1. Unicode NFKC (fullwidth and compatibility forms become plain letters).
2. Confusables: a small hand-made table (:data:`CONFUSABLES`) maps the Greek and Cyrillic
   letters that look like Latin ones to those Latin letters. It is applied before case folding
   because upper- and lower-case look-alikes differ (Greek capital Eta looks like "H", small eta
   like "n"). The ``confusable-homoglyphs`` data set is far larger; the letters that are used
   to imitate Latin brand names are few, and a table we can read is easier to trust.
3. Case folding, then accents stripped (NFKD without combining marks), so "Hermès" and
   "HERMES" are equal.
4. ``$`` and ``@`` next to a letter or digit become "s" and "a"; apostrophes vanish
   ("Levi's" -> "levis"); every other character that is not a-z or 0-9 separates words.
5. Spacing tricks: a run of two or more one-character words is joined ("n i k e" -> "nike").
6. Leetspeak in words that contain a letter: 0->o, 1->i, 3->e, 4->a, 5->s, 7->t, 8->b, 9->g.
   Numbers on their own ("501") are kept.
7. ``rn`` -> ``m`` and ``vv`` -> ``w`` (they look alike in most typefaces).

The result contains only ``[a-z0-9 ]``, single spaces, no leading or trailing space, and
normalising it again changes nothing. Both the registered marks and the declared text go
through the same function, so a brand whose real name contains "rn" still matches itself.

:func:`fold` goes one step further for indexing: it also maps "l" to "i" (``Guccl`` / ``Gucci``,
``app1e`` / ``apple``), which would be unreadable in a reason but makes such copies exact.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["CONFUSABLES", "compact", "fold", "normalize_text"]

#: Greek, Cyrillic and other letters that are drawn like a Latin letter, mapped to it. Applied
#: after NFKC (which already turns fullwidth forms such as "Ｎ" into "N") and before case folding.
CONFUSABLES: dict[str, str] = {
    # Greek capitals
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ϲ": "C", "Ϳ": "J",
    # Greek small letters
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "ϲ": "c", "ϳ": "j",
    "μ": "u", "ς": "c",
    # Cyrillic capitals
    "А": "A", "В": "B", "Е": "E", "З": "3", "К": "K", "М": "M", "Н": "H", "О": "O",
    "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J",
    "Ԛ": "Q", "Ԝ": "W", "Ү": "Y", "Һ": "H", "Ӏ": "I", "Ь": "b", "П": "N",
    # Cyrillic small letters
    "а": "a", "в": "b", "е": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j", "ԛ": "q",
    "ԝ": "w", "ү": "y", "һ": "h", "ӏ": "l", "ь": "b", "ё": "e", "п": "n", "г": "r",
    "и": "u",
    # Latin look-alikes outside ASCII that NFKC and accent stripping leave alone
    "ı": "i", "ȷ": "j", "ɡ": "g", "ɑ": "a", "ʟ": "l", "ɪ": "i", "ᴏ": "o", "ℓ": "l",
    "ø": "o", "Ø": "O", "đ": "d", "Đ": "D", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae",
    "Æ": "AE", "œ": "oe", "Œ": "OE", "þ": "p", "ð": "d",
}
_CONFUSABLE_TABLE = str.maketrans(CONFUSABLES)

_LEET_TABLE = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t",
                             "8": "b", "9": "g"})
# "$" / "@" only count as letters when they touch a letter or digit ("$ale" but not "$ 5").
_DOLLAR_AT = re.compile(r"(?<=[^\W_])[$@]|[$@](?=[^\W_])")
_APOSTROPHES = re.compile(r"['\u2019\u2018`\u00b4\u02bc]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_HAS_LETTER = re.compile(r"[a-z]")
# Marks people append to brand names; they are symbols (category So) and would be dropped
# anyway, but removing them first keeps "Nike®Air" from becoming one word "nikeair".
_MARK_SIGNS = re.compile("[\u00ae\u2122\u00a9\u2120\u24c7]")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    if decomposed.isascii():
        return decomposed
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _join_single_letters(tokens: list[str]) -> list[str]:
    out: list[str] = []
    run: list[str] = []
    for tok in tokens:
        if len(tok) == 1:
            run.append(tok)
            continue
        if run:
            out.append("".join(run))
            run = []
        out.append(tok)
    if run:
        out.append("".join(run))
    return out


def normalize_text(text: str) -> str:
    """Return the normalised form of ``text`` used to compare brand names.

    Never raises for a ``str``; anything else is converted with ``str()`` first. The result
    contains only ``[a-z0-9 ]`` and is a fixed point (``normalize_text(normalize_text(x)) ==
    normalize_text(x)``).
    """
    if not isinstance(text, str):
        text = str(text)
    if not text.isascii():
        text = _MARK_SIGNS.sub(" ", text)
        text = unicodedata.normalize("NFKC", text)
        text = text.translate(_CONFUSABLE_TABLE)
        text = _strip_accents(text.casefold())
        # Casefolding can create new non-ASCII letters (e.g. final sigma); map them too.
        text = text.translate(_CONFUSABLE_TABLE).lower()
    else:
        text = text.lower()
    # The checks before each substitution keep the common case (plain words) cheap.
    if "$" in text or "@" in text:
        text = _DOLLAR_AT.sub(lambda m: "s" if m.group() == "$" else "a", text)
    if "'" in text or "`" in text or not text.isascii():
        text = _APOSTROPHES.sub("", text)
    tokens = _NOT_ALNUM.sub(" ", text).split()
    # Each step can create work for another ("r n" joins into "rn", which becomes "m", which
    # may then sit next to another single letter), so repeat until nothing changes. Every
    # round that changes something shortens the text, so this ends after a few rounds.
    while True:
        new_tokens = [_clean_token(tok) for tok in _join_single_letters(tokens)]
        if new_tokens == tokens:
            return " ".join(tokens)
        tokens = new_tokens


def _clean_token(tok: str) -> str:
    if tok.isalpha():
        if "rn" not in tok and "vv" not in tok:
            return tok
    elif _HAS_LETTER.search(tok):
        tok = tok.translate(_LEET_TABLE)
    if "rn" in tok:
        tok = tok.replace("rn", "m")
    if "vv" in tok:
        tok = tok.replace("vv", "w")
    return tok


def fold(text: str) -> str:
    """Return the index key of ``text``: :func:`normalize_text` with "l" folded into "i"."""
    return normalize_text(text).replace("l", "i")


def compact(normalised: str) -> str:
    """Return an already normalised text without spaces ("ray ban" -> "rayban")."""
    return normalised.replace(" ", "")
