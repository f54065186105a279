"""HTML fragments kept by exactly what they are made from.

A GOV.UK Frontend macro or form widget draws its HTML from its ``params`` alone: the same
params always make the same HTML. So the HTML is kept, per app, under those params (each value
with its type, mappings in their order) and given again for the same params, instead of
running the macro again: a tag, a back link or a form's empty fields on every page cost a
lookup. A fragment can only be given for params equal to its own, which would make the same
HTML anyway: nothing of one user's page can reach another's. Params holding anything but plain
values (strings, numbers, booleans, None, Markup, and lists and dicts of them) are drawn every
time. The least recently used fragments go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from flask import current_app
from markupsafe import Markup

#: Fragments kept per app.
CACHE_SIZE = 1024
_EXTENSION = "registry.fragments"
_PLAIN = (str, int, float, bool, type(None))


class NotPlain(Exception):
    """Params that cannot be told apart by value: drawn every time."""


def frozen(value: Any) -> Any:
    """``value`` as a hashable key that two params share only when they are the same: each
    value with its type (``Markup`` is not ``str``, ``True`` is not ``1``), mappings in their
    order (the order attributes are written in)."""
    kind = type(value)
    if kind in _PLAIN or kind is Markup:
        return kind, value
    if kind is dict:
        if not all(type(key) is str for key in value):
            raise NotPlain
        return kind, tuple((key, frozen(item)) for key, item in value.items())
    if kind in (list, tuple):
        return kind, tuple(frozen(item) for item in value)
    raise NotPlain


class Fragments:
    """An app's kept fragments by key; safe to share between threads."""

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


def fragments(app) -> Fragments:
    return app.extensions.setdefault(_EXTENSION, Fragments())


def drawn(name: str, params: Any, draw: Callable[[], Markup]) -> Markup:
    """The HTML ``draw()`` makes for ``params``, drawn once per app (``name`` tells apart the
    macros or templates that share params)."""
    try:
        key: tuple | None = (name, frozen(params))
    except NotPlain:
        key = None
    kept = fragments(current_app._get_current_object())  # type: ignore[attr-defined]
    if key is not None and (html := kept.get(key)) is not None:
        return html
    html = Markup(draw())
    if key is not None:
        kept.put(key, html)
    return html


class KeptMacro:
    """A GOV.UK macro called as ``macro(params)``, its HTML kept by its params (see above);
    called any other way (keywords, a caller) it simply runs."""

    def __init__(self, name: str, macro: Callable[..., Markup]) -> None:
        self.name, self.macro = name, macro

    def __call__(self, *args: Any, **kwargs: Any) -> Markup:
        if len(args) != 1 or kwargs:
            return self.macro(*args, **kwargs)
        return drawn(self.name, args[0], lambda: self.macro(args[0]))
