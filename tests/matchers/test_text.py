"""Word marks in text: the look-alike examples, and the index against a brute-force scan."""

from __future__ import annotations

import random
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matchers.scoring import text_identity
from matchers.text import TextIndex, brute_force_hits, similarity

MARKS = [
    ("adidas", "Adidas"), ("nike", "Nike"), ("rayban", "Ray-Ban"), ("gucci", "Gucci"),
    ("puma", "Puma"), ("lv", "Louis Vuitton"), ("apple", "Apple"), ("prada", "Prada"),
    ("chanel", "Chanel"), ("hermes", "Hermès"), ("levis", "Levi's"), ("fila", "Fila"),
]


@pytest.fixture(scope="module")
def index() -> TextIndex:
    return TextIndex(MARKS)


@pytest.mark.parametrize(
    ("text", "brand"),
    [
        ("Adibas", "adidas"),
        ("N1KE", "nike"),
        ("Ray Bam", "rayban"),
        ("RAYBAN", "rayban"),
        ("Guccl", "gucci"),
        ("\u03a1uma", "puma"),
        ("Louis Vuiton", "lv"),
        ("L.O.U.I.S V.U.I.T.T.O.N", "lv"),
        ("N I K E", "nike"),
        ("ＡＤＩＤＡＳ", "adidas"),
        ("Chanell", "chanel"),
        ("HERMES", "hermes"),
        ("Phila", "fila"),
    ],
)
def test_lookalikes_match_high(index: TextIndex, text: str, brand: str) -> None:
    hits = index.search(text)
    assert brand in hits, hits
    assert text_identity(hits[brand].similarity) >= 0.75
    assert max(hits, key=lambda b: hits[b].similarity) == brand


def test_mark_inside_long_description(index: TextIndex) -> None:
    hits = index.search("200 pairs of mens running shoes, brand LOUIS VUITON, leather upper, size 42")
    assert hits["lv"].similarity > 0.9
    assert hits["lv"].found == "louis vuiton"


def test_pineapple_is_not_apple(index: TextIndex) -> None:
    assert "apple" not in index.search("Pineapple Co., Ltd")
    assert "apple" not in index.search("pineapple juice concentrate")


def test_prado_is_at_most_a_weak_hint(index: TextIndex) -> None:
    hit = index.search("Prado").get("prada")
    assert hit is None or text_identity(hit.similarity) <= 0.35


@pytest.mark.parametrize("text", ["cotton t-shirts", "plastic toys", "Samsung", "ceramic mugs",
                                  "Microsoft", "wooden chairs 40 pcs"])
def test_unrelated_words_low(index: TextIndex, text: str) -> None:
    hits = index.search(text)
    assert all(text_identity(h.similarity) < 0.3 for h in hits.values()), hits


def test_similarity_is_symmetric_on_examples() -> None:
    for a, b in [("adibas", "adidas"), ("raybam", "rayban"), ("prado", "prada")]:
        assert similarity(a, b)[0] == pytest.approx(similarity(b, a)[0])


def test_exact_and_empty(index: TextIndex) -> None:
    assert index.search("")== {}
    assert index.search("nike")["nike"].how == "exact"
    assert index.search("Guccl")["gucci"].how == "look-alike"


def _random_marks(rnd: random.Random, n: int) -> list[tuple[str, str]]:
    syl = ["ka", "ri", "to", "ne", "mo", "sa", "lu", "vi", "de", "ro", "ba", "zen", "tal", "gor",
           "fi", "pe", "xa", "dra", "lin", "mar", "sol", "ver", "nex"]
    out = set()
    while len(out) < n:
        name = "".join(rnd.choice(syl) for _ in range(rnd.randint(1, 4)))
        if rnd.random() < 0.2:
            name += " " + "".join(rnd.choice(syl) for _ in range(2))
        out.add((f"b{len(out)}", name))
    return sorted(out)


def _typo(rnd: random.Random, word: str) -> str:
    chars = list(word)
    op = rnd.randrange(4)
    i = rnd.randrange(len(chars))
    if op == 0:
        chars[i] = rnd.choice(string.ascii_lowercase)
    elif op == 1 and len(chars) > 1:
        del chars[i]
    elif op == 2:
        chars.insert(i, rnd.choice(string.ascii_lowercase))
    elif i + 1 < len(chars):
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
    return "".join(chars)


def test_index_agrees_with_brute_force_on_generated_typos() -> None:
    rnd = random.Random(7)
    marks = _random_marks(rnd, 400)
    index = TextIndex(marks)
    for _ in range(150):
        _, mark = rnd.choice(marks)
        text = f"{rnd.choice(['mens', 'bags', ''])} {_typo(rnd, mark)} {rnd.choice(['shoes', 'x', ''])}"
        fast = {(h.brand_id, h.found): h.similarity for h in index.hits(text)}
        slow = {(h.brand_id, h.found): h.similarity for h in brute_force_hits(text, marks)}
        # Everything the index reports is what the plain scan reports, with the same score...
        assert set(fast) <= set(slow)
        for k, v in fast.items():
            assert slow[k] == v
        # ...and it misses nothing the plain scan finds within one edit.
        from rapidfuzz.distance import Levenshtein
        for (bid, found), v in slow.items():
            mark = dict(marks)[bid]
            from matchers.normalize import fold
            a, b = fold(found).replace(" ", ""), fold(mark).replace(" ", "")
            if Levenshtein.distance(a, b) <= 1 and min(len(a), len(b)) >= 4 or a == b:
                assert (bid, found) in fast, (text, bid, found, v)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("adibsnkeruomplvt 1$.")), max_size=25))
def test_index_is_sound_on_arbitrary_text(text: str) -> None:
    index = TextIndex(MARKS)
    fast = {(h.brand_id, h.found): h.similarity for h in index.hits(text)}
    slow = {(h.brand_id, h.found): h.similarity for h in brute_force_hits(text, MARKS)}
    assert set(fast) <= set(slow)
    for k, v in fast.items():
        assert slow[k] == v


def test_index_is_order_independent() -> None:
    rnd = random.Random(3)
    marks = _random_marks(rnd, 200)
    shuffled = marks[:]
    rnd.shuffle(shuffled)
    a, b = TextIndex(marks), TextIndex(shuffled)
    for _ in range(50):
        text = _typo(rnd, rnd.choice(marks)[1])
        assert a.search(text) == b.search(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abdmnuvcoeilr")), min_size=1, max_size=10),
       st.text(alphabet=st.sampled_from(list("abdmnuvcoeilr")), min_size=1, max_size=10))
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    s1, s2 = similarity(a, b)[0], similarity(b, a)[0]
    assert s1 == pytest.approx(s2)
    assert 0.0 <= s1 <= 1.0
    assert (s1 == 1.0) == (a == b)


def test_a_space_inside_a_mark_is_undone_even_around_short_words() -> None:
    index = TextIndex([("p", "Pebin"), ("s", "Skuhan"), ("o", "The Original")])
    assert index.search("PEB IN", name=True)["p"].similarity == 1.0
    assert index.search("Skuh an", name=True)["s"].similarity == 1.0
    assert index.search("200 pairs of shoes PEB IN box")["p"].similarity == 1.0
    # A mark made of everyday words is still found when declared as a brand.
    assert index.search("The Original", name=True)["o"].similarity == 1.0
