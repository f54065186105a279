"""The officer's check of suspect goods: a declaration and photos."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import MultipleFileField
from wtforms.validators import Optional

from registry.forms import fields
from registry.models import CheckDecision, Verdict
from registry.services import validation as v
from registry.services.checks import TRANSPORT_MODES


class CheckForm(FlaskForm):
    declared_brand = fields.text("Declared brand")
    description = fields.area("Goods description", "As declared, in full.")
    photos = MultipleFileField("Photos of the goods", description="JPEG, PNG or WebP; on a phone this opens the camera.",
                               widget=fields.GovFileInput(),
                               render_kw={"accept": "image/jpeg,image/png,image/webp", "capture": "environment",
                                          "multiple": True})
    manufacturer = fields.text("Manufacturer, as declared")
    consignor = fields.text("Consignor or exporter")
    consignee = fields.text("Consignee or importer")
    declarant = fields.text("Declarant")
    origin_country = fields.text("Country of origin", fields.Optional(), fields.parsed_by(v.parse_country),
                                 hint="ISO code or English name.")
    transit_countries = fields.text("Transit countries", fields.Optional(), fields.parsed_by(v.parse_countries),
                                    hint="Separated by commas.")
    destination_country = fields.text("Destination country", fields.Optional(), fields.parsed_by(v.parse_country))
    transport_mode = fields.SelectField("Transport mode", choices=[("", "Not known")] + [(m, m.title()) for m in TRANSPORT_MODES],
                                        validators=[Optional()], widget=fields.GovSelect())
    document_number = fields.text("Transport document", hint="B/L, AWB or parcel number.")
    hs_code = fields.text("HS code", fields.Optional(), fields.parsed_by(v.parse_hs_code))
    gtins = fields.text("GTINs on the goods", hint="Barcode numbers as printed, separated by commas.")
    quantity = fields.text("Quantity")
    quantity_unit = fields.text("Unit", hint="For example pieces, pairs, kg.")
    gross_weight_kg = fields.text("Gross weight (kg)")
    declared_value = fields.text("Declared value (total)")
    currency = fields.text("Currency", fields.Optional(), fields.parsed_by(v.parse_currency), hint="ISO code, e.g. EUR.")
    submit = fields.submit("Check against the registry")


class VerdictForm(FlaskForm):
    verdict = fields.choice("Your verdict", [("", "Choose"), *[(x.value, x.label) for x in Verdict]],
                            "Choose a verdict")
    submit = fields.submit("Record verdict")


class DecisionForm(FlaskForm):
    decision = fields.choice("Decision", [("", "Choose"), (CheckDecision.RELEASE.value, "Release"),
                                          (CheckDecision.INSPECT.value, "Inspect further"),
                                          (CheckDecision.DETAIN.value, "Detain")], "Choose a decision")
    reason = fields.area("Reason", "What you saw; it goes on the record.")
    submit = fields.submit("Record decision")
