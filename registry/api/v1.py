"""`/api/v1` endpoints. Each is a thin layer over the same services the pages use."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlencode

from flask import Blueprint as FlaskBlueprint, current_app, render_template, request
from flask.views import MethodView
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage

from registry.api import (commit_created, configure_blueprint, current_api_user, error_response, idempotent,
                          keep_reply)
from registry.api import reference, schemas as s
from registry.api.parsing import JSON, MULTIPART, ApiBlueprint as Blueprint
from registry.extensions import db
from registry.models import BulkHit, Product, Role, Supplier
from registry.services import audit, bulk, cases as case_service, checks as check_service, products, suppliers, tenancy
from registry.services.auth import require_role
from registry.services.calendar import zone_name
from registry.services.errors import ValidationError
from registry.services.profiles import load_profiles
from registry.services.registry_search import search_products
from registry.web.common import blobs, registry_index, upload_policy

screenings = Blueprint("api_screenings", __name__, url_prefix="/api/v1", description="Screen one declaration")
checks = Blueprint("api_checks", __name__, url_prefix="/api/v1", description="Checks and their matches")
bulk_jobs = Blueprint("api_bulk", __name__, url_prefix="/api/v1", description="Bulk screening of manifests")
case_api = Blueprint("api_cases", __name__, url_prefix="/api/v1", description="Detention cases")
registry_api = Blueprint("api_registry", __name__, url_prefix="/api/v1",
                         description="The registry, for customs (officers and legal staff)")
dossier = Blueprint("api_dossier", __name__, url_prefix="/api/v1",
                    description="A rights holder's own dossier, to keep it in sync with its systems")
BLUEPRINTS = [screenings, checks, bulk_jobs, case_api, registry_api, dossier]
for _blueprint in BLUEPRINTS:
    configure_blueprint(_blueprint)


def _read_photos(items: list) -> list[tuple[bytes, str]]:
    """Photos as the declaration gave them: base64 text (JSON), or file parts (multipart)."""
    photos = []
    for index, item in enumerate(items, start=1):
        if isinstance(item, FileStorage):
            data = item.read()
            if data or item.filename:  # an empty part without a name is a file input left empty
                photos.append((data, item.filename or ""))
            continue
        text = item.split(",", 1)[1] if item.startswith("data:") and "," in item else item
        try:
            photos.append((base64.b64decode(text, validate=True), f"photo-{index}"))
        except (binascii.Error, ValueError):
            raise ValidationError({"photos": f"photo {index} is not valid base64"}) from None
    return photos


# -- screening --------------------------------------------------------------------------------

@screenings.route("/screenings")
class Screenings(MethodView):
    @idempotent
    @screenings.arguments(s.DeclarationIn(), location="body", content_type=JSON)
    @screenings.doc(requestBody={"content": {MULTIPART: {"schema": s.DeclarationForm}}})
    @screenings.response(201, s.CheckOut)
    @screenings.alt_response(422, schema=s.ErrorOut, description="The declaration breaks a rule")
    @screenings.alt_response(401, schema=s.ErrorOut, description="No valid token")
    @screenings.alt_response(403, schema=s.ErrorOut, description="The token's role may not screen")
    def post(self, declaration):
        """Screen one declaration (officers); the check is kept, as one made in the app.

        Photos are base64 strings in `photos`; a multipart/form-data request with the same
        fields (validated alike) and files named `photos` is accepted too.
        """
        actor = current_api_user()
        require_role(actor, Role.OFFICER)
        photos = _read_photos(declaration.pop("photos", []))
        raw = {k: ("" if v is None else (", ".join(v) if isinstance(v, list) else str(v))) for k, v in declaration.items()}
        check = check_service.screen_declaration(db.session, actor, blobs(), current_app.extensions["engine"],
                                                 upload_policy(), raw, photos)
        commit_created(keep_loaded=True)
        return check


@checks.route("/checks/<int:check_id>")
class CheckResource(MethodView):
    @checks.response(200, s.CheckOut)
    @checks.alt_response(404, schema=s.ErrorOut, description="No such check")
    def get(self, check_id: int):
        """A check with every suggestion, signal and matched image region."""
        actor = current_api_user()
        require_role(actor, Role.OFFICER, Role.LEGAL)
        return check_service.read_check(db.session, actor, check_id)


# -- bulk -------------------------------------------------------------------------------------

@bulk_jobs.route("/bulk-jobs")
class BulkJobs(MethodView):
    @idempotent
    @bulk_jobs.arguments(s.BulkJobIn(), location="multipart", content_type=MULTIPART)
    @bulk_jobs.response(202, s.BulkJobOut)
    @bulk_jobs.alt_response(422, schema=s.ErrorOut, description="Not a manifest")
    @bulk_jobs.alt_response(503, schema=s.ErrorOut, description="Stored, but the job queue could not be reached: "
                                                                 "the job is marked failed")
    def post(self, files):
        """Submit a manifest (CSV or JSON Lines, as the file `manifest`); follow it with GET."""
        from registry import jobs

        actor = current_api_user()
        upload = files["manifest"]
        job = bulk.submit_manifest(db.session, actor, blobs(), upload.stream, upload.filename or "",
                                   max_bytes=current_app.config["MAX_MANIFEST_BYTES"])
        db.session.flush()
        # Committed before it starts, so that a worker finds it: the reply to replay goes with it.
        keep_reply(202, s.BulkJobOut().dump(_job_out(job)))
        db.session.commit()
        try:
            jobs.start_submitted(current_app._get_current_object(), job)
        except jobs.QueueUnavailable as exc:
            # Not a success: the key is let go with the reply (the failed job stays listed).
            return error_response(503, str(exc), {"job_id": job.id})
        return _job_out(job)


def _job_out(job):
    return {**bulk.progress(job), "filename": job.filename, "rejects": [reject[:2] for reject in job.rejects[:100]]}


@bulk_jobs.route("/bulk-jobs/<int:job_id>")
class BulkJobResource(MethodView):
    @bulk_jobs.response(200, s.BulkJobOut)
    @bulk_jobs.alt_response(404, schema=s.ErrorOut, description="No such job")
    def get(self, job_id: int):
        """Progress of a bulk job: lines done, hits so far, estimated seconds left."""
        return _job_out(bulk.get_job(db.session, current_api_user(), job_id))


@bulk_jobs.route("/bulk-jobs/<int:job_id>/hits")
class BulkJobHits(MethodView):
    @bulk_jobs.arguments(s.HitArgs(), location="query")
    @bulk_jobs.response(200, s.BulkHitsOut)
    @bulk_jobs.alt_response(404, schema=s.ErrorOut, description="No such job")
    def get(self, args, job_id: int):
        """The hits of a job, best score first, a page at a time; filter by brand,
        recommendation or lowest score."""
        job = bulk.get_job(db.session, current_api_user(), job_id)
        conditions = [BulkHit.job_id == job.id]
        if args["brand"]:
            conditions.append(BulkHit.brand_name == args["brand"])
        if args["recommendation"]:
            conditions.append(BulkHit.recommendation == args["recommendation"])
        if args["min_score"]:
            conditions.append(BulkHit.score >= args["min_score"])
        total = db.session.scalar(select(func.count(BulkHit.id)).where(*conditions)) or 0
        hits = db.session.scalars(select(BulkHit).where(*conditions)
                                  .order_by(BulkHit.score.desc(), BulkHit.line_no)
                                  .limit(args["per_page"]).offset((args["page"] - 1) * args["per_page"])).all()
        return {"page": args["page"], "per_page": args["per_page"], "total": total, "hits": hits}


# -- cases ------------------------------------------------------------------------------------

def _case_out(case):
    profile = load_profiles(current_app.config.get("JURISDICTION_PROFILES_FILE")).get(case.jurisdiction)
    deadlines = [{"key": d.rule.key, "label": d.rule.label, "basis": d.rule.basis, "due": d.due, "met": d.met,
                  "extended": d.extended} for d in (case_service.case_deadlines(case, profile) if profile else [])]
    return {**{k: getattr(case, k) for k in ("id", "state", "jurisdiction", "procedure", "legal_basis", "office",
                                             "office_country", "office_region", "goods_description", "detained_on", "notified_on",
                                             "check_id", "right_id", "organisation_id")},
            "office_zone": zone_name(case.office_zone), "deadlines": deadlines}


@case_api.route("/cases")
class Cases(MethodView):
    @case_api.arguments(s.CaseListArgs(), location="query")
    @case_api.response(200, s.CaseOut(many=True), headers={
        "X-Total-Count": {"description": "How many cases match, on every page", "schema": {"type": "integer"}},
        "Link": {"description": "The next and previous pages (RFC 8288), where there are any",
                 "schema": {"type": "string"}}})
    def get(self, args):
        """Cases the token's user may see (a rights holder: its own), newest first, a page at a
        time: `X-Total-Count` says how many match, `Link` gives the next page."""
        items = case_service.list_cases(db.session, current_api_user())
        if args["state"] == "open":
            items = [c for c in items if c.state in case_service.OPEN_STATES]
        elif args["state"]:
            items = [c for c in items if c.state == args["state"]]
        page, per_page = args["page"], args["per_page"]
        start = (page - 1) * per_page
        links = [f'<{_page_url(page + 1)}>; rel="next"'] if start + per_page < len(items) else []
        if page > 1:
            links.append(f'<{_page_url(page - 1)}>; rel="prev"')
        headers = {"X-Total-Count": str(len(items)), **({"Link": ", ".join(links)} if links else {})}
        return [_case_out(c) for c in items[start:start + per_page]], 200, headers


def _page_url(page: int) -> str:
    """This request's URL on another page (its other query parameters kept)."""
    return f"{request.base_url}?{urlencode({**request.args.to_dict(), 'page': page})}"


