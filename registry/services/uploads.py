"""Checks on uploaded images, and the derived thumbnails that are the only form served.

Only JPEG, PNG and WebP are accepted, and Pillow is told so (``formats=``) so that no other
decoder ever parses client bytes. The dimensions are read from the file's header and checked
before Pillow is even given the file; byte and pixel limits, and Pillow's decompression-bomb
limit, are errors here. The whole image is decoded once, so that a truncated file is rejected
at upload time rather than found broken later.

What a decode costs is bounded, not only the file's size: an ordinary (sequential) JPEG is
decoded at a reduced scale (the JPEG decoder's DCT scaling still reads every byte of the
image data), so its cost follows its bytes; PNG, WebP and progressive JPEG must be decoded at
full size, so they get a tighter pixel limit. A progressive JPEG's scans are counted, because
each scan is a pass over the whole image that costs almost nothing in the file.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass

from PIL import Image

from registry.services.errors import ValidationError

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# A JPEG that carries further images (a phone's depth map, a stereo pair) is reported by
# Pillow as MPO; it is a JPEG, and only its first image is ever decoded.
_SAME_FORMAT = {"MPO": "JPEG"}
_MARKUP_PREFIXES = (b"<", b"\xef\xbb\xbf<", b"\xff\xfe<\x00", b"\xfe\xff\x00<")

#: PNG, WebP and progressive JPEG are decoded at full size (4 bytes a pixel, plus the decoder's
#: own buffers): above this many pixels one costs more than a web worker may spend on a file.
FULL_DECODE_MAX_PIXELS = 16_000_000
#: A progressive JPEG from a camera or an editor has about ten scans.
MAX_JPEG_SCANS = 64
# Huffman-coded DCT frames: sequential (SOF0, SOF1) and progressive (SOF2). Arithmetic,
# lossless and hierarchical JPEG are made by no camera or editor in use.
_JPEG_SEQUENTIAL = {0xC0, 0xC1}
_JPEG_PROGRESSIVE = {0xC2}
# Each 8x8 block of a DCT JPEG costs at least one bit of Huffman-coded data: a file with fewer
# bytes than its pixels / 512 cannot hold the image its header declares.
_JPEG_MIN_PIXELS_PER_BYTE = 512

# Thumbnails are made from a copy reduced to this size while the upload is checked, so that
# an accepted image is decoded once, not twice.
_SOURCE_SIDE = 1024
_MAX_SOURCES = 12  # a check's photos (ten at most) between their check and their thumbnails
_ORIENTATIONS = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                 4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                 8: Image.Transpose.ROTATE_90}


@dataclass(frozen=True)
class ImageInfo:
    format: str
    content_type: str
    width: int
    height: int
    byte_size: int


def inspect_image(data: bytes, *, max_bytes: int, max_pixels: int, name: str = "the file") -> ImageInfo:
    """Validate an uploaded image; raise ``ValidationError`` saying why it cannot be used."""
    if not data:
        raise ValidationError({"image": f"{name} is empty"})
    if len(data) > max_bytes:
        # Pages read an upload only one byte past the limit (``web.common.image_bytes``), so
        # the size is not known here, only that it is over.
        raise ValidationError({"image": f"{name} is larger than the limit of {max_bytes / 1e6:.0f} MB"})
    head = data[:512].lstrip()
    if head.startswith(_MARKUP_PREFIXES) or b"<svg" in head.lower():
        raise ValidationError({"image": f"{name} is SVG, HTML or another markup file, not a "
                                        "photo; upload a JPEG, PNG or WebP image"})
    declared = _declared(data)
    if declared is not None:
        # Refused on the header alone: Pillow never sees a file whose size is already too big.
        _check_size(name, *declared, data=data, max_pixels=max_pixels)
    try:
        with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as image:
            fmt = _SAME_FORMAT.get(image.format or "", image.format or "")
            if fmt not in ALLOWED_FORMATS:
                raise ValidationError({"image": f"{name} is not a JPEG, PNG or WebP image"})
            width, height = image.size
            if fmt == "JPEG" and declared is None:
                # Pillow found a frame header that the reading above did not: refuse rather
                # than skip the JPEG checks.
                raise ValidationError({"image": f"{name} is a damaged JPEG (no readable frame header)"})
            kind = declared[0] if fmt == "JPEG" else fmt
            _check_size(name, kind, width, height, data=data, max_pixels=max_pixels)
            source = _decode(image, _SOURCE_SIDE)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        raise ValidationError({"image": f"{name} is too large to decode safely "
                                        "(decompression bomb)"}) from None
    except Image.UnidentifiedImageError:
        raise ValidationError({"image": f"{name} is not a JPEG, PNG or WebP image"}) from None
    except Exception as exc:  # noqa: BLE001 - Pillow's decoders raise many types on bad input
        raise ValidationError({"image": f"{name} is damaged or truncated "
                                        f"({str(exc)[:200] or type(exc).__name__})"}) from None
    _keep_source(data, source)
    return ImageInfo(fmt, ALLOWED_FORMATS[fmt], width, height, len(data))


def make_thumbnail(data: bytes, *, size: int) -> bytes:
    """A re-encoded PNG copy at most ``size`` pixels wide or high, with no metadata.

    Call only on bytes that passed ``inspect_image``. Re-encoding drops EXIF (GPS included),
    ICC profiles, text chunks and anything appended to the file, so what the browser gets is
    a plain image.
    """
    source = _resized(data, size)
    out = io.BytesIO()
    source.save(out, format="PNG", optimize=True)
    return out.getvalue()


def make_display_copy(data: bytes, *, size: int) -> tuple[bytes, str]:
    """A re-encoded copy to look at closely, at most ``size`` pixels a side, with no metadata
    (as ``make_thumbnail``); returns the bytes and their content type.

    A photo becomes a JPEG (quality 90): as a PNG, a 12-megapixel photo took over a second to
    encode and five times the bytes. An image with transparency (a logo) stays a PNG."""
    source = _resized(data, size)
    out = io.BytesIO()
    if "A" in source.getbands() or source.mode == "P":
        source.save(out, format="PNG")
        return out.getvalue(), "image/png"
    source.convert("RGB").save(out, format="JPEG", quality=90)
    return out.getvalue(), "image/jpeg"


def _resized(data: bytes, size: int) -> Image.Image:
    """The upload decoded (or its kept source) and shrunk to fit ``size``, its metadata dropped."""
    source = _take_source(data, size)
    if source is None:
        with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as image:
            source, _ = _decode(image, max(_SOURCE_SIDE, 2 * size))
    source.thumbnail((size, size), Image.Resampling.LANCZOS)
    source.info = {}  # nothing of the upload's metadata is written out
    return source


# -- sizes read from the header ------------------------------------------------------------

def _declared(data: bytes) -> tuple[str, int, int] | None:
    """(kind, width, height) from the header of a PNG, WebP or JPEG, without decoding.

    ``kind`` is the format, or for a JPEG its frame type (``JPEG-SOF<n>``). None when the
    header is not one of these or cannot be read: Pillow then decides, and is checked after.
    """
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR" and len(data) >= 24:
        return "PNG", int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        chunk = data[12:16]
        if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
            return ("WEBP", int.from_bytes(data[26:28], "little") & 0x3FFF,
                    int.from_bytes(data[28:30], "little") & 0x3FFF)
        if chunk == b"VP8X" and len(data) >= 30:
            return ("WEBP", int.from_bytes(data[24:27], "little") + 1,
                    int.from_bytes(data[27:30], "little") + 1)
        if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
            bits = int.from_bytes(data[21:25], "little")
            return "WEBP", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        return None
    if data.startswith(b"\xff\xd8"):
        return _jpeg_frame(data)
    return None


def _jpeg_frame(data: bytes) -> tuple[str, int, int] | None:
    """The first frame header (SOF) of a JPEG: its type and the size it declares."""
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:  # junk between segments, which Pillow skips too
            pos += 1
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # image data before any frame header
            return None
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if pos + 9 > end:
                return None
            return (f"JPEG-SOF{marker - 0xC0}", int.from_bytes(data[pos + 7:pos + 9], "big"),
                    int.from_bytes(data[pos + 5:pos + 7], "big"))
        if length < 2:
            return None
        pos += 2 + length
    return None


def _check_size(name: str, kind: str, width: int, height: int, *, data: bytes, max_pixels: int) -> None:
    pixels = width * height
    if width <= 0 or height <= 0:
        raise ValidationError({"image": f"{name} declares {width}×{height} pixels: it is damaged"})
    if Image.MAX_IMAGE_PIXELS and pixels > Image.MAX_IMAGE_PIXELS:
        raise ValidationError({"image": f"{name} is {width}×{height} pixels, too large to decode "
                                        "safely (decompression bomb)"})
    if pixels > max_pixels:
        raise ValidationError({"image": f"{name} is {width}×{height} pixels; the limit is "
                                        f"{max_pixels / 1e6:.0f} megapixels"})
    if kind.startswith("JPEG-SOF"):
        marker = 0xC0 + int(kind[8:])
        if marker not in _JPEG_SEQUENTIAL | _JPEG_PROGRESSIVE:
            raise ValidationError({"image": f"{name} is an arithmetic-coded, lossless or "
                                            "hierarchical JPEG, which cameras do not make; save it "
                                            "as an ordinary JPEG or as PNG"})
        if len(data) * _JPEG_MIN_PIXELS_PER_BYTE < pixels:
            raise ValidationError({"image": f"{name} declares {width}×{height} pixels but holds "
                                            f"only {len(data):,} bytes: it is damaged or a "
                                            "decompression bomb"})
        scans = data.count(b"\xff\xda")  # a start-of-scan marker cannot occur inside image data
        if scans > MAX_JPEG_SCANS:
            raise ValidationError({"image": f"{name} is a JPEG of {scans:,} scans (a photo has "
                                            f"about ten; the limit is {MAX_JPEG_SCANS}): refused as "
                                            "a decompression bomb"})
        full_decode = marker in _JPEG_PROGRESSIVE
    else:
        full_decode = kind in ("PNG", "WEBP")
    limit = min(max_pixels, FULL_DECODE_MAX_PIXELS)
    if full_decode and pixels > limit:
        label = {"PNG": "PNG", "WEBP": "WebP"}.get(kind, "progressive JPEG")
        raise ValidationError({"image": f"{name} is {width}×{height} pixels; a {label} image may "
                                        f"have at most {limit / 1e6:.0f} megapixels (an ordinary "
                                        f"JPEG up to {max_pixels / 1e6:.0f}): save it as JPEG or "
                                        "scale it down"})


# -- decoding, once ---------------------------------------------------------------------------

def _decode(image: Image.Image, side: int) -> tuple[Image.Image, bool]:
    """Decode all of ``image``; return an upright RGB(A) copy at most ``side`` pixels a side,
    and whether it was reduced.

    A JPEG is decoded at the smallest DCT scale that keeps ``side`` pixels (every byte of its
    data is still decoded, so damage is still found); other formats are decoded in full and
    reduced straight away, so that no second full-size copy is made.
    """
    width, height = image.size
    if image.format in ("JPEG", "MPO") and max(width, height) > side:
        scale = side / max(width, height)
        image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
    image.load()
    orientation = _orientation(image)  # after load(): a PNG may keep its EXIF after the pixels
    alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    target = "RGBA" if alpha else "RGB"
    decoded: Image.Image = image
    if decoded.mode not in ("RGB", "RGBA", "L", "LA") or "transparency" in decoded.info:
        # Palette, 16-bit, CMYK and the like: converted at full size, as they cannot be averaged.
        decoded = decoded.convert(target)
    if max(decoded.size) > side:
        decoded = decoded.reduce(-(-max(decoded.size) // side))
    if decoded.mode != target:
        decoded = decoded.convert(target)
    elif decoded is image:
        decoded = decoded.copy()  # detached from the file, which is closed when this returns
    if orientation in _ORIENTATIONS:
        decoded = decoded.transpose(_ORIENTATIONS[orientation])
    return decoded, max(decoded.size) < max(width, height)


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - a damaged EXIF block is no reason to refuse a photo
        return 1


_sources: OrderedDict[str, tuple[Image.Image, bool]] = OrderedDict()
_sources_lock = threading.Lock()


def _keep_source(data: bytes, source: tuple[Image.Image, bool]) -> None:
    key = hashlib.sha256(data).hexdigest()
    with _sources_lock:
        _sources[key] = source
        _sources.move_to_end(key)
        while len(_sources) > _MAX_SOURCES:
            _sources.popitem(last=False)


def _take_source(data: bytes, size: int) -> Image.Image | None:
    key = hashlib.sha256(data).hexdigest()
    with _sources_lock:
        image, reduced = _sources.pop(key, (None, False))
    # A reduced copy smaller than twice the thumbnail would make a blurred thumbnail.
    if image is not None and reduced and max(image.size) < 2 * size:
        return None
    return image
