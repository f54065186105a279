"""Generator of labelled screening cases for tests, evaluation and benchmarks.

Everything is drawn here with Pillow and numpy from a seed: nothing is downloaded, and the same
seed gives the same brands, images and cases byte for byte.

    from bench.cases import make_case_set
    cs = make_case_set(40, seed=0, cases_per_kind=10)
    cs.references          # list[matchers.types.Reference]: logo + packaging per brand
    cs.cases               # list[LabelledCase]: kind, query, expected_brand_id, placements

Kinds of case:

* ``counterfeit``: every signal points at the brand (look-alike or exact name in the
  description, a non-authorised or near-copy supplier, a low price, an odd origin, photos);
* ``photo_only``: only photos of the imitated logo or packaging;
* ``lookalike_name``: only a look-alike declared brand (typo, homoglyph, leetspeak, spacing,
  ``rn`` for ``m``);
* ``genuine``: the real brand, an authorised supplier, a price in range, a production
  country and a clean photo of the genuine packaging (expected brand set, to be released);
* ``unregistered``: a brand that is not in the registry (its own name and logo); expected
  brand None.

Photos paste a reference image into a cluttered scene with perspective, rotation up to 30
degrees, a scale that covers 30-70 % of the photo, blur, colour and brightness changes,
partial crops, occlusion, sometimes a mirror image, and JPEG recompression. Where the
reference was pasted is recorded in :class:`Placement` so tests can check a reported polygon.
"""

from __future__ import annotations

import functools
import io
import math
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFont
from rapidfuzz import fuzz, process
from stdnum import ean

from matchers.types import PriceRange, Query, Reference, Supplier

__all__ = [
    "KINDS",
    "CaseSet",
    "LabelledCase",
    "Placement",
    "draw_brand_images",
    "ean13_image",
    "lookalike",
    "make_brand_name",
    "make_case_set",
    "make_photo",
]

KINDS: tuple[str, ...] = (
    "counterfeit",
    "photo_only",
    "lookalike_name",
    "genuine",
    "unregistered",
)

_FONT_DIR = "/usr/share/fonts/truetype/dejavu"
_FONT_FILES = (
    "DejaVuSans.ttf",
    "DejaVuSans-Bold.ttf",
    "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSansMono-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-BoldItalic.ttf",
    "DejaVuSerifCondensed-Bold.ttf",
    "DejaVuSans-ExtraLight.ttf",
)


@dataclass(frozen=True)
class Placement:
    """Where a reference image was pasted into a generated photo."""

    photo_index: int
    reference_image_index: int
    #: The reference image's corners (top-left, top-right, bottom-right, bottom-left of the
    #: reference) in the photo's pixel coordinates, as encoded (after any mirroring).
    polygon: tuple[tuple[float, float], ...]
    mirrored: bool = False


@dataclass(frozen=True)
class LabelledCase:
    """A query with the brand it imitates (None for goods of an unregistered brand)."""

    kind: str
    query: Query
    expected_brand_id: str | None
    placements: tuple[Placement, ...] = ()


@dataclass
class CaseSet:
    """Registered brands and labelled cases generated from one seed."""

    references: list[Reference]
    cases: list[LabelledCase]
    seed: int = 0
    #: Names of the unregistered brands used by the "unregistered" cases.
    unregistered_names: list[str] = field(default_factory=list)

    def by_kind(self, kind: str) -> list[LabelledCase]:
        """The cases of one kind, in generation order."""
        return [c for c in self.cases if c.kind == kind]


# --------------------------------------------------------------------------------------------
# names

_ONSETS = (
    "b",
    "c",
    "d",
    "f",
    "g",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "r",
    "s",
    "t",
    "v",
    "z",
    "br",
    "cr",
    "dr",
    "fl",
    "gr",
    "kl",
    "pr",
    "st",
    "tr",
    "sk",
    "ch",
    "sh",
    "th",
    "qu",
    "vr",
)
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ea", "io", "ou", "y")
_CODAS = ("", "", "", "", "n", "r", "s", "l", "x", "m", "nd", "st", "rk", "t")


def make_brand_name(rng: random.Random) -> str:
    """A pronounceable pseudo-word of 2-3 syllables, capitalised (e.g. "Travoski")."""
    n = rng.choice((2, 2, 3, 3, 3))
    word = "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(n))
    word += rng.choice(_CODAS)
    return word.capitalize()


def _unique_names(rng: random.Random, n: int, taken: list[str]) -> list[str]:
    """``n`` names with fuzz.ratio < 80 (case-insensitive) to each other and to ``taken``."""
    out: list[str] = []
    lowered = [t.lower() for t in taken]
    while len(out) < n:
        cand = make_brand_name(rng)
        if not 5 <= len(cand) <= 11:
            continue
        low = cand.lower()
        if lowered and process.extractOne(
            low, lowered, scorer=fuzz.ratio, score_cutoff=80
        ):
            continue
        out.append(cand)
        lowered.append(low)
    return out


_HOMOGLYPHS = {
    "a": "\u0430",
    "e": "\u0435",
    "o": "\u043e",
    "p": "\u0440",
    "c": "\u0441",
    "x": "\u0445",
    "y": "\u0443",
    "i": "\u0456",
    "s": "\u0455",
    "A": "\u0391",
    "B": "\u0392",
    "E": "\u0395",
    "H": "\u0397",
    "I": "\u0399",
    "K": "\u039a",
    "M": "\u039c",
    "N": "\u039d",
    "O": "\u039f",
    "P": "\u03a1",
    "T": "\u03a4",
    "X": "\u03a7",
    "Y": "\u03a5",
    "Z": "\u0396",
    "C": "\u0421",
    "S": "\u0405",
}
_LEET = {
    "i": "1",
    "e": "3",
    "o": "0",
    "a": "4",
    "s": "5",
    "t": "7",
    "l": "1",
    "b": "8",
    "g": "9",
}
_KEY_NEIGHBOURS = {
    "a": "sqz",
    "b": "vn",
    "c": "xv",
    "d": "sf",
    "e": "wr",
    "f": "dg",
    "g": "fh",
    "h": "gj",
    "i": "uo",
    "j": "hk",
    "k": "jl",
    "l": "k",
    "m": "n",
    "n": "bm",
    "o": "ip",
    "p": "o",
    "r": "et",
    "s": "ad",
    "t": "ry",
    "u": "yi",
    "v": "cb",
    "w": "qe",
    "x": "zc",
    "y": "tu",
    "z": "x",
    "q": "w",
}


