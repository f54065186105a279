"""The evidence package's PDF report: a Jinja template rendered by WeasyPrint.

The renderer can read nothing but the package's own files: the URL fetcher answers only
``file:///package/<path>`` from the files being packed, and refuses everything else (other
local files, the network), so a value in a case record can never make the report pull in
anything from outside. The creation date is the export time, so the same case exported with
the same inputs gives the same bytes.
"""

from __future__ import annotations

import mimetypes
from datetime import datetime, timezone
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from registry.services.notifications import plain_number

PACKAGE_BASE = "file:///package/"
_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
_environment = Environment(loader=FileSystemLoader(str(_TEMPLATES)), autoescape=select_autoescape(["html"]),
                           trim_blocks=True, lstrip_blocks=True)


def _when(value: str | None) -> str:
    """An ISO timestamp as a reader wants it: to the second, in UTC."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


_environment.filters["when"] = _when
_environment.filters["number"] = plain_number


class RefusedResource(ValueError):
    pass


def _weasyprint():
    """Import WeasyPrint without the side effect of its import.

    WeasyPrint sets Pillow's process-wide ``ImageFile.LOAD_TRUNCATED_IMAGES`` to True when it
    is imported, which would make upload checks in the same process accept truncated photos.
    The report only embeds PNGs this module made, so the strict default is put back.
    """
    import weasyprint
    import weasyprint.urls
    from PIL import ImageFile

    ImageFile.LOAD_TRUNCATED_IMAGES = False
    return weasyprint


def package_fetcher(files: Mapping[str, bytes]):
    """A WeasyPrint URL fetcher confined to ``files``."""
    urls = _weasyprint().urls
    URLFetcher, URLFetcherResponse = urls.URLFetcher, urls.URLFetcherResponse

    class PackageFetcher(URLFetcher):
        def fetch(self, url: str, headers=None):
            if not url.startswith(PACKAGE_BASE):
                raise RefusedResource(f"the report may only use the package's own files, not {url[:200]}")
            path = url[len(PACKAGE_BASE):].split("?", 1)[0].split("#", 1)[0]
            if path not in files:
                raise RefusedResource(f"{path[:200]} is not in the package")
            mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
            return URLFetcherResponse(url, files[path], {"Content-Type": mime})

    return PackageFetcher(allowed_protocols=["file"], allow_redirects=False)


def report_html(context: Mapping[str, Any]) -> str:
    return _environment.get_template("evidence/report.html").render(**context)


def render_report(context: Mapping[str, Any], files: Mapping[str, bytes]) -> bytes:
    """The report as PDF bytes."""
    return _weasyprint().HTML(string=report_html(context), base_url=PACKAGE_BASE,
                url_fetcher=package_fetcher(files)).write_pdf()
