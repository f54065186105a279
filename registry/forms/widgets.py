"""The GOV.UK Frontend form widgets, drawn for less.

govuk_frontend_wtf draws each field through Flask's ``render_template``: every field of a page
runs the app's context processors again (the navigation with its URLs, the signed-in user) and
sends the template signals, though a field's template reads nothing but ``params``. Here a
field's template is rendered straight from the app's Jinja environment with ``params`` alone,
which gives the same HTML.

And that HTML is kept, per app, under the exact ``params`` it was made from (types, order of
keys and all): the same params always make the same HTML, so a field drawn before (a form's
empty fields, shown on every check) costs a lookup. Nothing but the params decides the HTML,
so a field can only ever be given the HTML its own params make: nothing of one user's page can
reach another's. Params holding anything but plain values are drawn every time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from flask import current_app
from govuk_frontend_wtf import wtforms_widgets as gov
from markupsafe import Markup

#: Fields' HTML kept per app; the least recently used goes first.
CACHE_SIZE = 512
_EXTENSION = "registry.widget_html"
_PLAIN = (str, int, float, bool, type(None))


class _NotPlain(Exception):
    pass


def frozen(value: Any) -> Any:
    """``value`` as a hashable key that two params share only when they are the same: each
    value with its type (``Markup`` is not ``str``, ``True`` is not ``1``), mappings in their
    order (the order attributes are written in)."""
    kind = type(value)
    if kind in _PLAIN or kind is Markup:
        return kind, value
    if kind is dict:
        if not all(type(key) is str for key in value):
            raise _NotPlain
        return kind, tuple((key, frozen(item)) for key, item in value.items())
    if kind in (list, tuple):
        return kind, tuple(frozen(item) for item in value)
    raise _NotPlain


class RenderedFields:
    """An app's fields' HTML by template and params; safe to share between threads."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._html: OrderedDict[tuple, Markup] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Markup | None:
        with self._lock:
            html = self._html.get(key)
            if html is not None:
                self._html.move_to_end(key)
            return html

    def put(self, key: tuple, html: Markup) -> None:
        with self._lock:
            self._html[key] = html
            self._html.move_to_end(key)
            while len(self._html) > self.size:
                self._html.popitem(last=False)

    def __len__(self) -> int:
        return len(self._html)


def rendered_fields(app) -> RenderedFields:
    return app.extensions.setdefault(_EXTENSION, RenderedFields())


class _Drawn:
    """Mixed in before a govuk_frontend_wtf widget: replaces its ``render``."""

    template: str

    def render(self, params: dict) -> Markup:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        fields = rendered_fields(app)
        try:
            key: tuple | None = (self.template, frozen(params))
        except _NotPlain:
            key = None
        if key is not None and (html := fields.get(key)) is not None:
            return html
        html = Markup(app.jinja_env.get_template(self.template).render(params=params))
        if key is not None:
            fields.put(key, html)
        return html


class GovTextInput(_Drawn, gov.GovTextInput):
    pass


class GovPasswordInput(_Drawn, gov.GovPasswordInput):
    pass


class GovTextArea(_Drawn, gov.GovTextArea):
    pass


class GovSelect(_Drawn, gov.GovSelect):
    pass


class GovCheckboxInput(_Drawn, gov.GovCheckboxInput):
    pass


class GovFileInput(_Drawn, gov.GovFileInput):
    pass


class GovSubmitInput(_Drawn, gov.GovSubmitInput):
    pass
