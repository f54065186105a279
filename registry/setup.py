"""Wiring done once by ``create_app``: database, security, templates, storage, blueprints."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, make_response, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.routing import IntegerConverter

from registry.extensions import csrf, db, limiter, login_manager, migrate, talisman
from registry.models.base import ID_MAX
from registry.services.errors import Forbidden, NotFound
from registry.storage import BlobStore, DisplayCopies

MIGRATIONS = str(Path(__file__).resolve().parent / "migrations")


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets readers work during a write; FULL makes a commit durable on power loss
    # (evidence is written here); foreign keys are off in SQLite unless asked for.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


@event.listens_for(Engine, "begin")
def _transaction_begins(connection) -> None:
    connection.info["wrote"] = False


@event.listens_for(Engine, "before_cursor_execute")
def _note_writes(connection, _cursor, statement: str, _parameters, _context, _executemany) -> None:
    # Anything but a plain SELECT counts as a write (INSERT, UPDATE, DELETE, a data-modifying
    # WITH, a SAVEPOINT): the transaction then ends as the application says, or rolls back.
    if statement.lstrip()[:6].upper() != "SELECT":
        connection.info["wrote"] = True


def init_database(app: Flask) -> None:
    from registry.services import tenancy  # noqa: F401  (sets each transaction's tenant)

    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)

    # Registered after Flask-SQLAlchemy's, so it runs before the session is removed.
    @app.teardown_appcontext
    def end_reads_with_commit(error: BaseException | None) -> None:
        """A request that only read ends its transaction with COMMIT, which for reads is what
        ROLLBACK is, on PostgreSQL: psycopg forgets every prepared statement of the connection
        on ROLLBACK (and sends DEALLOCATE ALL), so each read-only request (a refused token, a
        check or case read, most pages) made the next requests plan all their statements
        again. Any write, pending change or unhandled error still rolls back."""
        if error is not None or not db.session.registry.has():
            return
        session = db.session()
        if not session.in_transaction() or session.new or session.dirty or session.deleted:
            return
        try:
            connection = session.connection()
            if connection.dialect.name == "postgresql" and connection.info.get("wrote") is False:
                session.commit()
        except SQLAlchemyError:
            pass  # the session's removal rolls back, as for any request


def init_security(app: Flask) -> None:
    from registry.services import auth, tenancy

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see this page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # sessions are checked server-side instead

    @login_manager.user_loader
    def load_user(token: str):
        user = auth.load_session(db.session, token)
        tenancy.bind_actor(db.session, user)  # the database's line follows the signed-in user
        return user

    csrf.init_app(app)
    limiter.init_app(app)
    talisman.init_app(
        app,
        force_https=app.config["FORCE_HTTPS"],
        session_cookie_secure=app.config["SESSION_COOKIE_SECURE"],
        session_cookie_http_only=True,
        frame_options="DENY",
        referrer_policy="same-origin",
        content_security_policy={
            "default-src": "'self'",
            "script-src": "'self'",
            "style-src": "'self'",
            "img-src": "'self' data: blob:",
            "object-src": "'none'",
            "base-uri": "'none'",
            "form-action": "'self'",
            "frame-ancestors": "'none'",
        },
        content_security_policy_nonce_in=["script-src"],
    )

    @app.after_request
    def no_store_for_signed_in(response):
        # Pages and API replies for a signed-in user or a token hold confidential data: keep
        # them out of every cache.
        signed_in = g.get("api_user") is not None or current_user.is_authenticated
        if signed_in and not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    from registry.api import error_response, is_api_request

    @app.errorhandler(NotFound)
    @app.errorhandler(404)
    def not_found(_error):
        db.session.rollback()
        if is_api_request():
            return error_response(404, "no such resource")
        return render_template("errors/404.html"), 404

    @app.errorhandler(405)
    def not_allowed(error):
        if is_api_request():
            return error_response(405, "this method is not allowed here")
        return error

    @app.errorhandler(500)
    def server_error(_error):
        db.session.rollback()
        if is_api_request():
            return error_response(500, "the server failed; nothing was changed")
        return render_template("errors/400.html", message="Something went wrong on our side; nothing was saved."), 500

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def database_unavailable(error):
        # The database is down, restarting, or out of connections: the request's transaction
        # is rolled back, so nothing of it was saved. A 503 with Retry-After (not a 500) tells
        # people and clients that trying again shortly is the right thing to do.
        app.logger.warning("database unavailable during %s %s: %s", request.method, request.path,
                           (str(error).strip().splitlines() or [type(error).__name__])[0])
        try:
            db.session.rollback()
        except SQLAlchemyError:
            pass  # the connection is already gone; the pool drops it
        # The page must render without the database: don't (re)load the signed-in user for it.
        login_manager._update_request_context_with_user()
        message = "the database is unavailable; nothing was saved, try again in a moment"
        if is_api_request():
            response = error_response(503, message)
        else:
            response = make_response(render_template(
                "errors/400.html", message="The database is unavailable; nothing was saved. "
                                           "Try again in a moment."), 503)
        response.headers["Retry-After"] = "5"
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(Forbidden)
    @app.errorhandler(403)
    def forbidden(error):
        db.session.rollback()
        message = str(error) if isinstance(error, Forbidden) else "Your role does not allow this."
        if is_api_request():
            return error_response(403, message)
        return render_template("errors/403.html", message=message), 403

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        db.session.rollback()
        return render_template("errors/400.html", message=(
            "This form has expired or was sent without its security token, so nothing was "
            "saved. Go back, reload the page and try again.")), 400

    @app.errorhandler(413)
    def too_large(_error):
        if is_api_request():
            return error_response(413, "the request is larger than this service accepts; nothing was stored")
        return render_template("errors/400.html", message=(
            "The upload is larger than this service accepts; nothing was saved.")), 413

    @app.errorhandler(429)
    def too_many(_error):
        if is_api_request():
            return error_response(429, "too many requests for this token; slow down")
        return render_template("errors/400.html", message=(
            "Too many attempts. Wait a minute before trying again.")), 429


def init_templates(app: Flask) -> None:
    from govuk_frontend_wtf.main import WTFormsHelpers

    app.jinja_loader = ChoiceLoader([
        FileSystemLoader(app.template_folder),
        PrefixLoader({
            "govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja"),
            "govuk_frontend_wtf": PackageLoader("govuk_frontend_wtf"),
        }),
    ])
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    WTFormsHelpers(app)

    from registry.web import navigation

    app.context_processor(navigation.template_context)
    app.jinja_env.filters["days_away"] = navigation.days_away


def init_storage(app: Flask) -> None:
    from registry.services.engine_cache import EngineCache

    from registry.services import signing

    app.extensions["blobs"] = BlobStore(app.config["BLOB_DIR"])
    blob_dir = Path(app.config["BLOB_DIR"])
    app.extensions["display_copies"] = DisplayCopies(app.config["DISPLAY_COPY_DIR"]
                                                     or blob_dir.with_name(f"{blob_dir.name}-display-copies"))
    app.extensions["signer"] = signing.load_or_create(app.config["SIGNING_KEY_FILE"])
    app.extensions["engine"] = EngineCache(ocr=app.config["ENGINE_OCR"])


class IdConverter(IntegerConverter):
    """``<int:...>`` ids stop at the database's integer range: a larger one is simply not found
    (instead of overflowing in the database driver)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", ID_MAX)
        super().__init__(map, *args, **kwargs)


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["int"] = IdConverter
    from registry.api import init_api
    from registry.web import (account, admin, auth, bulk, cases, checks, dossier, evidence, images, main,
                              registry_browse)

    for module in (main, auth, account, dossier, registry_browse, checks, bulk, cases, evidence, admin, images):
        app.register_blueprint(module.bp)
    init_api(app)


def register_cli(app: Flask) -> None:
    from registry import cli

    cli.register(app)
