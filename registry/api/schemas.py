"""Request and response schemas of the JSON API (marshmallow); the OpenAPI document is
generated from them, and requests are validated against them."""

from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate
from werkzeug.datastructures import FileStorage

from registry.models.base import ID_MAX, as_utc
from registry.models.checks import CheckDecision, Verdict
from registry.models.dossier import ImageKind, SupplierRole
from registry.services.cases import STATES as CASE_STATES


class UtcDateTime(fields.DateTime):
    """RFC 3339 always: SQLite hands back naive datetimes, which were written as UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(as_utc(value), attr, obj, **kwargs)


def enum_text(enum_class, **kwargs) -> fields.Enum:
    """A model's string enum, written as its value; the document names the type as well as the
    values (apispec gives only the values)."""
    return fields.Enum(enum_class, by_value=True, metadata={"type": "string"}, **kwargs)


class DecimalText(fields.Decimal):
    """Money and quantities as exact decimal strings ("12.50"); numbers are accepted on input."""

    def __init__(self, **kwargs):
        kwargs.setdefault("as_string", True)
        super().__init__(**kwargs)


class Upload(fields.Field):
    """A file part of a multipart/form-data request (documented as a binary string)."""

    default_error_messages = {"invalid": "Not a file: send it as a file part of a multipart/form-data request."}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage):
            raise self.make_error("invalid")
        return value


class Photo(fields.String):
    """A photo: base64 text, or (multipart/form-data) a file part."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, FileStorage):
            return value
        return super()._deserialize(value, attr, data, **kwargs)


class Strict(Schema):
    class Meta:
        unknown = RAISE  # a misspelt field is an error, not silently ignored
        ordered = True


class ErrorDetail(Schema):
    code = fields.String(required=True, metadata={"example": "validation_failed"})
    message = fields.String(required=True)
    details = fields.Dict(metadata={"description": "Per field messages, or other context."})


class ErrorOut(Schema):
    error = fields.Nested(ErrorDetail, required=True)


# -- screening --------------------------------------------------------------------------------

_text = {"load_default": "", "validate": validate.Length(max=2000)}


class DeclarationIn(Strict):
    description = fields.String(**_text)
    declared_brand = fields.String(load_default="", validate=validate.Length(max=200))
    manufacturer = fields.String(load_default="", validate=validate.Length(max=300))
    consignor = fields.String(load_default="", validate=validate.Length(max=300))
    consignee = fields.String(load_default="", validate=validate.Length(max=300))
    declarant = fields.String(load_default="", validate=validate.Length(max=300))
    origin_country = fields.String(load_default="", validate=validate.Length(max=60),
                                   metadata={"description": "ISO code or English name"})
    destination_country = fields.String(load_default="", validate=validate.Length(max=60))
    transport_mode = fields.String(load_default="", validate=validate.Length(max=20))
    document_number = fields.String(load_default="", validate=validate.Length(max=100))
    hs_code = fields.String(load_default="", validate=validate.Length(max=20))
    # Decimals, checked by the service (zero or more): a Range here would document "0" as a string.
    quantity = DecimalText(load_default=None, allow_none=True)
    quantity_unit = fields.String(load_default="", validate=validate.Length(max=20))
    declared_value = DecimalText(load_default=None, allow_none=True)
    currency = fields.String(load_default="", validate=validate.Length(max=3))
    gtins = fields.List(fields.String(validate=validate.Length(max=20)), load_default=list,
                        validate=validate.Length(max=20))
    photos = fields.List(Photo(), load_default=list, validate=validate.Length(max=10),
                         metadata={"description": "Photos as base64 (JPEG, PNG or WebP); or send the request as "
                                                  "multipart/form-data with the same fields and files named 'photos'."})


class DeclarationForm(DeclarationIn):
    """The declaration as multipart/form-data: the same fields (one part each; `gtins` repeated),
    validated by the same schema, and photos as files. Documentation only: ``DeclarationIn``
    reads both."""

    photos = fields.List(Upload(), load_default=list, validate=validate.Length(max=10),
                         metadata={"description": "Photos (JPEG, PNG or WebP), one file part each"})


class SignalOut(Schema):
    name = fields.String()
    score = fields.Float()
    reason = fields.String()
    available = fields.Boolean()


