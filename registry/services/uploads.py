"""Checks on uploaded images, and the derived thumbnails that are the only form served.

Only JPEG, PNG and WebP are accepted, and Pillow is told so (``formats=``) so that no other
decoder ever parses client bytes. Byte and pixel limits are checked before any pixel is
decoded; Pillow's decompression-bomb warning is an error here; the whole image is decoded
once so a truncated file is rejected at upload time rather than found broken later.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from registry.services.errors import ValidationError

ALLOWED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_MARKUP_PREFIXES = (b"<", b"\xef\xbb\xbf<")


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
        raise ValidationError({"image": f"{name} is {len(data) / 1e6:.1f} MB; "
                                        f"the limit is {max_bytes / 1e6:.0f} MB"})
    head = data[:512].lstrip()
    if head.startswith(_MARKUP_PREFIXES) or b"<svg" in head.lower():
        raise ValidationError({"image": f"{name} is SVG, HTML or another markup file, not a "
                                        "photo; upload a JPEG, PNG or WebP image"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ValidationError({"image": f"{name} is {width}×{height} pixels; the "
                                                    f"limit is {max_pixels / 1e6:.0f} megapixels"})
                fmt = image.format or ""
                image.load()
        except ValidationError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ValidationError({"image": f"{name} is too large to decode safely "
                                            "(decompression bomb)"}) from None
        except UnidentifiedImageError:
            raise ValidationError({"image": f"{name} is not a JPEG, PNG or WebP image"}) from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise ValidationError({"image": f"{name} is damaged or truncated ({exc})"}) from None
    if fmt not in ALLOWED_FORMATS:
        raise ValidationError({"image": f"{name} is not a JPEG, PNG or WebP image"})
    return ImageInfo(fmt, ALLOWED_FORMATS[fmt], width, height, len(data))


def make_thumbnail(data: bytes, *, size: int) -> bytes:
    """A re-encoded PNG copy at most ``size`` pixels wide or high, with no metadata.

    Call only on bytes that passed ``inspect_image``. Re-encoding drops EXIF (GPS included)
    and anything appended to the file, so what the browser gets is a plain image.
    """
    with Image.open(io.BytesIO(data), formats=list(ALLOWED_FORMATS)) as image:
        image.draft("RGB", (size * 2, size * 2))  # JPEG: decode at reduced scale, fast
        image = ImageOps.exif_transpose(image)
        image = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")
        image.thumbnail((size, size), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, format="PNG", optimize=True)
    return out.getvalue()
