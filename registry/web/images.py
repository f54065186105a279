"""Image bytes for the browser: only re-encoded copies (thumbnails, and the full-size view),
only to those who may see them."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from flask_login import login_required

from registry.extensions import db
from registry.models import CheckPhoto, Role
from registry.services import checks as check_service
from registry.services.errors import NotFound
from registry.services.products import get_image
from registry.services.uploads import make_display_copy
from registry.web.common import actor, blobs, roles_required

bp = Blueprint("images", __name__, url_prefix="/images")

#: The longest side of an image "at full size": large enough to read a label's print or a
#: stitch, small enough to decode and send on each look. Smaller images keep their size.
FULL_SIZE = 2048


def image_response(data: bytes, *, filename: str, mimetype: str = "image/png") -> Response:
    """Re-encoded image bytes, sent as every image of the app is: never cached."""
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def full_size_response(sha256: str, *, name: str) -> Response:
    """The stored original re-encoded (``make_display_copy``: a JPEG, or a PNG where it has
    transparency; EXIF and GPS dropped), at most ``FULL_SIZE`` pixels a side: the original bytes
    never reach the browser. Made on the first look (a few tenths of a second for a 12-megapixel
    photo) and kept for the next ones (``storage.DisplayCopies``)."""
    copies = current_app.extensions["display_copies"]
    data, mimetype = copies.get_or_make(sha256, FULL_SIZE,
                                        lambda: make_display_copy(blobs().get(sha256), size=FULL_SIZE))
    extension = "png" if mimetype == "image/png" else "jpg"
    return image_response(data, filename=f"{name}.{extension}", mimetype=mimetype)


@bp.get("/<int:image_id>/thumbnail")
@login_required
def thumbnail(image_id: int):
    image = get_image(db.session, actor(), image_id)
    return image_response(blobs().get(image.thumbnail_sha256), filename=f"image-{image.id}.png")


@bp.get("/<int:image_id>")
@login_required
def full_size_image(image_id: int):
    """A reference image at full size, for whoever may see its thumbnail."""
    image = get_image(db.session, actor(), image_id)
    return full_size_response(image.sha256, name=f"image-{image.id}")


@bp.get("/checks/<int:check_id>/photos/<int:photo_id>")
@roles_required(Role.OFFICER, Role.LEGAL, Role.ADMIN)
def check_photo(check_id: int, photo_id: int):
    """A check's photo at full size, for the customs roles that see it on the check page
    (``checks.photo`` sends its thumbnail under the same rules)."""
    check = check_service.get_check(db.session, actor(), check_id)
    item = db.session.get(CheckPhoto, photo_id)
    if item is None or item.check_id != check.id:
        raise NotFound("photo")
    return full_size_response(item.sha256, name=f"check-{check.id}-photo-{item.position}")