def lookalike(name: str, rng: random.Random, *, how: str | None = None) -> str:
    """A look-alike of a brand name as counterfeiters write it.

    ``how`` is one of "typo", "homoglyph", "leet", "spacing", "rn" (random when None). The
    result always differs from ``name``.
    """
    kinds = ("typo", "homoglyph", "leet", "spacing", "rn")
    how = how or rng.choice(kinds)
    upper = rng.random() < 0.4
    base = name.upper() if upper else name
    for _ in range(20):
        s = list(base)
        if how == "typo":
            i = rng.randrange(1, len(s))
            op = rng.choice(("swap", "sub", "dup", "del"))
            if op == "swap" and i < len(s) - 1 and s[i] != s[i + 1]:
                s[i], s[i + 1] = s[i + 1], s[i]
            elif op == "sub":
                nb = _KEY_NEIGHBOURS.get(s[i].lower(), "aeiou")
                ch = rng.choice(nb)
                s[i] = ch.upper() if s[i].isupper() else ch
            elif op == "dup":
                s.insert(i, s[i])
            elif len(s) > 4:
                del s[i]
        elif how == "homoglyph":
            idx = [i for i, ch in enumerate(s) if ch in _HOMOGLYPHS]
            for i in rng.sample(idx, min(len(idx), rng.choice((1, 1, 2)))):
                s[i] = _HOMOGLYPHS[s[i]]
        elif how == "leet":
            idx = [i for i, ch in enumerate(s) if ch.lower() in _LEET]
            for i in rng.sample(idx, min(len(idx), rng.choice((1, 2)))):
                s[i] = _LEET[s[i].lower()]
        elif how == "spacing":
            if rng.random() < 0.4:
                s = list(" ".join(s))
            else:
                i = rng.randrange(2, len(s) - 1)
                s.insert(i, rng.choice((" ", "-", ".", " ")))
        elif how == "rn":
            low = "".join(s).lower()
            if "m" in low:
                i = low.index("m")
                s[i : i + 1] = ["R", "N"] if s[i].isupper() else ["r", "n"]
            elif "w" in low:
                i = low.index("w")
                s[i : i + 1] = ["V", "V"] if s[i].isupper() else ["v", "v"]
            else:  # no m or w: fall back to another trick
                return lookalike(
                    name, rng, how=rng.choice(("typo", "homoglyph", "leet"))
                )
        out = "".join(s)
        if out != base and out.lower() != name.lower():
            return out
    return lookalike(name, rng, how="leet" if how != "leet" else "typo")


# --------------------------------------------------------------------------------------------
# drawing


