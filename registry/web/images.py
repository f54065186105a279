"""Image bytes for the browser: only re-encoded thumbnails, only to those who may see them."""

from __future__ import annotations

from flask import Blueprint, Response
from flask_login import login_required

from registry.extensions import db
from registry.services.products import get_image
from registry.web.common import actor, blobs

bp = Blueprint("images", __name__, url_prefix="/images")


@bp.get("/<int:image_id>/thumbnail")
@login_required
def thumbnail(image_id: int):
    image = get_image(db.session, actor(), image_id)
    response = Response(blobs().get(image.thumbnail_sha256), mimetype="image/png")
    response.headers["Content-Disposition"] = f'inline; filename="image-{image.id}.png"'
    response.headers["Cache-Control"] = "private, no-store"
    return response
