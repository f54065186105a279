"""The OpenAPI document turned into what the API reference page shows.

The page is rendered on the server from the same document that ``/api/v1/openapi.json``
serves (the CSP allows no script from elsewhere, so no Swagger UI): operations grouped by their
tag, each with its parameters, its request body and its responses in status order, and every
schema with its fields, types and limits. Nothing here is written by hand per endpoint, so the
page cannot drift from the code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class TypeText:
    """A schema's type as read by a person: ``array of`` + a link to a named schema, or plain."""
    text: str
    schema: str | None = None  # a components schema to link to
    after: str = ""  # e.g. " (or null)"


@dataclass(frozen=True)
class Field:
    name: str
    type: TypeText
    required: bool
    limits: str
    description: str


@dataclass(frozen=True)
class Response:
    status: str
    description: str
    type: TypeText | None
    #: (name, meaning) of each header the response documents.
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Body:
    media_type: str
    type: TypeText


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    anchor: str
    summary: str
    description: str
    parameters: list[Field]
    bodies: list[Body]
    responses: list[Response]


@dataclass
class Section:
    title: str
    operations: list[Operation] = field(default_factory=list)


@dataclass(frozen=True)
class Schema:
    name: str
    fields: list[Field]


@dataclass(frozen=True)
class Reference:
    title: str
    version: str
    sections: list[Section]
    schemas: list[Schema]


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_text(schema: dict[str, Any]) -> TypeText:
    if "$ref" in schema:
        return TypeText("", _ref_name(schema["$ref"]))
    after = " or null" if schema.get("nullable") else ""
    kind = schema.get("type", "")
    if kind == "array":
        item = type_text(schema.get("items", {}))
        return TypeText(f"array of {item.text}".rstrip(), item.schema, after)
    if schema.get("format"):
        kind = f"{kind} ({schema['format']})" if kind else schema["format"]
    return TypeText(kind or "any", None, after)


def _limits(schema: dict[str, Any]) -> str:
    """The constraints a client must respect, in words: ranges, lengths, choices, defaults."""
    parts = []
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None and high is not None:
        parts.append(f"{low}–{high}")
    elif low is not None:
        parts.append(f"at least {low}")
    elif high is not None:
        parts.append(f"at most {high}")
    if schema.get("maxLength") is not None:
        parts.append(f"up to {schema['maxLength']} characters")
    if schema.get("maxItems") is not None:
        parts.append(f"up to {schema['maxItems']} items")
    item_length = schema.get("items", {}).get("maxLength")
    if item_length is not None:
        parts.append(f"each up to {item_length} characters")
    choices = [c for c in schema.get("enum", ()) if c not in ("", None)]
    if choices:
        parts.append("one of " + ", ".join(str(c) for c in choices))
    default = schema.get("default")
    if default not in (None, "", [], {}):
        parts.append(f"default {default}")
    if schema.get("readOnly"):
        parts.append("read-only")
    return "; ".join(parts)


def _fields(schema: dict[str, Any]) -> list[Field]:
    required = set(schema.get("required", ()))
    return [Field(name, type_text(prop), name in required, _limits(prop), prop.get("description", ""))
            for name, prop in schema.get("properties", {}).items()]


def _status_order(status: str) -> tuple[int, str]:
    # Success first, then the errors in numeric order, then "default" (any other error).
    return (0 if status.startswith("2") else 1 if status[0].isdigit() else 2, status)


def _response(status: str, response: dict[str, Any], shared: dict[str, Any]) -> Response:
    if "$ref" in response:
        response = shared.get(_ref_name(response["$ref"]), {})
    description = response.get("description", "")
    if status == "default":
        description = "Any other error"
    content = response.get("content", {})
    schema = next(iter(content.values()), {}).get("schema") if content else None
    headers = tuple((name, header.get("description", "")) for name, header in response.get("headers", {}).items())
    return Response(status, description, type_text(schema) if schema else None, headers)


def _anchor(method: str, path: str) -> str:
    return f"{method}-" + re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")


def build(spec: dict[str, Any]) -> Reference:
    components = spec.get("components", {})
    shared = components.get("responses", {})
    titles = {tag["name"]: tag.get("description") or tag["name"] for tag in spec.get("tags", ())}
    sections: dict[str, Section] = {}
    for path, item in spec.get("paths", {}).items():
        path_parameters = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            parameters = [Field(p["name"], type_text(p.get("schema", {})), bool(p.get("required")),
                                "; ".join(x for x in (f"in the {p['in']}", _limits(p.get("schema", {}))) if x),
                                p.get("description", ""))
                          for p in (*path_parameters, *op.get("parameters", []))]
            bodies = [Body(media, type_text(content.get("schema", {})))
                      for media, content in op.get("requestBody", {}).get("content", {}).items()]
            responses = [_response(status, r, shared)
                         for status, r in sorted(op.get("responses", {}).items(), key=lambda kv: _status_order(kv[0]))]
            tag = (op.get("tags") or ["other"])[0]
            section = sections.setdefault(tag, Section(titles.get(tag, tag)))
            section.operations.append(Operation(method.upper(), path, _anchor(method, path), op.get("summary", ""),
                                                op.get("description", ""), parameters, bodies, responses))
    schemas = [Schema(name, _fields(schema)) for name, schema in components.get("schemas", {}).items()]
    info = spec.get("info", {})
    return Reference(info.get("title", ""), info.get("version", ""), list(sections.values()), schemas)


_CODE = re.compile(r"`([^`]+)`")


def prose(text: str) -> Markup:
    """Docstring text for the page: escaped, with `backquoted` words set as code."""
    escaped = str(escape(" ".join(text.split())))
    return Markup(_CODE.sub(r"<code>\1</code>", escaped))
