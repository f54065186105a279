"""Forms of a rights holder's dossier."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms.validators import Optional

from registry.forms import fields
from registry.models import ImageKind, MarkKind, Office, SupplierRole
from registry.services import validation as v

COUNTRY_HINT = "ISO codes or English names, separated by commas, e.g. DE, FR, Italy."
#: The words of the "(customs only)" label of the pages (``customs_only`` in templates/macros.html).
CUSTOMS_ONLY_HINT = "Customs only: other rights holders never see them."


class OrganisationForm(FlaskForm):
    name = fields.required_text("Organisation name", "Enter the organisation's name")
    country = fields.StringField("Country", validators=[fields.DataRequired(message="Enter the country"),
                                                        fields.parsed_by(v.parse_country)],
                                 widget=fields.GovTextInput(), description="ISO code or English name.")
    address = fields.area("Address")
    website = fields.text("Website", hint="For example https://www.example.com")
    submit = fields.submit("Save profile")


class ContactForm(FlaskForm):
    name = fields.required_text("Name", "Enter the contact's name")
    role = fields.text("Role", hint="For example brand protection manager, outside counsel.")
    email = fields.email()
    phone = fields.text("Phone", hint="International format, e.g. +49 30 1234567.")
    countries = fields.text("Countries covered", fields.Optional(), fields.parsed_by(v.parse_countries),
                            hint=COUNTRY_HINT)
    submit = fields.submit("Save contact")


class RightForm(FlaskForm):
    kind = fields.choice("Kind of mark", [("", "Choose"), *[(k.value, f"{k.value.title()} mark") for k in MarkKind]],
                         "Choose word mark or figurative mark")
    mark_text = fields.required_text("Mark", "Enter the word mark (or the words in the logo)",
                                     hint="The word mark, or the verbal element of a figurative mark.")
    registration_number = fields.required_text("Registration number", "Enter the registration number")
    office = fields.choice("Office", [("", "Choose"), *[(o.value, o.value if o != Office.NATIONAL else "National office") for o in Office]],
                           "Choose the office that registered the mark")
    office_country = fields.text("Country of the national office", hint="Only for a national office.")
    nice_classes = fields.text("Nice classes", fields.Optional(), fields.parsed_by(v.parse_nice_classes),
                               hint="Numbers from 1 to 45, separated by commas.")
    registration_expiry = fields.date("Registration expires")
    protection_number = fields.text("Customs protection number",
                                    hint="Application for Action (EU) or CBP recordation (US) number.")
    protection_jurisdictions = fields.text("Protected in", fields.Optional(),
                                           fields.parsed_by(v.parse_jurisdictions),
                                           hint="EU, or ISO country codes, separated by commas.")
    protection_valid_from = fields.date("Customs protection valid from")
    protection_valid_until = fields.date("Customs protection valid until")
    small_consignments = fields.checkbox("Use the small-consignment procedure",
                                         hint="EU only: small consignments detained under this right "
                                              "may be destroyed without your explicit confirmation.")
    submit = fields.submit("Save right")


class ProductForm(FlaskForm):
    name = fields.required_text("Product name", "Enter the product's name")
    model = fields.text("Model or reference")
    category = fields.text("Category", hint="For example running shoes, perfume, phone charger.")
    right_id = fields.SelectField("Sold under the mark", coerce=str, choices=[],
                                  validators=[Optional()], widget=fields.GovSelect())
    gtins = fields.text("GTINs", fields.Optional(), fields.parsed_by(v.parse_gtins),
                        hint="EAN/UPC barcodes with their check digit, separated by commas.")
    hs_codes = fields.text("HS codes", fields.Optional(), fields.parsed_by(v.parse_hs_codes),
                           hint="4 to 10 digits, e.g. 6403.99, separated by commas.")
    price_min = fields.text("Lowest genuine unit price", fields.Optional(),
                            fields.parsed_by(lambda x: v.parse_price(x, "price_min")))
    price_max = fields.text("Highest genuine unit price", fields.Optional(),
                            fields.parsed_by(lambda x: v.parse_price(x, "price_max")))
    currency = fields.text("Currency", fields.Optional(), fields.parsed_by(v.parse_currency),
                           hint="ISO code, e.g. EUR.")
    production_countries = fields.text("Production countries", fields.Optional(),
                                       fields.parsed_by(v.parse_countries), hint=COUNTRY_HINT)
    intended_markets = fields.text("Intended markets", fields.Optional(),
                                   fields.parsed_by(v.parse_countries), hint=COUNTRY_HINT)
    overt_features = fields.area("Overt distinguishing features",
                                 "One per line. Visible to customs and to you.")
    covert_features = fields.area("Covert distinguishing features",
                                  f"One per line. {CUSTOMS_ONLY_HINT}")
    counterfeit_clues = fields.area("Known counterfeit clues", "One per line, e.g. 'logo stitched, not embossed'.")
    submit = fields.submit("Save product")


class ImageForm(FlaskForm):
    kind = fields.choice("Kind of image", [(k.value, k.value.title()) for k in ImageKind],
                         "Choose the kind of image")
    image = fields.file("Image", "JPEG, PNG or WebP, up to 25 MB.", accept="image/jpeg,image/png,image/webp")
    submit = fields.submit("Upload image")


class LogoForm(FlaskForm):
    image = fields.file("Logo image", "JPEG, PNG or WebP, up to 25 MB.", accept="image/jpeg,image/png,image/webp")
    submit = fields.submit("Upload logo")


class SupplierForm(FlaskForm):
    role = fields.choice("Role", [("", "Choose"), *[(r.value, r.value.title()) for r in SupplierRole]],
                         "Choose the supplier's role")
    name = fields.required_text("Company name", "Enter the company's name", max_length=300)
    country = fields.StringField("Country", validators=[fields.DataRequired(message="Enter the country"),
                                                        fields.parsed_by(v.parse_country)],
                                 widget=fields.GovTextInput(), description="ISO code or English name.")
    address = fields.area("Address")
    identifiers = fields.area("Identifiers", "One per line, e.g. 'VAT: DE123456789', 'EORI: ...'.")
    submit = fields.submit("Save supplier")


class ImportForm(FlaskForm):
    kind = fields.choice("What the file holds", [("products", "Products (with images)"),
                                                 ("suppliers", "Authorised suppliers")],
                         "Choose what the file holds")
    data = fields.file("CSV or JSON file", "UTF-8 CSV with a header row, or a JSON list of objects.",
                       accept=".csv,.json,text/csv,application/json")
    images = fields.file("ZIP of images (optional)",
                         "Named in the file's images column, e.g. packaging:box.jpg.",
                         accept=".zip,application/zip")
    submit = fields.submit("Import")


class ConfirmForm(FlaskForm):
    """An empty form: a CSRF token for delete buttons and other one-click actions."""

    submit = fields.submit("Confirm")


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = fields.text("Search the registry", hint="Brand, product, model, holder or GTIN.")
