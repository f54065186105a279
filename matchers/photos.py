"""Safe decoding of photos of goods and of reference images.

Photos come from officers' phones and from uploads, so every one is treated as hostile until
decoded: only JPEG, PNG and WebP are opened (Pillow's ``formats=`` allow-list, never SVG), the
byte size and the pixel count are checked from the header *before* any pixel is decoded, and
Pillow's decompression-bomb warning is an error here, never a warning that lets the image in.

Big JPEGs are decoded with Pillow's ``draft()`` (the JPEG decoder's DCT scaling), which makes a
4000x3000 photo cost about a third of a full decode; matching never needs more than about a
thousand pixels a side.  The size of the original (after EXIF orientation) is kept, so that
anything found in the decoded photo can be mapped back to the photo as the officer took it.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ScreeningError
from .types import ImageSource

__all__ = ["ALLOWED_FORMATS", "DecodedPhoto", "decode", "decode_all"]

#: The only container formats that are ever opened.
ALLOWED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP")

# EXIF orientations 5..8 swap width and height.
_TRANSPOSING_ORIENTATIONS = frozenset({5, 6, 7, 8})


@dataclass(frozen=True, eq=False)
class DecodedPhoto:
    """A decoded, EXIF-oriented RGB image, possibly reduced for speed.

    ``image`` is what the matchers look at; ``original_size`` is (width, height) of the full
    image as the officer sees it (after EXIF orientation, before any reduction), so that
    :meth:`to_original` can map coordinates found in ``image`` back onto the original.
    """

    image: Image.Image
    original_size: tuple[int, int]
    #: The container format that was decoded ("JPEG", "PNG", "WEBP", or "PIL" for an image
    #: object passed in directly).
    format: str

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the decoded image."""
        return self.image.size

    @property
    def scale(self) -> tuple[float, float]:
        """Factors (sx, sy) that turn decoded-image coordinates into original coordinates."""
        w, h = self.image.size
        ow, oh = self.original_size
        return (ow / w, oh / h)

    def to_original(
        self, points: Iterable[tuple[float, float]]
    ) -> tuple[tuple[float, float], ...]:
        """Map (x, y) points of the decoded image onto the original photo."""
        sx, sy = self.scale
        return tuple((float(x) * sx, float(y) * sy) for x, y in points)


def _sniff(head: bytes) -> str | None:
    """A readable guess at what a non-image file is, for the officer's message."""
    stripped = head.lstrip()[:256].lower()
    if not stripped:
        return "empty file"
    if b"<svg" in stripped:
        return "SVG drawings are not accepted"
    if stripped.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        stripped.startswith(b"<") and b"html" in stripped
    ):
        return "not an image (HTML file?)"
    if stripped.startswith((b"<?xml", b"<")):
        return "not an image (XML/markup file?)"
    if head.startswith(b"%PDF"):
        return "not an image (PDF document?)"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF is not accepted (allowed: JPEG, PNG, WebP)"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF is not accepted (allowed: JPEG, PNG, WebP)"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        return "HEIC/AVIF is not accepted (allowed: JPEG, PNG, WebP)"
    if head.startswith(b"BM"):
        return "BMP is not accepted (allowed: JPEG, PNG, WebP)"
    return None


