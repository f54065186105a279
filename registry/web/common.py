"""Small helpers shared by the blueprints."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import abort, current_app, flash, request
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage

from registry.extensions import db
from registry.models import Role, User
from registry.services.products import UploadPolicy
from registry.services.registry_search import RegistryIndex
from registry.storage import BlobStore


def actor() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined]


def roles_required(*roles: Role) -> Callable:
    """Signed in, and with one of ``roles``; anything else is a 403."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def blobs() -> BlobStore:
    return current_app.extensions["blobs"]


def registry_index() -> RegistryIndex:
    """This process's search index over the whole registry (see ``services.registry_search``)."""
    return current_app.extensions.setdefault("registry_index", RegistryIndex())


def image_bytes(upload: FileStorage) -> bytes:
    """An uploaded image's bytes, read no further than one byte past the image limit: a larger
    file is refused as too large all the same, without the rest of it held in memory."""
    return upload.stream.read(current_app.config["MAX_IMAGE_BYTES"] + 1)


def uploaded_photos() -> list[tuple[bytes, str]]:
    """The request's ``photos`` files, each as (bytes, client file name)."""
    return [(image_bytes(f), f.filename or "") for f in request.files.getlist("photos") if f and f.filename]


def upload_policy() -> UploadPolicy:
    config = current_app.config
    return UploadPolicy(max_bytes=config["MAX_IMAGE_BYTES"], max_pixels=config["MAX_IMAGE_PIXELS"],
                        thumbnail_size=config["THUMBNAIL_SIZE"])


def form_values(form: FlaskForm) -> dict[str, Any]:
    """Field values as the services expect them (dates as dates, the rest as given)."""
    return {name: field.data for name, field in form._fields.items()
            if name not in ("csrf_token", "submit")}


def form_expired(nothing_was: str) -> bool:
    """True, with a message flashed, when an unsafe request came without a valid CSRF token:
    for actions whose form carries nothing but that token."""
    if FlaskForm().validate_on_submit():
        return False
    flash(f"The form expired; nothing was {nothing_was}. Try again.", "error")
    return True


def commit(*, keep_loaded: bool = False) -> None:
    """Commit the request's transaction. ``keep_loaded``: the objects already read stay as they
    are instead of being read again on next use; for a page that records a read (an audit
    event) and then renders what it read in the same request."""
    if not keep_loaded:
        db.session.commit()
        return
    session = db.session()
    kept, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = kept
