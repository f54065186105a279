"""Word marks in text: find registered brand names in a declared brand, a description or OCR text.

Every registered word mark and every piece of declared text goes through
:func:`matchers.normalize.fold`, which undoes spacing, homoglyph and leetspeak tricks. Text is
then compared word by word: every window of one to ``max_mark_words + 1`` consecutive words is
joined without spaces ("ray ban", "rayban" and "r a y b a n" all become "rayban") and compared
with each mark joined the same way. So a mark inside a long description counts, a multi-word
mark is found across words, and a mark is never found inside a longer word ("Pineapple" does
not contain the mark "Apple").

Similarity of a window and a mark (:func:`similarity`) is an edit-distance similarity in which
the edits counterfeiters prefer cost less than others: a letter swapped for one drawn like it
("b"/"d", "m"/"n", "u"/"v", ...) or a doubled / undoubled letter ("Vuiton") costs 0.35-0.4 of an
edit, and a transposition costs one edit. A phonetic look-alike (jellyfish metaphone or NYSIIS
equal) with the same vowels scores at least :data:`PHONETIC_SIMILARITY`. Keeping the vowels is
what makes "Prado" only a weak hint for "Prada": the two sound the same to metaphone, but a
changed vowel makes a different word.

:class:`TextIndex` finds the candidates without comparing the text with every mark: an exact
dictionary plus a deletion neighbourhood (as in SymSpell) of every mark, built once. A window is
looked up as it is and with each one of its letters deleted; marks are stored as they are and
with one letter deleted, and marks of 6 to 10 letters also with two. This finds every mark
within one edit of a window and many within two, and scores only those few candidates. Marks
are also indexed by their metaphone code, for sound-alikes further apart in letters.
:func:`brute_force_hits` is the plain reference that compares every window with every mark; the
tests check the index against it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import jellyfish
from rapidfuzz.distance import OSA, Levenshtein

from .normalize import normalize_text

__all__ = [
    "COMMON_WORDS",
    "MIN_SIMILARITY",
    "PHONETIC_SIMILARITY",
    "MarkHit",
    "TextIndex",
    "best_per_brand",
    "brute_force_hits",
    "similarity",
]

#: Similarity given to a phonetic look-alike that keeps the vowels of the mark.
PHONETIC_SIMILARITY = 0.92
#: Candidates below this similarity are not reported at all.
MIN_SIMILARITY = 0.75

# Pairs of letters that look alike in common typefaces. Substituting one for the other costs
# less than an ordinary edit because it is the typical counterfeiter's spelling ("Adibas").
_LOOKALIKE_PAIRS = {frozenset(p) for p in ["bd", "pq", "mn", "uv", "ij", "ce", "gq", "hn", "co"]}
_LOOKALIKE_COST = 0.35
_DOUBLING_COST = 0.4
_VOWELS = re.compile(r"[^aeiouy]")

# Windows and marks shorter than this are only matched exactly: one edit in a three-letter
# word changes a third of it.
_MIN_FUZZY_LEN = 4
# Marks of these lengths are indexed with two deletions. Longer marks get one: their
# two-deletion neighbourhood is large (91 keys for 14 letters) and two ordinary edits in a
# long mark only make a weak hint anyway, so the memory is better spent elsewhere.
_MIN_TWO_EDIT_LEN = 6
_MAX_TWO_EDIT_LEN = 10
# Windows whose candidates are remembered (see TextIndex.hits).
_CACHE_SIZE = 200_000


@dataclass(frozen=True)
class MarkHit:
    """A registered word mark found in a piece of text."""

    brand_id: str
    #: The word mark as registered.
    mark: str
    #: The words of the text that matched, normalised (e.g. "adibas").
    found: str
    #: 0..1; 1.0 when the normalised text equals the mark.
    similarity: float
    #: "exact", "look-alike" (edit distance) or "phonetic".
    how: str


def _doubled(word: str, pos: int, touched: set[int]) -> bool:
    """Is ``word[pos]`` a repeat of a neighbour that itself stays (so the edit only
    doubles or undoubles a letter)?"""
    ch = word[pos]
    return ((pos > 0 and word[pos - 1] == ch and pos - 1 not in touched)
            or (pos + 1 < len(word) and word[pos + 1] == ch and pos + 1 not in touched))


def _weighted_edits(a: str, b: str) -> float:
    ops = Levenshtein.editops(a, b)
    deleted = {op.src_pos for op in ops if op.tag == "delete"}
    inserted = {op.dest_pos for op in ops if op.tag == "insert"}
    cost = 0.0
    for op in ops:
        if op.tag == "replace":
            pair = frozenset((a[op.src_pos], b[op.dest_pos]))
            cost += _LOOKALIKE_COST if pair in _LOOKALIKE_PAIRS else 1.0
        elif op.tag == "delete":  # a has a letter b lacks
            cost += _DOUBLING_COST if _doubled(a, op.src_pos, deleted) else 1.0
        else:  # insert: b has a letter a lacks
            cost += _DOUBLING_COST if _doubled(b, op.dest_pos, inserted) else 1.0
    return cost


@lru_cache(maxsize=65536)
def _phonetic_key(word: str) -> tuple[str, str, str]:
    return (jellyfish.metaphone(word), jellyfish.nysiis(word), _VOWELS.sub("", word))


def similarity(window: str, mark: str, *, window_plain: str | None = None,
               mark_plain: str | None = None) -> tuple[float, str]:
    """Return ``(similarity, how)`` of a window and a mark, both folded and without spaces.

    ``window_plain`` / ``mark_plain`` are the same strings before "l" was folded into "i",
    used for the phonetic codes (jellyfish reads "l" as a sound). ``how`` is "exact",
    "look-alike" or "phonetic".
    """
    if window == mark:
        if window_plain is not None and mark_plain is not None and window_plain != mark_plain:
            # Equal only once "l" is folded into "i" ("Guccl"): a look-alike, not the mark.
            return 0.97, "look-alike"
        return 1.0, "exact"
    longest = max(len(window), len(mark))
    if not window or not mark:
        return 0.0, "look-alike"
    # editops returns one optimal alignment, and which one depends on the direction; taking
    # both keeps the similarity symmetric (a property the tests check).
    cost = min(_weighted_edits(window, mark), _weighted_edits(mark, window),
               float(OSA.distance(window, mark)))
    sim = max(0.0, 1.0 - cost / longest)
    if sim < PHONETIC_SIMILARITY and sim >= 0.55 and min(len(window), len(mark)) >= _MIN_FUZZY_LEN:
        wk = _phonetic_key(window_plain or window)
        mk = _phonetic_key(mark_plain or mark)
        if wk[2] == mk[2] and (wk[0] == mk[0] or wk[1] == mk[1]):
            return PHONETIC_SIMILARITY, "phonetic"
    return sim, "look-alike"


@dataclass(frozen=True)
class _Mark:
    brand_id: str
    text: str
    key: str  # folded, no spaces
    plain: str  # normalised, no spaces (for phonetics)
    words: int


def _deletes(word: str, depth: int) -> set[str]:
    out = {word}
    frontier = {word}
    for _ in range(depth):
        nxt = set()
        for w in frontier:
            for i in range(len(w)):
                nxt.add(w[:i] + w[i + 1:])
        out |= nxt
        frontier = nxt
    return out


#: Everyday words of customs declarations. A multi-word window never runs across one of them
#: (unless a registered mark contains it), because no spacing trick splits a brand name into
#: "shoes" or "pcs"; they are still looked up on their own. This keeps the number of windows
#: of a long description close to its number of words.
COMMON_WORDS = frozenset("""
a an and the of for with in on by to from at or as per x new original genuine authentic
brand branded name logo pcs pc pieces piece pairs pair units unit sets set box boxes carton
cartons pallet kg kgs g gr ml l qty quantity assorted various mixed size sizes colour color
colours colors black white red blue green grey gray mens men womens women ladies kids
children child unisex adult adults sport sports shoes shoe sneakers trainers boots bags bag
handbags handbag purses wallets wallet watches watch wrist sunglasses glasses perfume
perfumes cosmetics toys toy jackets jacket caps cap hats belts belt shirts shirt tshirts
tshirt jeans denim leather cotton plastic metal textile phone mobile cases case cover covers
chargers charger headphones earphones accessories parts premium classic deluxe limited
edition pro model style made goods samples sample gift gifts used item items
""".split())


def _windows(text: str, max_words: int, max_len: int,
             breakers: frozenset[str] = frozenset()) -> list[tuple[str, str, str]]:
    """Return ``(key, plain, shown)`` for every run of up to ``max_words`` words of ``text``.

    Words in ``breakers`` (and numbers, when they are in ``breakers``' sense: see
    :class:`TextIndex`) only form one-word windows.
    """
    tokens = normalize_text(text).split()
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    ntok = len(tokens)
    for i in range(ntok):
        plain = ""
        for j in range(i, min(ntok, i + max_words)):
            tok = tokens[j]
            if j > i and (tok in breakers or tokens[i] in breakers
                          or (tok.isdigit() or tokens[i].isdigit()) and "#digits" in breakers):
                break
            plain += tok
            if len(plain) > max_len:
                break
            if plain not in seen:
                seen.add(plain)
                shown = tok if j == i else " ".join(tokens[i:j + 1])
                out.append((plain.replace("l", "i"), plain, shown))
    return out


def _breakers(words: set[str]) -> frozenset[str]:
    """Common words that are not a word of any mark, plus "#digits" when no mark word is a number."""
    # One- and two-letter words ("in", "an", "on") are as often the pieces of a brand split by
    # a space ("PEB IN" for "Pebin") as real words, so they never break a window.
    out = {w for w in COMMON_WORDS if w not in words and len(w) >= 3}
    if not any(w.isdigit() for w in words):
        out.add("#digits")
    return frozenset(out)


def _best_per_brand(hits: Iterable[MarkHit]) -> dict[str, MarkHit]:
    best: dict[str, MarkHit] = {}
    for hit in hits:
        cur = best.get(hit.brand_id)
        # Ties are broken on the strings so that the result never depends on input order.
        if cur is None or (hit.similarity, -len(hit.found), hit.mark, hit.found) > (
            cur.similarity, -len(cur.found), cur.mark, cur.found
        ):
            best[hit.brand_id] = hit
    return best


def _prepare(marks: Iterable[tuple[str, str]]) -> tuple[list[_Mark], list[tuple[str, str]], set[str]]:
    """Normalise marks once: (indexable marks sorted, marks with nothing to match, their words)."""
    prepared: list[_Mark] = []
    skipped: list[tuple[str, str]] = []
    words: set[str] = set()
    for brand_id, mark in sorted(set(marks)):
        plain = normalize_text(mark)
        if not plain:
            skipped.append((brand_id, mark))
            continue
        split = plain.split()
        words.update(split)
        plain = "".join(split)
        prepared.append(_Mark(brand_id, mark, plain.replace("l", "i"), plain, len(split)))
    return prepared, skipped, words


class TextIndex:
    """Every registered word mark, indexed once for fast look-up in declared text.

    ``marks`` is an iterable of ``(brand_id, word_mark)``. Marks that normalise to nothing
    (e.g. only Chinese characters) cannot be matched in text and are listed in ``skipped``.
    """

    def __init__(self, marks: Iterable[tuple[str, str]], *, min_similarity: float = MIN_SIMILARITY):
        self.min_similarity = min_similarity
        self._marks, self.skipped, mark_words = _prepare(marks)
        self.max_words = min(max((m.words for m in self._marks), default=1) + 1, 6)
        self.max_len = max((len(m.key) for m in self._marks), default=0) + 2
        self._breakers = _breakers(mark_words)
        index: dict[str, list[int]] = {}
        for i, m in enumerate(self._marks):
            depth = 0
            if _MIN_TWO_EDIT_LEN <= len(m.key) <= _MAX_TWO_EDIT_LEN:
                depth = 2
            elif len(m.key) >= _MIN_FUZZY_LEN:
                depth = 1
            for key in _deletes(m.key, depth):
                index.setdefault(key, []).append(i)
        # Most keys lead to one mark: store that mark's number itself rather than a tuple of
        # one, which takes a third less memory for a large registry.
        self._index: dict[str, int | tuple[int, ...]] = {
            k: v[0] if len(v) == 1 else tuple(v) for k, v in index.items()}
        # Sound-alikes can be further apart in letters than the deletion neighbourhood reaches
        # ("Phila" / "Fila"), so marks are also indexed by their metaphone code.
        sounds: dict[str, list[int]] = {}
        for i, m in enumerate(self._marks):
            if len(m.key) >= _MIN_FUZZY_LEN:
                sounds.setdefault(_phonetic_key(m.plain)[0], []).append(i)
        self._sounds: dict[str, tuple[int, ...]] = {k: tuple(v) for k, v in sounds.items()}
        self._cache: dict[str, tuple[tuple[int, float, str], ...]] = {}

    def __len__(self) -> int:
        return len(self._marks)

    @property
    def marks(self) -> Sequence[tuple[str, str]]:
        """The indexed ``(brand_id, word_mark)`` pairs, sorted."""
        return [(m.brand_id, m.text) for m in self._marks]

    def hits(self, text: str, *, name: bool = False) -> list[MarkHit]:
        """Return every (window, mark) pair of ``text`` at or above ``min_similarity``.

        ``name=True`` says the text is a name (a declared brand), not a description: every
        run of words is then tried, common words included ("The Original" may be a mark).
        """
        out: list[MarkHit] = []
        if not self._marks or not text:
            return out
        marks = self._marks
        cache = self._cache
        breakers = frozenset() if name else self._breakers
        for key, plain, shown in _windows(text, self.max_words, self.max_len, breakers):
            found = cache.get(plain)
            if found is None:
                found = self._lookup(key, plain)
                # Declarations share most of their words ("shoes", "pairs", "cotton"), so
                # remembering each word's candidates pays off; the bound keeps memory flat.
                if len(cache) >= _CACHE_SIZE:
                    cache.clear()
                cache[plain] = found
            for ci, sim, how in found:
                m = marks[ci]
                out.append(MarkHit(m.brand_id, m.text, shown, sim, how))
        return out

    def _lookup(self, key: str, plain: str) -> tuple[tuple[int, float, str], ...]:
        index = self._index
        cands: set[int] = set()
        found = index.get(key)
        if found is not None:
            if type(found) is int:
                cands.add(found)
            else:
                cands.update(found)
        if len(key) >= _MIN_FUZZY_LEN:
            for i in range(len(key)):
                found = index.get(key[:i] + key[i + 1:])
                if found is not None:
                    if type(found) is int:
                        cands.add(found)
                    else:
                        cands.update(found)
            found = self._sounds.get(_phonetic_key(plain)[0])
            if found:
                cands.update(found)
        res = []
        for ci in sorted(cands):
            m = self._marks[ci]
            if (len(key) < _MIN_FUZZY_LEN or len(m.key) < _MIN_FUZZY_LEN) and key != m.key:
                continue
            sim, how = similarity(key, m.key, window_plain=plain, mark_plain=m.plain)
            if sim >= self.min_similarity:
                res.append((ci, round(sim, 4), how))
        return tuple(res)

    def search(self, text: str, *, name: bool = False) -> dict[str, MarkHit]:
        """Return the best hit per brand found in ``text`` (brand_id -> :class:`MarkHit`)."""
        return _best_per_brand(self.hits(text, name=name))


def brute_force_hits(text: str, marks: Iterable[tuple[str, str]], *,
                     min_similarity: float = MIN_SIMILARITY, name: bool = False) -> list[MarkHit]:
    """Plain reference for :meth:`TextIndex.hits`: compare every window with every mark.

    Uses the same windows and :func:`similarity` as the index, so the two differ only in
    which pairs the index's candidate look-up skips.
    """
    prepared, _, mark_words = _prepare(marks)
    if not prepared:
        return []
    max_words = min(max(m.words for m in prepared) + 1, 6)
    max_len = max(len(m.key) for m in prepared) + 2
    out = []
    breakers = frozenset() if name else _breakers(mark_words)
    for key, plain, shown in _windows(text, max_words, max_len, breakers):
        for m in prepared:
            if (len(key) < _MIN_FUZZY_LEN or len(m.key) < _MIN_FUZZY_LEN) and key != m.key:
                continue
            sim, how = similarity(key, m.key, window_plain=plain, mark_plain=m.plain)
            if sim >= min_similarity:
                out.append(MarkHit(m.brand_id, m.text, shown, round(sim, 4), how))
    return out


def best_per_brand(hits: Iterable[MarkHit]) -> dict[str, MarkHit]:
    """Return the best hit per brand, ties broken deterministically."""
    return _best_per_brand(hits)
