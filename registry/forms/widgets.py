"""The GOV.UK Frontend form widgets, drawn for less.

govuk_frontend_wtf draws each field through Flask's ``render_template``: every field of a page
runs the app's context processors again (the navigation with its URLs, the signed-in user) and
sends the template signals, though a field's template reads nothing but ``params``. Here a
field's template is rendered straight from the app's Jinja environment with ``params`` alone,
which gives the same HTML; and that HTML is kept by its params (``registry.web.fragments``), so
a field drawn before (a form's empty fields, shown on every check) costs a lookup.
"""

from __future__ import annotations

from flask import current_app
from govuk_frontend_wtf import wtforms_widgets as gov
from markupsafe import Markup

from registry.web.fragments import drawn


class _Drawn:
    """Mixed in before a govuk_frontend_wtf widget: replaces its ``render``."""

    template: str

    def render(self, params: dict) -> Markup:
        environment = current_app.jinja_env
        return drawn(self.template, params, lambda: environment.get_template(self.template).render(params=params))


class GovTextInput(_Drawn, gov.GovTextInput):
    pass


class GovPasswordInput(_Drawn, gov.GovPasswordInput):
    pass


class GovTextArea(_Drawn, gov.GovTextArea):
    pass


class GovSelect(_Drawn, gov.GovSelect):
    pass


class GovFileInput(_Drawn, gov.GovFileInput):
    pass


class GovSubmitInput(_Drawn, gov.GovSubmitInput):
    pass


class _Group:
    """Mixed in before a radios or checkboxes widget: its legend is the field's label even when
    the page gives the legend other params (its size), and a field with no description gets no
    hint, rather than an empty one that the inputs would be described by."""

    def map_gov_params(self, field, **kwargs) -> dict:
        params = super().map_gov_params(field, **kwargs)  # type: ignore[misc]
        legend = (params.get("fieldset") or {}).get("legend")
        if legend is not None and not (legend.get("text") or legend.get("html")):
            legend["text"] = field.label.text
        if not (params.get("hint") or {}).get("text"):
            params.pop("hint", None)
        return params


class GovRadioInput(_Drawn, _Group, gov.GovRadioInput):
    pass


class GovCheckboxesInput(_Drawn, _Group, gov.GovCheckboxesInput):
    pass


class GovCheckboxInput(_Drawn, _Group, gov.GovCheckboxInput):
    pass