class ImageEvidenceOut(Schema):
    photo = fields.Integer(metadata={"description": "1-based position of the photo"})
    reference_image_id = fields.Integer(allow_none=True)
    polygon = fields.List(fields.List(fields.Float()), metadata={"description": "Region in photo pixels"})
    method = fields.String()
    inliers = fields.Integer(allow_none=True)
    score = fields.Float()


class SuggestionOut(Schema):
    rank = fields.Integer()
    brand = fields.String(attribute="brand_name")
    right_id = fields.Integer(allow_none=True)
    score = fields.Float()
    recommendation = fields.String(validate=validate.OneOf(["detain", "inspect", "release"]))
    signals = fields.List(fields.Nested(SignalOut))
    image_evidence = fields.List(fields.Nested(ImageEvidenceOut), attribute="evidence")
    verdict = enum_text(Verdict, allow_none=True)


class PhotoOut(Schema):
    position = fields.Integer()
    sha256 = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    content_type = fields.String()


class CheckOut(Schema):
    id = fields.Integer()
    created_at = UtcDateTime()
    snapshot_id = fields.String()
    thresholds_version = fields.String()
    notes = fields.List(fields.String())
    decision = enum_text(CheckDecision, allow_none=True)
    declared_brand = fields.String()
    description = fields.String()
    photos = fields.List(fields.Nested(PhotoOut))
    suggestions = fields.List(fields.Nested(SuggestionOut))


# -- bulk -------------------------------------------------------------------------------------

class BulkJobOut(Schema):
    id = fields.Integer()
    state = fields.String(validate=validate.OneOf(["validating", "running", "done", "cancelled", "failed"]))
    filename = fields.String()
    lines_read = fields.Integer()
    lines_usable = fields.Integer()
    lines_rejected = fields.Integer()
    lines_done = fields.Integer()
    hits = fields.Integer()
    total = fields.Integer(allow_none=True, metadata={"description": "Usable lines; null while still reading"})
    reading = fields.Boolean()
    percent = fields.Float()
    eta_seconds = fields.Integer(allow_none=True)
    snapshot_id = fields.String()
    error = fields.String()
    cancel_requested = fields.Boolean()
    rejects = fields.List(fields.Tuple((fields.Integer(), fields.String())),
                          metadata={"description": "First unusable lines: [line, reason]"})


class BulkJobIn(Strict):
    manifest = Upload(required=True, metadata={"description": "The manifest: CSV or JSON Lines"})


class BulkHitOut(Schema):
    line_no = fields.Integer()
    line_ref = fields.String()
    brand = fields.String(attribute="brand_name")
    right_id = fields.Integer(allow_none=True)
    score = fields.Float()
    recommendation = fields.String()
    reasons = fields.List(fields.String())
    line = fields.Dict()


class PageArgs(Strict):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000),
                          metadata={"description": "Which page, from 1"})
    per_page = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000),
                              metadata={"description": "Items per page"})


class HitArgs(PageArgs):
    brand = fields.String(load_default="", validate=validate.Length(max=200),
                          metadata={"description": "Only hits on this brand (its registered name, as in `brand`)"})
    recommendation = fields.String(load_default="", validate=validate.OneOf(["", "detain", "inspect"]),
                                   metadata={"description": "Only hits with this recommendation"})
    min_score = fields.Float(load_default=0.0, validate=validate.Range(min=0, max=1),
                             metadata={"description": "Only hits scoring at least this"})


class BulkHitsOut(Schema):
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
    hits = fields.List(fields.Nested(BulkHitOut))


# -- cases ------------------------------------------------------------------------------------

class DeadlineOut(Schema):
    key = fields.String()
    label = fields.String()
    basis = fields.String()
    due = fields.Date(allow_none=True)
    met = fields.Boolean()
    extended = fields.Boolean()


class CaseOut(Schema):
    id = fields.Integer()
    state = fields.String()
    jurisdiction = fields.String()
    procedure = fields.String()
    legal_basis = fields.String()
    office = fields.String()
    office_country = fields.String()
    office_region = fields.String(metadata={"description": "ISO 3166-2 region of the office whose public holidays "
                                                           "the clock also skips (HH), or empty"})
    office_zone = fields.String(metadata={"description": "IANA time zone of the office, in which the case's days "
                                                         "are counted (America/Los_Angeles)"})
    goods_description = fields.String()
    detained_on = fields.Date()
    notified_on = fields.Date(allow_none=True)
    check_id = fields.Integer()
    right_id = fields.Integer(allow_none=True)
    organisation_id = fields.Integer(allow_none=True)
    deadlines = fields.List(fields.Nested(DeadlineOut))