@case_api.route("/cases/<int:case_id>")
class CaseResource(MethodView):
    @case_api.response(200, s.CaseOut)
    @case_api.alt_response(404, schema=s.ErrorOut, description="No such case, or not yours")
    def get(self, case_id: int):
        """One case with its legal clock."""
        actor = current_api_user()
        case = case_service.get_case(db.session, actor, case_id)
        case_service.record_view(db.session, actor, case)
        db.session.commit()
        return _case_out(case)


# -- the registry, for customs ----------------------------------------------------------------

@registry_api.route("/registry/products")
class RegistryProducts(MethodView):
    @registry_api.arguments(s.RegistryArgs(), location="query")
    @registry_api.response(200, s.ProductOut(many=True))
    def get(self, args):
        """Registered products of every approved holder, covert features included (each read is audited)."""
        actor = current_api_user()
        require_role(actor, Role.OFFICER, Role.LEGAL)
        items = search_products(db.session, actor, args["q"], limit=200, index=registry_index())
        for item in items:
            audit.record(db.session, actor, "product.read", object_type="product", object_id=item.id,
                         organisation_id=item.organisation_id, after={"via": "api"})
        db.session.commit()
        return items


# -- a holder's own dossier -------------------------------------------------------------------

def _holder():
    actor = current_api_user()
    require_role(actor, Role.HOLDER)
    return actor


