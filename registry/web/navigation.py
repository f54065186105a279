"""Values every template gets: the navigation for the signed-in user's role, and the GOV.UK
macros the pages use."""

from __future__ import annotations


from flask import current_app, request, url_for
from flask_login import current_user

from registry.models import Role
from registry.services.calendar import local_today
from registry.web.fragments import KeptMacro

_EXTENSION = "registry.navigation"
_MACROS = "registry.page_macros"

#: The GOV.UK Frontend macros base.html and the pages extending it use, by component folder.
#: Given to every template as values (the macros themselves, as an import would give them),
#: found once per app: importing six macro files on every page cost more than the menu.
PAGE_MACROS = {
    "govukErrorSummary": "error-summary",
    "govukNotificationBanner": "notification-banner",
    "govukSummaryList": "summary-list",
    "govukTag": "tag",
    "govukBackLink": "back-link",
    "govukWarningText": "warning-text",
}


def _items(role: Role) -> list[tuple[str, str]]:
    """The menu of a role: (text, address) in order."""
    if role == Role.HOLDER:
        items = [("Overview", url_for("dossier.overview")),
                 ("Rights", url_for("dossier.rights")),
                 ("Products", url_for("dossier.products")),
                 ("Suppliers", url_for("dossier.suppliers")),
                 ("Cases", url_for("cases.index")),
                 ("Notices", url_for("cases.notices")),
                 ("Import", url_for("dossier.import_file")),
                 ("Profile", url_for("dossier.profile")),
                 ("Verify", url_for("evidence.verify"))]
    else:
        items = [("Checks", url_for("checks.index")),
                 ("Bulk", url_for("bulk.index")),
                 ("Cases", url_for("cases.index")),
                 ("Registry", url_for("registry.search")),
                 ("Holders", url_for("registry.organisations")),
                 ("Verify", url_for("evidence.verify"))]
        if role == Role.ADMIN:
            items = [item for item in items if item[0] != "Bulk"]
        if role == Role.OFFICER:
            items.insert(0, ("New check", url_for("checks.new")))
    if role == Role.ADMIN:
        items += [("Organisations", url_for("admin.organisations")),
                  ("Users", url_for("admin.users"))]
    return items


def menu(role: Role) -> tuple[tuple[str, str], ...]:
    """The menu of a role, built once per app and prefix the app is served under: it is the
    same for everyone with that role (nothing of a user or an organisation is in it)."""
    menus = current_app.extensions.setdefault(_EXTENSION, {})
    key = (role, request.script_root)
    found = menus.get(key)
    if found is None:
        found = menus[key] = tuple(_items(role))
    return found


def page_macros() -> dict:
    """``PAGE_MACROS`` by name: each macro as ``{% from ... import ... %}`` gives it, its HTML
    kept by its params (``registry.web.fragments``: the same tags and back links on every page)."""
    found = current_app.extensions.get(_MACROS)
    if found is None:
        environment = current_app.jinja_env
        found = current_app.extensions[_MACROS] = {
            name: KeptMacro(name, getattr(environment.get_template(
                f"govuk_frontend_jinja/components/{folder}/macro.html").module, name))
            for name, folder in PAGE_MACROS.items()}
    return found


def days_away(days: int | None) -> str:
    """A deadline's distance as people say it: today, tomorrow, in 3 days, 2 days ago."""
    if days is None:
        return ""
    if days in (0, 1, -1):
        return {0: "today", 1: "tomorrow", -1: "yesterday"}[days]
    return f"in {days} days" if days > 0 else f"{-days} days ago"


def template_context() -> dict:
    items = menu(current_user.role) if current_user.is_authenticated else ()
    # The most specific item containing the current page is the active one.
    matches = [href for _, href in items if request.path == href or request.path.startswith(href + "/")]
    active = max(matches, key=len, default=None)
    navigation = [{"href": href, "text": text, "active": href == active} for text, href in items]
    return {"navigation": navigation, "Role": Role, "today": local_today(), **page_macros()}