class CaseListArgs(Strict):
    state = fields.String(load_default="", validate=validate.OneOf(
        ["", "open", *CASE_STATES], error=f"choose open or a state: {', '.join(CASE_STATES)}"), metadata={
        "description": "Only cases in this state; 'open' for every case not yet closed"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000),
                          metadata={"description": "Which page, from 1"})
    per_page = fields.Integer(load_default=500, validate=validate.Range(min=1, max=1000),
                              metadata={"description": "Cases per page"})


# -- registry and dossier ---------------------------------------------------------------------

class ImageOut(Schema):
    id = fields.Integer()
    kind = enum_text(ImageKind)
    sha256 = fields.String()
    width = fields.Integer()
    height = fields.Integer()
    original_filename = fields.String()


class FeatureOut(Schema):
    description = fields.String()
    covert = fields.Boolean()


class ProductOut(Schema):
    id = fields.Integer()
    organisation_id = fields.Integer()
    right_id = fields.Integer(allow_none=True)
    name = fields.String()
    model = fields.String()
    category = fields.String()
    gtins = fields.List(fields.String())
    hs_codes = fields.List(fields.String())
    price_min = DecimalText(as_string=True, allow_none=True)
    price_max = DecimalText(as_string=True, allow_none=True)
    currency = fields.String()
    production_countries = fields.List(fields.String())
    intended_markets = fields.List(fields.String())
    counterfeit_clues = fields.List(fields.String())
    features = fields.List(fields.Nested(FeatureOut))
    images = fields.List(fields.Nested(ImageOut))


class ProductIn(Strict):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    model = fields.String(load_default="", validate=validate.Length(max=100))
    category = fields.String(load_default="", validate=validate.Length(max=200))
    # Bounded like the ids in URLs: a number past the database's integer range is no right of
    # anyone's, and the database driver would refuse it with an overflow instead of an answer.
    right_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=ID_MAX))
    gtins = fields.List(fields.String(validate=validate.Length(max=20)), load_default=list,
                        validate=validate.Length(max=50))
    hs_codes = fields.List(fields.String(validate=validate.Length(max=20)), load_default=list,
                           validate=validate.Length(max=50))
    price_min = DecimalText(load_default=None, allow_none=True)
    price_max = DecimalText(load_default=None, allow_none=True)
    currency = fields.String(load_default="", validate=validate.Length(max=3))
    production_countries = fields.List(fields.String(validate=validate.Length(max=60)), load_default=list,
                                       validate=validate.Length(max=100))
    intended_markets = fields.List(fields.String(validate=validate.Length(max=60)), load_default=list,
                                   validate=validate.Length(max=100))
    overt_features = fields.List(fields.String(validate=validate.Length(max=500)), load_default=list,
                                 validate=validate.Length(max=50))
    covert_features = fields.List(fields.String(validate=validate.Length(max=500)), load_default=list,
                                  validate=validate.Length(max=50))
    counterfeit_clues = fields.List(fields.String(validate=validate.Length(max=500)), load_default=list,
                                    validate=validate.Length(max=50))


class ImageIn(Strict):
    kind = fields.String(required=True, validate=validate.OneOf(["logo", "packaging", "label", "product"]))
    data = fields.String(required=True, metadata={"description": "The image, base64 (JPEG, PNG or WebP)"})
    filename = fields.String(load_default="", validate=validate.Length(max=255))


class SupplierOut(Schema):
    id = fields.Integer()
    role = enum_text(SupplierRole)
    name = fields.String()
    country = fields.String()
    address = fields.String()
    identifiers = fields.String()


class SupplierIn(Strict):
    role = fields.String(required=True, validate=validate.Length(max=30), metadata={
        "description": "manufacturer, licensee, distributor or exporter"})
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    country = fields.String(required=True, validate=validate.Length(max=60),
                            metadata={"description": "ISO code or English name"})
    address = fields.String(load_default="", validate=validate.Length(max=1000))
    identifiers = fields.String(load_default="", validate=validate.Length(max=1000))


class RegistryArgs(Strict):
    q = fields.String(load_default="", validate=validate.Length(max=200), metadata={
        "description": "Words to look for in a product's name, model, category, mark, holder or GTIN; empty for all"})
