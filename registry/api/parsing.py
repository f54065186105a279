"""How the API reads a request's arguments: webargs, made as strict as the README promises.

* Every location (query string, form fields, files, JSON) is loaded with the schema's own
  ``unknown`` (``RAISE`` in ``schemas.Strict``): webargs would otherwise drop unknown query
  parameters, form fields and files without a word (a misspelt filter returning every hit).
* A query parameter, form field or file that is not a list in the schema and comes more than
  once is an error, not its first value taken silently (``page=1&page=2``).
* A body is read only as a content type its operation accepts: any other (``text/plain``, a
  form, none at all) is a 415 naming the accepted types, not a body silently ignored.
* A JSON object that names a key twice is a 422 naming it, not the last value taken silently.
* A body that JSON cannot turn into values (a number of more digits than Python converts,
  nesting deeper than the decoder's recursion limit) is a 400, as any other invalid JSON.
* ``location="body"``: JSON, or multipart/form-data whose fields and files are validated by the
  same schema (the screening, whose photos may come as files).
* ``location="multipart"``: multipart/form-data, fields and files together, so that a stray
  form field next to the file is as much an error as a stray file.

The parser and its schemas are built once, at import; nothing here is built per request.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser, abort
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.exceptions import UnsupportedMediaType

JSON = "application/json"
MULTIPART = "multipart/form-data"
#: The attribute a view method carries when it reads arguments from the query string.
READS_QUERY = "_api_reads_query"


def unsupported_media_type(request, accepted: tuple[str, ...]) -> UnsupportedMediaType:
    error = UnsupportedMediaType(f"send the body as {' or '.join(accepted)}")
    error.data = {"messages": {"accepted": list(accepted), "content_type": request.mimetype or None}}
    return error


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:  # as webargs reports it: an invalid JSON body
        raise json.JSONDecodeError(f"Bytes decoding error : {exc.reason}", doc=str(exc.object), pos=exc.start) from exc


class _JsonObject(dict):
    """A JSON object as read, with the keys it named more than once (``repeated``)."""

    repeated: tuple[str, ...] = ()


def _json_object(pairs: list[tuple[str, Any]]) -> _JsonObject:
    found = _JsonObject(pairs)
    if len(found) != len(pairs):
        seen: set[str] = set()
        found.repeated = tuple(sorted({key for key, _ in pairs if key in seen or seen.add(key)}))
    return found


def _repeated_within(value: Any) -> list[str]:
    """The keys named twice in any object inside ``value``."""
    if isinstance(value, _JsonObject):
        return [*value.repeated, *(key for item in value.values() for key in _repeated_within(item))]
    if isinstance(value, list):
        return [key for item in value for key in _repeated_within(item)]
    return []


def _refuse_repeated_keys(body: Any) -> None:
    """A JSON object that names a key twice is refused, naming it (nested ones under the field
    that holds them): which of the two values a program reads differs from one JSON library to
    the next, so the request is ambiguous. Judged once the whole body has been read, so that a
    body that is not JSON at all is told so first."""
    errors: dict[str, list[str]] = {}
    if isinstance(body, _JsonObject):
        for key in body.repeated:
            errors[key] = ["Given more than once; it takes one value."]
        for key, value in body.items():
            if nested := _repeated_within(value):
                errors.setdefault(key, []).append(f"Names {', '.join(sorted(set(nested)))} more than once.")
    elif nested := _repeated_within(body):
        errors["json"] = [f"An object names {', '.join(sorted(set(nested)))} more than once."]
    if errors:
        raise ma.ValidationError(errors)


class ApiParser(FlaskParser):
    __location_map__ = {**FlaskParser.__location_map__,
                        "body": "load_json_or_multipart", "multipart": "load_multipart"}
    # None: the schema's own ``Meta.unknown``. Headers and cookies carry far more than any
    # operation reads (a client's, a proxy's): there the unknown stay ignored.
    DEFAULT_UNKNOWN_BY_LOCATION = {
        **{location: None for location in __location_map__},
        "headers": ma.EXCLUDE, "cookies": ma.EXCLUDE,
    }

    # -- the content type --------------------------------------------------------------------

    def load_json(self, req, schema):
        if not core.is_json(req.mimetype):
            raise unsupported_media_type(req, (JSON,))
        return super().load_json(req, schema)

    def load_multipart(self, req, schema):
        if req.mimetype != MULTIPART:
            raise unsupported_media_type(req, (MULTIPART,))
        return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)

    def load_json_or_multipart(self, req, schema):
        if req.mimetype == MULTIPART:
            return self._makeproxy(CombinedMultiDict([req.form, req.files]), schema)
        if not core.is_json(req.mimetype):
            raise unsupported_media_type(req, (JSON, MULTIPART))
        return super().load_json(req, schema)

    def _raw_load_json(self, req) -> Any:
        try:
            body = json.loads(_utf8(req.get_data(cache=True)), object_pairs_hook=_json_object)
        except json.JSONDecodeError:
            raise  # webargs' own answer: an empty body is no body, anything else a 400
        except ValueError as exc:  # a number past the int-string conversion limit
            abort(400, exc=exc, messages={"json": [
                "Invalid JSON body.", f"A number has more than {sys.get_int_max_str_digits()} digits."]})
        except RecursionError as exc:
            abort(400, exc=exc, messages={"json": ["Invalid JSON body.", "The body is nested too deeply."]})
        _refuse_repeated_keys(body)
        return body

    # -- repeated values ---------------------------------------------------------------------

    def _makeproxy(self, multidict, schema, **kwargs):
        proxy = super()._makeproxy(multidict, schema, **kwargs)
        if not hasattr(multidict, "lists"):  # headers: not ours to judge
            return proxy
        repeated = [key for key, values in multidict.lists() if len(values) > 1 and key not in proxy.multiple_keys]
        if repeated:
            # Only fields of the schema: an unknown one is reported as unknown, by the schema.
            known = {field.data_key or name for name, field in schema.fields.items()}
            errors = {key: ["Given more than once; it takes one value."] for key in repeated if key in known}
            if errors:
                raise ma.ValidationError(errors)
        return proxy


class ApiBlueprint(Blueprint):
    """flask-smorest's Blueprint with the API's parser; ``body`` and ``multipart`` are
    documented as request bodies (``body`` as JSON; its multipart form is added with ``doc``)."""

    ARGUMENTS_PARSER = ApiParser()
    DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {**Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING,
                                             "body": JSON, "multipart": MULTIPART}

    def arguments(self, schema, *, location="json", **kwargs):
        decorator = super().arguments(schema, location=location, **kwargs)
        if location not in ("query", "querystring"):
            return decorator

        def marked(func):
            view = decorator(func)
            setattr(view, READS_QUERY, True)  # copied outwards by every functools.wraps
            return view

        return marked