@functools.lru_cache(maxsize=512)
def _font(index: int, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = os.path.join(_FONT_DIR, _FONT_FILES[index % len(_FONT_FILES)])
    try:
        return ImageFont.truetype(path, size)
    except OSError:  # no DejaVu on this machine: Pillow's own scalable font
        return ImageFont.load_default(size=size)


def _rand_colour(
    rng: random.Random, *, dark: bool | None = None
) -> tuple[int, int, int]:
    import colorsys

    h = rng.random()
    s = rng.uniform(0.45, 1.0)
    if dark is None:
        v = rng.uniform(0.25, 1.0)
    elif dark:
        v = rng.uniform(0.1, 0.45)
    else:
        v = rng.uniform(0.75, 1.0)
        s = rng.uniform(0.05, 0.5)
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return (int(r * 255), int(g * 255), int(b * 255))


def _gradient(size: tuple[int, int], c1, c2, rng: random.Random) -> Image.Image:
    w, h = size
    kind = rng.choice(("h", "v", "d", "r"))
    # Drawn at 1/8 scale and enlarged: a gradient is smooth, and this is 30x cheaper.
    sw, sh = max(2, w // 8), max(2, h // 8)
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    if kind == "h":
        t = xx / max(sw - 1, 1)
    elif kind == "v":
        t = yy / max(sh - 1, 1)
    elif kind == "d":
        t = (xx + yy) / max(sw + sh - 2, 1)
    else:
        t = np.sqrt((xx - sw / 2) ** 2 + (yy - sh / 2) ** 2) / (0.71 * max(sw, sh))
    t = np.clip(t, 0, 1)[..., None]
    arr = (1 - t) * np.array(c1, np.float32) + t * np.array(c2, np.float32)
    small = Image.fromarray(arr.astype(np.uint8), "RGB")
    return small.resize((w, h), Image.Resampling.BILINEAR)


def _star(cx, cy, r_out, r_in, n, rot):
    pts = []
    for k in range(2 * n):
        r = r_out if k % 2 == 0 else r_in
        a = rot + math.pi * k / n
        pts.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    return pts


def _polygon(cx, cy, r, n, rot):
    return [
        (
            cx + r * math.cos(rot + 2 * math.pi * k / n),
            cy + r * math.sin(rot + 2 * math.pi * k / n),
        )
        for k in range(n)
    ]


def _draw_emblem(draw: ImageDraw.ImageDraw, box, rng: random.Random, colours) -> None:
    """A few random primitives inside ``box``: polygons, stars, rings, stripes, arcs."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    r = min(x1 - x0, y1 - y0) / 2
    for layer in range(rng.randint(2, 5)):
        col = rng.choice(colours)
        kind = rng.choice(
            (
                "poly",
                "star",
                "circle",
                "ring",
                "stripes",
                "pie",
                "cross",
                "chevron",
                "rect",
            )
        )
        rr = r * rng.uniform(0.35, 1.0)
        ox, oy = cx + rng.uniform(-0.35, 0.35) * r, cy + rng.uniform(-0.35, 0.35) * r
        rot = rng.uniform(0, 2 * math.pi)
        if kind == "poly":
            draw.polygon(_polygon(ox, oy, rr, rng.randint(3, 8), rot), fill=col)
        elif kind == "star":
            draw.polygon(
                _star(ox, oy, rr, rr * rng.uniform(0.3, 0.6), rng.randint(4, 9), rot),
                fill=col,
            )
        elif kind == "circle":
            draw.ellipse((ox - rr, oy - rr, ox + rr, oy + rr), fill=col)
        elif kind == "ring":
            draw.ellipse(
                (ox - rr, oy - rr, ox + rr, oy + rr),
                outline=col,
                width=max(2, int(rr * rng.uniform(0.1, 0.3))),
            )
        elif kind == "stripes":
            n = rng.randint(3, 7)
            bw = 2 * rr / (2 * n)
            for k in range(n):
                xa = ox - rr + 2 * k * bw
                if rng.random() < 0.5:
                    draw.rectangle((xa, oy - rr, xa + bw, oy + rr), fill=col)
                else:
                    draw.polygon(
                        [
                            (xa, oy + rr),
                            (xa + bw, oy + rr),
                            (xa + bw + rr * 0.5, oy - rr),
                            (xa + rr * 0.5, oy - rr),
                        ],
                        fill=col,
                    )
        elif kind == "pie":
            a0 = rng.uniform(0, 360)
            draw.pieslice(
                (ox - rr, oy - rr, ox + rr, oy + rr),
                a0,
                a0 + rng.uniform(60, 300),
                fill=col,
            )
        elif kind == "cross":
            t = rr * rng.uniform(0.15, 0.35)
            draw.rectangle((ox - rr, oy - t, ox + rr, oy + t), fill=col)
            draw.rectangle((ox - t, oy - rr, ox + t, oy + rr), fill=col)
        elif kind == "chevron":
            t = rr * 0.35
            draw.polygon(
                [
                    (ox - rr, oy - rr * 0.3),
                    (ox, oy + rr * 0.4),
                    (ox + rr, oy - rr * 0.3),
                    (ox + rr, oy + t - rr * 0.3 + t),
                    (ox, oy + rr * 0.4 + 2 * t),
                    (ox - rr, oy + 2 * t - rr * 0.3),
                ],
                fill=col,
            )
        else:
            w2, h2 = rr * rng.uniform(0.4, 1), rr * rng.uniform(0.4, 1)
            draw.rectangle((ox - w2, oy - h2, ox + w2, oy + h2), fill=col)


def _fit_text(draw, text, font_idx, max_w, max_h):
    size = max(8, int(max_h))
    while size > 8:
        f = _font(font_idx, size)
        l, t, r, b = draw.textbbox((0, 0), text, font=f)
        if r - l <= max_w and b - t <= max_h:
            return f, (l, t, r, b)
        size = int(size * 0.88)
    f = _font(font_idx, 8)
    return f, draw.textbbox((0, 0), text, font=f)


def _draw_text(draw, text, box, rng, colour, font_idx, *, stroke=None) -> None:
    x0, y0, x1, y1 = box
    f, (l, t, r, b) = _fit_text(draw, text, font_idx, x1 - x0, y1 - y0)
    x = x0 + (x1 - x0 - (r - l)) / 2 - l
    y = y0 + (y1 - y0 - (b - t)) / 2 - t
    if stroke is not None:
        draw.text(
            (x, y),
            text,
            font=f,
            fill=colour,
            stroke_width=max(1, f.size // 18),
            stroke_fill=stroke,
        )
    else:
        draw.text((x, y), text, font=f, fill=colour)


def _pattern(img: Image.Image, box, rng: random.Random, colour) -> None:
    draw = ImageDraw.Draw(img)
    x0, y0, x1, y1 = (int(v) for v in box)
    kind = rng.choice(("dots", "diag", "checker", "waves", "hlines"))
    step = rng.randint(8, 22)
    if kind == "dots":
        rad = step * rng.uniform(0.15, 0.35)
        for y in range(y0, y1, step):
            for x in range(x0 + (y // step % 2) * step // 2, x1, step):
                draw.ellipse((x - rad, y - rad, x + rad, y + rad), fill=colour)
    elif kind == "diag":
        for k in range(x0 - (y1 - y0), x1, step):
            draw.line((k, y1, k + (y1 - y0), y0), fill=colour, width=max(1, step // 4))
    elif kind == "checker":
        for y in range(y0, y1, step):
            for x in range(x0, x1, step):
                if ((x - x0) // step + (y - y0) // step) % 2 == 0:
                    draw.rectangle(
                        (x, y, min(x + step - 1, x1), min(y + step - 1, y1)),
                        fill=colour,
                    )
    elif kind == "waves":
        amp = step * 0.4
        for y in range(y0, y1, step):
            pts = [
                (x, y + amp * math.sin(x / step * 1.7)) for x in range(x0, x1 + 1, 4)
            ]
            draw.line(pts, fill=colour, width=max(1, step // 5))
    else:
        for y in range(y0, y1, step):
            draw.rectangle((x0, y, x1, y + step // 3), fill=colour)


_EAN_L = (
    "0001101",
    "0011001",
    "0010011",
    "0111101",
    "0100011",
    "0110001",
    "0101111",
    "0111011",
    "0110111",
    "0001011",
)
_EAN_G = (
    "0100111",
    "0110011",
    "0011011",
    "0100001",
    "0011101",
    "0111001",
    "0000101",
    "0010001",
    "0001001",
    "0010111",
)
_EAN_PARITY = (
    "LLLLLL",
    "LLGLGG",
    "LLGGLG",
    "LLGGGL",
    "LGLLGG",
    "LGGLLG",
    "LGGGLL",
    "LGLGLG",
    "LGLGGL",
    "LGGLGL",
)


def ean13_image(
    code: str, *, module: int = 3, height: int = 80, text: bool = True
) -> Image.Image:
    """A real, scannable EAN-13 barcode drawn with Pillow (``code`` is 13 digits)."""
    if len(code) != 13 or not code.isdigit():
        raise ValueError("an EAN-13 needs 13 digits")
    bits = "101"
    parity = _EAN_PARITY[int(code[0])]
    for p, d in zip(parity, code[1:7]):
        bits += (_EAN_L if p == "L" else _EAN_G)[int(d)]
    bits += "01010"
    for d in code[7:]:
        bits += "".join("1" if b == "0" else "0" for b in _EAN_L[int(d)])
    bits += "101"
    quiet = 11 * module
    text_h = 16 if text else 0
    img = Image.new("L", (len(bits) * module + 2 * quiet, height + text_h + 8), 255)
    draw = ImageDraw.Draw(img)
    for i, b in enumerate(bits):
        if b == "1":
            x = quiet + i * module
            draw.rectangle((x, 4, x + module - 1, 4 + height), fill=0)
    if text:
        draw.text(
            (quiet, height + 6),
            f"{code[0]} {code[1:7]} {code[7:]}",
            font=_font(0, 13),
            fill=0,
        )
    return img.convert("RGB")


_GOODS = (
    ("sports shoes", "6403.99"),
    ("handbags", "4202.21"),
    ("wrist watches", "9102.11"),
    ("perfume", "3303.00"),
    ("t-shirts", "6109.10"),
    ("mobile phone cases", "3926.90"),
    ("sunglasses", "9004.10"),
    ("headphones", "8518.30"),
    ("cosmetics", "3304.99"),
    ("toys", "9503.00"),
    ("jackets", "6201.40"),
    ("wallets", "4202.31"),
    ("phone chargers", "8504.40"),
    ("caps", "6505.00"),
    ("belts", "4203.30"),
)
_CLAIMS = (
    "premium",
    "original",
    "classic",
    "sport",
    "pro",
    "limited edition",
    "new",
    "deluxe",
)


def _draw_logo(rng: random.Random, name: str, size: tuple[int, int]) -> Image.Image:
    w, h = size
    colours = [_rand_colour(rng) for _ in range(rng.randint(2, 4))]
    bg_kind = rng.choice(("white", "light", "gradient", "dark"))
    if bg_kind == "white":
        img = Image.new("RGB", size, (255, 255, 255))
    elif bg_kind == "light":
        img = Image.new("RGB", size, _rand_colour(rng, dark=False))
    elif bg_kind == "dark":
        img = Image.new("RGB", size, _rand_colour(rng, dark=True))
    else:
        img = _gradient(size, _rand_colour(rng), _rand_colour(rng), rng)
    draw = ImageDraw.Draw(img)
    font_idx = rng.randrange(len(_FONT_FILES))
    text = name.upper() if rng.random() < 0.5 else name
    text_col = (
        (255, 255, 255) if bg_kind == "dark" else rng.choice(colours + [(20, 20, 20)])
    )
    stroke = rng.choice([None, None, (0, 0, 0), (255, 255, 255)])
    m = int(0.06 * min(w, h))
    layout = rng.choice(("top", "left", "over", "band"))
    if layout == "top":
        _draw_emblem(draw, (m, m, w - m, int(h * 0.62)), rng, colours)
        _draw_text(
            draw,
            text,
            (m, int(h * 0.66), w - m, h - m),
            rng,
            text_col,
            font_idx,
            stroke=stroke,
        )
    elif layout == "left":
        _draw_emblem(draw, (m, m, int(w * 0.42), h - m), rng, colours)
        _draw_text(
            draw,
            text,
            (int(w * 0.45), int(h * 0.3), w - m, int(h * 0.7)),
            rng,
            text_col,
            font_idx,
            stroke=stroke,
        )
    elif layout == "over":
        _draw_emblem(draw, (m, m, w - m, h - m), rng, colours)
        _draw_text(
            draw,
            text,
            (m, int(h * 0.35), w - m, int(h * 0.65)),
            rng,
            text_col,
            font_idx,
            stroke=stroke or (255, 255, 255),
        )
    else:
        _pattern(img, (0, 0, w, int(h * 0.3)), rng, rng.choice(colours))
        _draw_emblem(
            draw,
            (int(w * 0.3), int(h * 0.05), int(w * 0.7), int(h * 0.5)),
            rng,
            colours,
        )
        draw.rectangle((0, int(h * 0.55), w, int(h * 0.9)), fill=rng.choice(colours))
        _draw_text(
            draw,
            text,
            (m, int(h * 0.57), w - m, int(h * 0.88)),
            rng,
            (255, 255, 255),
            font_idx,
            stroke=(0, 0, 0),
        )
    return img


def _draw_packaging(
    rng: random.Random, name: str, logo: Image.Image, gtin: str, size: tuple[int, int]
) -> Image.Image:
    """A box face: logo, name, product line, a pattern band and a real EAN-13, in one of
    several layouts (brands do not share one template, or every box would look alike)."""
    w, h = size
    c1, c2 = _rand_colour(rng), _rand_colour(rng)
    img = (
        _gradient(size, c1, c2, rng)
        if rng.random() < 0.5
        else Image.new("RGB", size, c1)
    )
    draw = ImageDraw.Draw(img)
    band_kind = rng.choice(("top", "bottom", "left", "none", "top"))
    if band_kind == "top":
        band = (0, 0, w, int(h * rng.uniform(0.12, 0.25)))
    elif band_kind == "bottom":
        band = (0, int(h * rng.uniform(0.75, 0.88)), w, h)
    elif band_kind == "left":
        band = (0, 0, int(w * rng.uniform(0.1, 0.2)), h)
    else:
        band = None
    if band is not None:
        if rng.random() < 0.5:
            draw.rectangle(band, fill=_rand_colour(rng))
        _pattern(img, band, rng, _rand_colour(rng))
    goods, _ = rng.choice(_GOODS)
    col = (255, 255, 255) if sum(c1) < 380 else (15, 15, 15)
    fi = rng.randrange(len(_FONT_FILES))
    fi2 = rng.randrange(len(_FONT_FILES))
    lines = [
        name.upper() if rng.random() < 0.7 else name,
        f"{rng.choice(_CLAIMS)} {goods}".upper(),
    ]
    if rng.random() < 0.5:
        lines.append(
            f"{rng.randint(1, 12) * 10} {rng.choice(('ml', 'g', 'pcs', 'pairs', 'oz', 'units'))}"
        )
    layout = rng.choice(("logo-left", "logo-right", "logo-top", "logo-centre"))
    inner = (int(w * 0.05), int(h * 0.06), int(w * 0.95), int(h * 0.94))
    if band_kind == "top":
        inner = (inner[0], band[3] + 6, inner[2], inner[3])
    elif band_kind == "bottom":
        inner = (inner[0], inner[1], inner[2], band[1] - 6)
    elif band_kind == "left":
        inner = (band[2] + 8, inner[1], inner[2], inner[3])
    x0, y0, x1, y1 = inner
    iw, ih = x1 - x0, y1 - y0
    if layout in ("logo-left", "logo-right"):
        lw = int(iw * rng.uniform(0.35, 0.5))
        lh = min(int(lw * logo.height / logo.width), int(ih * 0.7))
        lw = int(lh * logo.width / logo.height)
        lx = x0 if layout == "logo-left" else x1 - lw
        ly = y0 + int((ih * 0.7 - lh) * rng.random())
        tx0, tx1 = (lx + lw + 10, x1) if layout == "logo-left" else (x0, lx - 10)
        text_box = (tx0, y0, tx1, y0 + int(ih * 0.7))
    elif layout == "logo-top":
        lh = int(ih * rng.uniform(0.4, 0.55))
        lw = min(int(lh * logo.width / logo.height), iw)
        lh = int(lw * logo.height / logo.width)
        lx, ly = x0 + (iw - lw) // 2, y0
        text_box = (x0, ly + lh + 6, x1, y1 - int(ih * 0.2))
    else:
        lh = int(ih * rng.uniform(0.5, 0.65))
        lw = min(int(lh * logo.width / logo.height), int(iw * 0.6))
        lh = int(lw * logo.height / logo.width)
        lx, ly = x0 + int((iw - lw) * rng.uniform(0.3, 0.7)), y0 + int(ih * 0.25)
        text_box = (x0, y0, x1, ly - 4)
    if rng.random() < 0.3:  # a frame around the logo
        pad = 6
        draw.rectangle(
            (lx - pad, ly - pad, lx + lw + pad, ly + lh + pad),
            outline=_rand_colour(rng),
            width=rng.randint(2, 5),
        )
    img.paste(logo.resize((max(1, lw), max(1, lh)), Image.Resampling.LANCZOS), (lx, ly))
    bx0, by0, bx1, by1 = text_box
    if bx1 - bx0 > 30 and by1 - by0 > 20:
        n = len(lines) if layout != "logo-centre" else 1
        weights = [0.45, 0.3, 0.25][:n]
        total = sum(weights)
        y = by0
        for k in range(n):
            hh = (by1 - by0) * weights[k] / total
            _draw_text(
                draw,
                lines[k],
                (bx0, y, bx1, y + hh * 0.9),
                rng,
                col,
                fi if k != 1 else fi2,
            )
            y += hh
    bc = ean13_image(gtin, module=2, height=50)
    bw = int(w * rng.uniform(0.25, 0.38))
    bc = bc.resize((bw, int(bc.height * bw / bc.width)), Image.Resampling.NEAREST)
    corners = [(w - bw - 8, h - bc.height - 8), (8, h - bc.height - 8), (w - bw - 8, 8)]
    bxy = rng.choice(corners)
    if layout == "logo-centre" or rng.random() < 0.5:
        bxy = corners[0] if layout != "logo-right" else corners[1]
    img.paste(bc, bxy)
    if rng.random() < 0.4:  # a side claim or seal
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
        r = min(w, h) * rng.uniform(0.06, 0.1)
        draw.polygon(
            _star(cx, cy, r, r * 0.8, rng.randint(10, 16), rng.uniform(0, 1)),
            fill=_rand_colour(rng),
        )
        _draw_text(
            draw,
            rng.choice(("NEW", "100%", "TOP", "BIO", "PRO")),
            (cx - r * 0.7, cy - r * 0.4, cx + r * 0.7, cy + r * 0.4),
            rng,
            (255, 255, 255),
            fi,
        )
    return img


def draw_brand_images(
    seed: int, index: int, name: str, gtin: str, *, image_size: int = 400
) -> tuple[Image.Image, Image.Image]:
    """The logo and the packaging face of brand ``index`` (deterministic from seed, index)."""
    rng = random.Random(f"brand-art:{seed}:{index}")
    aspect = rng.choice((1.0, 1.0, 1.25, 1.5, 0.8))
    lw = image_size if aspect >= 1 else int(image_size * aspect)
    lh = int(image_size / aspect) if aspect >= 1 else image_size
    logo = _draw_logo(rng, name, (lw, lh))
    pw = image_size
    ph = int(image_size * rng.uniform(0.62, 0.8))
    pack = _draw_packaging(rng, name, logo, gtin, (pw, ph))
    return logo, pack


def _encode(img: Image.Image, fmt: str = "PNG", quality: int = 92) -> bytes:
    buf = io.BytesIO()
    if fmt == "PNG":
        img.save(buf, "PNG", compress_level=1)
    else:
        img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


# --------------------------------------------------------------------------------------------
# photos


def _perspective_coeffs(dst: np.ndarray, src: np.ndarray) -> tuple[float, ...]:
    """Pillow PERSPECTIVE coefficients that map output points ``dst`` to input points ``src``."""
    a = []
    b = []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b.extend([u, v])
    sol = np.linalg.solve(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return tuple(float(v) for v in sol)


def _clutter(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    w, h = size
    img = _gradient(size, _rand_colour(rng), _rand_colour(rng), rng)
    draw = ImageDraw.Draw(img)
    s = min(w, h)
    for _ in range(rng.randint(15, 35)):
        col = _rand_colour(rng)
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        r = s * rng.uniform(0.02, 0.18)
        kind = rng.random()
        if kind < 0.3:
            draw.rectangle(
                (x - r, y - r * rng.uniform(0.3, 1.5), x + r, y + r), fill=col
            )
        elif kind < 0.55:
            draw.ellipse((x - r, y - r * rng.uniform(0.3, 1), x + r, y + r), fill=col)
        elif kind < 0.75:
            draw.polygon(
                _polygon(x, y, r, rng.randint(3, 7), rng.uniform(0, 6.3)), fill=col
            )
        elif kind < 0.9:
            draw.line(
                (x, y, x + rng.uniform(-3, 3) * r, y + rng.uniform(-3, 3) * r),
                fill=col,
                width=rng.randint(2, 8),
            )
        else:
            word = make_brand_name(rng).lower() + rng.choice(
                ("", " " + make_brand_name(rng).lower())
            )
            draw.text(
                (x, y),
                word,
                font=_font(
                    rng.randrange(len(_FONT_FILES)), int(s * rng.uniform(0.03, 0.07))
                ),
                fill=col,
            )
    if rng.random() < 0.5:
        _pattern(img, (0, 0, w, h // rng.randint(3, 6)), rng, _rand_colour(rng))
    return img


def make_photo(
    ref: Image.Image,
    rng: random.Random,
    *,
    size: tuple[int, int] = (800, 600),
    hard: bool = True,
    mirror_prob: float = 0.15,
) -> tuple[bytes, tuple[tuple[float, float], ...], bool]:
    """A JPEG photo of ``ref`` in a cluttered scene, with where its corners ended up.

    ``hard`` photos rotate up to 30 degrees, add perspective, blur, recolouring, occlusion,
    partial crops and sometimes a mirror image; otherwise the photo is a clean, nearly frontal
    shot. Photos larger than about 1,000 pixels are composed at that size and then enlarged,
    which keeps generation fast (and is close to what a phone's JPEG pipeline does to detail).
    """
    W, H = size
    long_side = max(W, H)
    f = min(1.0, 1000 / long_side)
    w, h = max(1, round(W * f)), max(1, round(H * f))
    scene = _clutter(rng, (w, h))
    rw, rh = ref.size
    cover = rng.uniform(0.3, 0.7) if hard else rng.uniform(0.4, 0.7)
    angle = math.radians(rng.uniform(-30, 30) if hard else rng.uniform(-8, 8))
    s = math.sqrt(cover * w * h / (rw * rh))
    ca, sa = abs(math.cos(angle)), abs(math.sin(angle))
    fit = min(
        w * 1.02 / (s * (rw * ca + rh * sa)), h * 1.02 / (s * (rw * sa + rh * ca)), 1.0
    )
    s *= fit
    half = np.array([[-rw, -rh], [rw, -rh], [rw, rh], [-rw, rh]], np.float64) / 2 * s
    rot = np.array(
        [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]
    )
    quad = half @ rot.T
    persp = 0.12 if hard else 0.04
    quad += np.array(
        [
            [rng.uniform(-persp, persp) * s * rw, rng.uniform(-persp, persp) * s * rh]
            for _ in range(4)
        ]
    )
    minx, miny = quad.min(0)
    maxx, maxy = quad.max(0)
    # Allow the object to leave the frame a little (a partial crop) on hard photos.
    slack = 0.12 if hard else 0.0
    bw, bh = maxx - minx, maxy - miny
    cx_lo, cx_hi = -minx - slack * bw, w - maxx + slack * bw
    cy_lo, cy_hi = -miny - slack * bh, h - maxy + slack * bh
    cx = rng.uniform(min(cx_lo, cx_hi), max(cx_lo, cx_hi)) if cx_lo <= cx_hi else w / 2
    cy = rng.uniform(min(cy_lo, cy_hi), max(cy_lo, cy_hi)) if cy_lo <= cy_hi else h / 2
    quad += np.array([cx, cy])
    src = np.array([[0, 0], [rw, 0], [rw, rh], [0, rh]], np.float64)
    coeffs = _perspective_coeffs(quad, src)
    obj = ref.convert("RGB")
    if hard and rng.random() < 0.3:
        # Recoloured print: rotate the hue.
        hsv = np.asarray(obj.convert("HSV")).copy()
        hsv[..., 0] = (hsv[..., 0].astype(np.int16) + rng.randint(30, 220)) % 256
        obj = Image.fromarray(hsv, "HSV").convert("RGB")
    obj.putalpha(255)
    warped = obj.transform(
        (w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR
    )
    scene.paste(warped, (0, 0), warped)
    if hard and rng.random() < 0.35:
        # Something in front of the goods: a hand, a strap, another box.
        draw = ImageDraw.Draw(scene)
        px, py = quad[rng.randrange(4)]
        r = math.sqrt(cover * w * h) * rng.uniform(0.15, 0.3)
        col = _rand_colour(rng)
        if rng.random() < 0.5:
            draw.ellipse((px - r, py - r, px + r, py + r), fill=col)
        else:
            draw.rectangle((px - r, py - r * 0.6, px + r, py + r * 0.6), fill=col)
    if hard:
        scene = ImageEnhance.Brightness(scene).enhance(rng.uniform(0.65, 1.35))
        scene = ImageEnhance.Contrast(scene).enhance(rng.uniform(0.7, 1.3))
        scene = ImageEnhance.Color(scene).enhance(rng.uniform(0.5, 1.4))
        radius = rng.uniform(0.0, 1.6)
    else:
        scene = ImageEnhance.Brightness(scene).enhance(rng.uniform(0.9, 1.1))
        radius = rng.uniform(0.0, 0.6)
    if radius > 0.3:
        # Defocus as a down-and-up resample: close to a Gaussian blur, several times cheaper.
        f_blur = 1.0 + radius
        small = scene.resize(
            (max(1, int(w / f_blur)), max(1, int(h / f_blur))),
            Image.Resampling.BILINEAR,
        )
        scene = small.resize((w, h), Image.Resampling.BILINEAR)
    # Sensor noise (Pillow's Gaussian noise generator is seeded from the global state, so
    # the noise is drawn with numpy from the case's own generator instead).
    sigma = rng.uniform(1, 6 if hard else 2)
    noise = np.random.default_rng(rng.getrandbits(32)).integers(
        -128, 128, (h // 2, w // 2), dtype=np.int16
    )
    noise_img = Image.fromarray(
        (128 + noise * (sigma / 74)).clip(0, 255).astype(np.uint8), "L"
    )
    noise_img = noise_img.resize((w, h), Image.Resampling.NEAREST).convert("RGB")
    scene = ImageChops.add(scene, noise_img, 1.0, -128)
    mirrored = hard and rng.random() < mirror_prob
    if mirrored:
        scene = scene.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        quad[:, 0] = w - quad[:, 0]
    if (w, h) != (W, H):
        scene = scene.resize((W, H), Image.Resampling.BICUBIC)
        quad = quad * np.array([W / w, H / h])
    data = _encode(
        scene, "JPEG", quality=rng.randint(55, 90) if hard else rng.randint(80, 92)
    )
    return data, tuple((float(x), float(y)) for x, y in quad), mirrored


# --------------------------------------------------------------------------------------------
# brands and cases

_COUNTRIES_PROD = (
    "IT",
    "FR",
    "DE",
    "US",
    "JP",
    "ES",
    "GB",
    "CH",
    "PT",
    "KR",
    "SE",
    "NL",
    "DK",
    "AT",
    "BE",
)
_COUNTRIES_ODD = ("KP", "SY", "YE", "MM", "LA", "KH", "TJ", "TM", "AF", "SO")
_GS1_COUNTRY = {
    "IT": "80",
    "FR": "30",
    "DE": "40",
    "US": "00",
    "JP": "45",
    "ES": "84",
    "GB": "50",
    "CH": "76",
    "PT": "56",
    "KR": "88",
    "SE": "73",
    "NL": "87",
    "DK": "57",
    "AT": "90",
    "BE": "54",
}
_SUFFIXES = (
    ("Manufacturing Co., Ltd.", "Manufactoring Company Limited"),
    ("Trading GmbH", "Tradeing GmbH"),
    ("Industries S.A.", "Industry SA"),
    ("Pte. Ltd.", "Pte Limited"),
    ("Textile Co.", "Textiles Company"),
    ("Group Limited", "Grp Ltd"),
    ("Leather Works S.p.A.", "Leatherworks SpA"),
    ("Products Inc.", "Product Incorporated"),
)


def _company(rng: random.Random) -> tuple[str, str]:
    """A company name and its near-copy as counterfeiters register them."""
    word = make_brand_name(rng)
    full, variant = rng.choice(_SUFFIXES)
    near = lookalike(word, rng, how="typo") if rng.random() < 0.6 else word
    return f"{word} {full}", f"{near} {variant}"


@dataclass
class _Brand:
    reference: Reference
    logo: Image.Image
    packaging: Image.Image
    near_copy_suppliers: list[str]
    goods: str


def _make_brand(seed: int, index: int, name: str, *, image_size: int) -> _Brand:
    rng = random.Random(f"brand:{seed}:{index}")
    country = rng.choice(_COUNTRIES_PROD)
    prefix = _GS1_COUNTRY[country] + f"{rng.randrange(10**5, 10**6)}"[:5]
    prefix = prefix[:7]
    gtins = []
    for _ in range(rng.randint(1, 3)):
        body = prefix + f"{rng.randrange(10**5):05d}"
        gtins.append(body + ean.calc_check_digit(body))
    logo, pack = draw_brand_images(seed, index, name, gtins[0], image_size=image_size)
    suppliers = []
    near = []
    for _ in range(rng.randint(1, 4)):
        real, fake = _company(rng)
        suppliers.append(Supplier(real, rng.choice(_COUNTRIES_PROD)))
        near.append(fake)
    lo = round(rng.uniform(10, 300), 2)
    goods, hs = rng.choice(_GOODS)
    ref = Reference(
        brand_id=f"B{index:05d}",
        name=name,
        aliases=(name.upper(),) if rng.random() < 0.2 else (),
        images=(_encode(logo, "PNG"), _encode(pack, "JPEG", 92)),
        authorized_suppliers=tuple(suppliers),
        price_range=PriceRange(lo, round(lo * rng.uniform(1.5, 3), 2), "EUR"),
        hs_codes=(hs,),
        gtins=tuple(gtins),
        gs1_prefixes=(prefix,),
        production_countries=tuple(sorted({country, rng.choice(_COUNTRIES_PROD)})),
        protected=True,
    )
    return _Brand(ref, logo, pack, near, goods)


def iter_reference_images(
    n_brands: int, *, seed: int = 0, image_size: int = 400, start: int = 0
) -> Iterator[tuple[str, int, bytes]]:
    """(brand_id, image index, encoded image) for many brands, without name de-duplication.

    Cheap enough for index benchmarks of tens of thousands of brands; the images are drawn
    exactly as in :func:`make_case_set` but names are not checked for similarity.
    """
    for i in range(start, start + n_brands):
        rng = random.Random(f"bulk-name:{seed}:{i}")
        name = make_brand_name(rng)
        body = f"40{i:010d}"[-12:]
        gtin = body + ean.calc_check_digit(body)
        logo, pack = draw_brand_images(seed, i, name, gtin, image_size=image_size)
        yield f"B{i:05d}", 0, _encode(logo, "PNG")
        yield f"B{i:05d}", 1, _encode(pack, "JPEG", 92)


def make_case_set(
    n_brands: int,
    *,
    seed: int = 0,
    cases_per_kind: int = 20,
    image_size: int = 400,
    photo_size: tuple[int, int] = (800, 600),
    photos_per_case: int = 1,
    kinds: tuple[str, ...] = KINDS,
) -> CaseSet:
    """Generate ``n_brands`` registered brands and ``cases_per_kind`` cases of each kind.

    Deterministic from ``seed``. ``image_size`` is the long side of the reference images,
    ``photo_size`` the (width, height) of the photos (encoded as JPEG bytes in the queries),
    ``photos_per_case`` how many photos a case with photos carries (the first shows the
    packaging or the logo at random, the next the other reference image).
    """
    rng = random.Random(f"cases:{seed}")
    names = _unique_names(rng, n_brands + cases_per_kind, [])
    brands = [
        _make_brand(seed, i, names[i], image_size=image_size) for i in range(n_brands)
    ]
    unreg_names = names[n_brands:]
    refs = [b.reference for b in brands]
    cases: list[LabelledCase] = []

    def photos_of(
        b: _Brand, hard: bool, crng: random.Random
    ) -> tuple[tuple[bytes, ...], tuple[Placement, ...]]:
        first = crng.randrange(2) if hard else 1
        photos, places = [], []
        for p in range(photos_per_case):
            ri = (first + p) % 2
            img = b.packaging if ri == 1 else b.logo
            data, quad, mir = make_photo(img, crng, size=photo_size, hard=hard)
            photos.append(data)
            places.append(Placement(p, ri, quad, mir))
        return tuple(photos), tuple(places)

    for kind in kinds:
        for k in range(cases_per_kind):
            crng = random.Random(f"case:{seed}:{kind}:{k}")
            if kind == "unregistered":
                idx = n_brands + k
                b = _make_brand(seed, idx, unreg_names[k], image_size=image_size)
                photos, places = photos_of(b, True, crng)
                supplier = _company(crng)[0]
                q = Query(
                    description=f"{b.goods}, brand {b.reference.name}",
                    declared_brand=b.reference.name,
                    supplier=supplier,
                    origin_country=crng.choice(_COUNTRIES_PROD + _COUNTRIES_ODD),
                    unit_price=round(crng.uniform(5, 200), 2),
                    currency="EUR",
                    quantity=crng.randint(10, 5000),
                    hs_code=b.reference.hs_codes[0],
                    photos=photos,
                )
                cases.append(LabelledCase(kind, q, None, places))
                continue
            b = brands[crng.randrange(n_brands)]
            ref = b.reference
            if kind == "counterfeit":
                name = ref.name if crng.random() < 0.4 else lookalike(ref.name, crng)
                photos, places = photos_of(b, True, crng)
                supplier = (
                    crng.choice(b.near_copy_suppliers)
                    if crng.random() < 0.5
                    else _company(crng)[0]
                )
                assert ref.price_range is not None
                q = Query(
                    description=f"{crng.choice(_CLAIMS)} {b.goods} {name} {crng.randint(2, 40)}0 units",
                    declared_brand=name if crng.random() < 0.7 else None,
                    supplier=supplier,
                    origin_country=crng.choice(_COUNTRIES_ODD),
                    unit_price=round(ref.price_range.min * crng.uniform(0.05, 0.35), 2),
                    currency="EUR",
                    quantity=crng.randint(50, 5000),
                    hs_code=ref.hs_codes[0],
                    photos=photos,
                )
                cases.append(LabelledCase(kind, q, ref.brand_id, places))
            elif kind == "photo_only":
                photos, places = photos_of(b, True, crng)
                cases.append(
                    LabelledCase(kind, Query(photos=photos), ref.brand_id, places)
                )
            elif kind == "lookalike_name":
                cases.append(
                    LabelledCase(
                        kind,
                        Query(declared_brand=lookalike(ref.name, crng)),
                        ref.brand_id,
                    )
                )
            elif kind == "genuine":
                photos, places = photos_of(b, False, crng)
                assert ref.price_range is not None
                sup = crng.choice(ref.authorized_suppliers)
                q = Query(
                    description=f"{b.goods} {ref.name}",
                    declared_brand=ref.name,
                    supplier=sup.name,
                    origin_country=crng.choice(ref.production_countries),
                    unit_price=round(
                        crng.uniform(ref.price_range.min, ref.price_range.max), 2
                    ),
                    currency=ref.price_range.currency,
                    quantity=crng.randint(10, 500),
                    hs_code=ref.hs_codes[0],
                    gtins=(ref.gtins[0],) if crng.random() < 0.5 else (),
                    photos=photos,
                )
                cases.append(LabelledCase(kind, q, ref.brand_id, places))
            else:
                raise ValueError(f"unknown kind {kind!r}")
    return CaseSet(
        references=refs, cases=cases, seed=seed, unregistered_names=list(unreg_names)
    )