def _read_source(source: ImageSource, max_bytes: int) -> bytes:
    """The encoded bytes of a path or bytes source, refusing oversize files before reading."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if len(data) > max_bytes:
            raise ScreeningError(
                f"file too large ({len(data):,} bytes; the limit is {max_bytes:,})"
            )
        return data
    if isinstance(source, (str, os.PathLike)):
        try:
            size = os.stat(source).st_size
        except OSError as exc:
            raise ScreeningError(
                f"cannot read the file ({exc.strerror or exc})"
            ) from exc
        if size > max_bytes:
            raise ScreeningError(
                f"file too large ({size:,} bytes; the limit is {max_bytes:,})"
            )
        try:
            with open(source, "rb") as fh:
                # Read one byte more than allowed: the file may grow between stat and read.
                data = fh.read(max_bytes + 1)
        except OSError as exc:
            raise ScreeningError(
                f"cannot read the file ({exc.strerror or exc})"
            ) from exc
        if len(data) > max_bytes:
            raise ScreeningError(f"file too large (more than {max_bytes:,} bytes)")
        return data
    raise ScreeningError(f"unsupported image source of type {type(source).__name__}")


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ScreeningError(f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ScreeningError(
            f"image too large: {width}x{height} = {width * height:,} pixels "
            f"(the limit is {max_pixels:,}); possibly a decompression bomb"
        )


def _draft_request(width: int, height: int, target_side: int) -> tuple[int, int]:
    """The size to ask ``draft()`` for so that the long side stays at least ``target_side``."""
    long_side = max(width, height)
    if long_side <= target_side:
        return (width, height)
    f = target_side / long_side
    return (max(1, int(width * f)), max(1, int(height * f)))


def decode(
    source: ImageSource,
    *,
    max_bytes: int = 40_000_000,
    max_pixels: int = 60_000_000,
    target_side: int = 1000,
) -> DecodedPhoto:
    """Decode one photo or reference image safely.

    ``source`` is a file path, the encoded bytes of a file, or a PIL image. Only JPEG, PNG and
    WebP files are opened. The result is RGB, turned upright according to its EXIF
    orientation, and reduced (JPEG DCT scaling, then a resize if the image is still much
    larger) so that its long side is about ``target_side`` pixels or a little more; smaller
    images are left as they are. ``original_size`` keeps the full size.

    Raises :class:`~matchers.errors.ScreeningError` with a readable message for files that
    are empty, truncated, not an allowed image format, larger than ``max_bytes``, or with
    more than ``max_pixels`` pixels (decompression bombs included).
    """
    if isinstance(source, Image.Image):
        return _from_pil(source, max_pixels=max_pixels, target_side=target_side)

    data = _read_source(source, max_bytes)
    if not data:
        raise ScreeningError("empty file (0 bytes)")
    try:
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; the pixel check below
        # runs on the header size before any decoding, so the warning never lets a bomb in
        # (and a warnings filter that turns it into an error is caught below as well).
        # warnings.catch_warnings() is not used because it is not thread-safe.
        img = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
        fmt = img.format or "?"
        ow, oh = img.size
        _check_pixels(ow, oh, max_pixels)
        orientation = 1
        try:
            orientation = int(img.getexif().get(0x0112, 1) or 1)
        except Exception:  # noqa: BLE001 - a damaged EXIF block is no reason to refuse a photo
            orientation = 1
        if fmt == "JPEG":
            img.draft("RGB", _draft_request(ow, oh, target_side))
        img.load()
        img = ImageOps.exif_transpose(img) if orientation != 1 else img
        img = _to_rgb(img)
    except ScreeningError:
        raise
    except UnidentifiedImageError as exc:
        reason = (
            _sniff(data[:512])
            or "not an image, or not an allowed format (JPEG, PNG, WebP)"
        )
        raise ScreeningError(reason) from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ScreeningError(
            f"image too large; possibly a decompression bomb ({exc})"
        ) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ScreeningError(f"damaged or truncated image ({exc})") from exc
    except MemoryError as exc:
        raise ScreeningError("image too large to decode") from exc
    except Exception as exc:  # Pillow's plugins raise many types on malformed input
        raise ScreeningError(f"damaged image ({type(exc).__name__}: {exc})") from exc

    if orientation in _TRANSPOSING_ORIENTATIONS:
        ow, oh = oh, ow
    img = _reduce(img, target_side)
    return DecodedPhoto(image=img, original_size=(ow, oh), format=fmt)


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (
        img.mode == "P" and "transparency" in img.info
    ):
        # Flatten transparency onto white, as a logo on a page would look.
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return img.convert("RGB")


def _reduce(img: Image.Image, target_side: int) -> Image.Image:
    # draft() only reduces JPEGs, and only by powers of two: bring anything still much
    # larger than needed down, so later steps have a bounded cost.
    w, h = img.size
    long_side = max(w, h)
    if long_side > 1.5 * target_side:
        f = target_side / long_side
        img = img.resize(
            (max(1, round(w * f)), max(1, round(h * f))),
            Image.Resampling.BILINEAR,
            reducing_gap=2.0,
        )
    return img


def _from_pil(img: Image.Image, *, max_pixels: int, target_side: int) -> DecodedPhoto:
    w, h = img.size
    _check_pixels(w, h, max_pixels)
    try:
        out = _to_rgb(img)
        if out is img:
            out = img.copy()  # never hand back (or later mutate) the caller's object
    except Exception as exc:
        raise ScreeningError(
            f"unusable image object ({type(exc).__name__}: {exc})"
        ) from exc
    out = _reduce(out, target_side)
    return DecodedPhoto(image=out, original_size=(w, h), format="PIL")


def decode_all(
    sources: Sequence[ImageSource],
    *,
    max_bytes: int = 40_000_000,
    max_pixels: int = 60_000_000,
    target_side: int = 1000,
) -> tuple[list[DecodedPhoto | None], list[str]]:
    """Decode several photos; never raises.

    Returns one entry per source, in order: the decoded photo, or None when it cannot be
    used, and a list of notes for the officer such as ``"photo 2: not an image (HTML file?)"``.
    """
    photos: list[DecodedPhoto | None] = []
    notes: list[str] = []
    for i, source in enumerate(sources):
        try:
            photos.append(
                decode(
                    source,
                    max_bytes=max_bytes,
                    max_pixels=max_pixels,
                    target_side=target_side,
                )
            )
        except ScreeningError as exc:
            photos.append(None)
            notes.append(f"photo {i + 1}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one bad photo must not stop screening
            photos.append(None)
            notes.append(f"photo {i + 1}: could not be decoded ({type(exc).__name__})")
    return photos, notes