@dossier.route("/dossier/products")
class DossierProducts(MethodView):
    @dossier.response(200, s.ProductOut(many=True))
    def get(self):
        """Your organisation's products."""
        actor = _holder()
        return db.session.scalars(select(Product).where(Product.organisation_id == actor.organisation_id)
                                  .order_by(Product.id)).all()

    @idempotent
    @dossier.arguments(s.ProductIn())
    @dossier.response(201, s.ProductOut)
    @dossier.alt_response(422, schema=s.ErrorOut, description="A field breaks a rule")
    def post(self, values):
        """Register a product."""
        actor = _holder()
        product = products.register_product(db.session, actor, actor.organisation_id, _product_raw(values))
        commit_created()
        return product


def _product_raw(values: dict) -> dict:
    raw = dict(values)
    for key in ("overt_features", "covert_features", "counterfeit_clues"):
        raw[key] = "\n".join(raw.get(key) or [])
    for key in ("price_min", "price_max"):
        raw[key] = "" if raw.get(key) is None else str(raw[key])
    return raw


@dossier.route("/dossier/products/<int:product_id>")
class DossierProduct(MethodView):
    @dossier.response(200, s.ProductOut)
    @dossier.alt_response(404, schema=s.ErrorOut, description="No such product of yours")
    def get(self, product_id: int):
        """One of your products."""
        return _own(Product, product_id)

    @dossier.arguments(s.ProductIn())
    @dossier.response(200, s.ProductOut)
    @dossier.alt_response(404, schema=s.ErrorOut, description="No such product of yours")
    def put(self, values, product_id: int):
        """Replace one of your products' fields."""
        actor = _holder()
        _own(Product, product_id)
        product = products.update_product(db.session, actor, product_id, _product_raw(values))
        db.session.commit()
        return product


def _own(model, object_id: int):
    """One of the calling holder's own objects, by the one tenant-scoped lookup path."""
    return tenancy.get_visible(db.session, _holder(), model, object_id)


@dossier.route("/dossier/products/<int:product_id>/images")
class DossierProductImages(MethodView):
    @idempotent
    @dossier.arguments(s.ImageIn())
    @dossier.response(201, s.ImageOut)
    @dossier.alt_response(422, schema=s.ErrorOut, description="Not an acceptable image")
    def post(self, values, product_id: int):
        """Add a reference image (base64) to one of your products."""
        actor = _holder()
        _own(Product, product_id)
        try:
            data = base64.b64decode(values["data"], validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError({"data": "not valid base64"}) from None
        image, _ = products.add_reference_image(db.session, actor, blobs(), upload_policy(), kind=values["kind"],
                                                data=data, filename=values["filename"], product_id=product_id)
        commit_created()
        return image


@dossier.route("/dossier/suppliers")
class DossierSuppliers(MethodView):
    @dossier.response(200, s.SupplierOut(many=True))
    def get(self):
        """Your authorised supply chain."""
        actor = _holder()
        return db.session.scalars(select(Supplier).where(Supplier.organisation_id == actor.organisation_id)
                                  .order_by(Supplier.id)).all()

    @idempotent
    @dossier.arguments(s.SupplierIn())
    @dossier.response(201, s.SupplierOut)
    @dossier.alt_response(422, schema=s.ErrorOut, description="A field breaks a rule")
    def post(self, values):
        """Add an authorised supplier."""
        actor = _holder()
        supplier = suppliers.add_supplier(db.session, actor, actor.organisation_id, values)
        commit_created()
        return supplier


# -- the readable documentation ---------------------------------------------------------------

docs = FlaskBlueprint("api_docs", __name__)


@docs.get("/api/v1/docs")
def api_docs():
    """The OpenAPI document as a page (no script from elsewhere: the CSP allows none)."""
    spec = current_app.extensions["api"].spec.to_dict()
    return render_template("api/docs.html", ref=reference.build(spec), prose=reference.prose)
