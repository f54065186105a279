"""What the benchmarks share: an app on a fresh database, and a registry of generated marks.

The database is a new SQLite file in the benchmark's work folder unless a URL is given; a
PostgreSQL database given is emptied first (its public schema dropped and made again), so
point it at one kept for benchmarks, never at data you want.
"""

from __future__ import annotations

import os
import random
import tempfile
from datetime import date, timedelta
from pathlib import Path

BENCH_OFFICER = "bench@customs.example"
BENCH_PASSWORD = "bench-password-1"


def fresh_app(work: Path, database: str, redis: str, **overrides):
    """The app on an empty, migrated database with one officer; and the environment that
    makes a worker or server process in another process see the same database and files."""
    from flask_migrate import upgrade

    from registry import create_app
    from registry.config import normalise_database_url
    from registry.extensions import db
    from registry.models import Role
    from registry.services import users

    url = normalise_database_url(database or f"sqlite:///{work / 'bench.sqlite3'}")
    if url.startswith("postgresql"):
        _migrate_as_owner(url)
        # Served, seeded and screened as production's app connects: a role that owns nothing
        # and is held to row-level security, so its cost is in every figure.
        from tests.pgroles import as_application_role

        url = as_application_role(url)
    config = {"SQLALCHEMY_DATABASE_URI": url, "BLOB_DIR": str(work / "blobs"),
              "SIGNING_KEY_FILE": str(work / "key.pem"), "SECRET_KEY": "bench",
              "BULK_ENGINE_DIR": str(work / "engines"), "REDIS_URL": redis, "BULK_QUEUE": f"bench-{os.getpid()}",
              "ENGINE_OCR": False, **overrides}
    env = {**os.environ, "DATABASE_URL": url, "BLOB_DIR": config["BLOB_DIR"],
           "SIGNING_KEY_FILE": config["SIGNING_KEY_FILE"], "SECRET_KEY": "bench", "REDIS_URL": redis,
           "BULK_QUEUE": config["BULK_QUEUE"], "BULK_ENGINE_DIR": config["BULK_ENGINE_DIR"], "ENGINE_OCR": "0"}
    app = create_app(config)
    with app.app_context():
        if not url.startswith("postgresql"):
            upgrade()
        users.create_user(db.session, None, email=BENCH_OFFICER, name="Bench", password=BENCH_PASSWORD,
                          role=Role.OFFICER)
        db.session.commit()
    return app, env


def _migrate_as_owner(url: str) -> None:
    """Empty the database given (the whole schema: a migration's policies and functions would
    otherwise keep tables from being dropped or be made twice) and migrate it as its owner."""
    from flask_migrate import upgrade

    from registry import create_app
    from registry.extensions import db

    with tempfile.TemporaryDirectory() as instance:
        owner = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                            "SIGNING_KEY_FILE": str(Path(instance) / "key.pem"), "BLOB_DIR": instance})
        with owner.app_context():
            db.session.execute(db.text("DROP SCHEMA public CASCADE"))
            db.session.execute(db.text("CREATE SCHEMA public"))
            db.session.commit()
            upgrade()
            db.engine.dispose()


def seed_registry(app, marks: list[str], seed: int) -> None:
    """``len(marks)`` rights (word marks with customs protection) with one product each, under
    100 approved holders, inserted directly: the registry's own import is not what is timed."""
    from registry.extensions import db
    from registry.models import Organisation, OrganisationStatus, Product, Right

    rng = random.Random(f"registry:{seed}")
    today = date.today()
    with app.app_context():
        holders = [Organisation(name=f"Holder {i:03d} GmbH", country="DE", status=OrganisationStatus.APPROVED)
                   for i in range(100)]
        db.session.add_all(holders)
        db.session.flush()
        rights, products = [], []
        for i, mark in enumerate(marks):
            rights.append({"organisation_id": holders[i % 100].id, "kind": "word", "mark_text": mark,
                           "registration_number": f"EU{i:08d}", "office": "EUIPO", "nice_classes": [25],
                           "protection_number": f"AFA-{i}", "protection_jurisdictions": ["EU"],
                           "protection_valid_from": today - timedelta(days=30),
                           "protection_valid_until": today + timedelta(days=365)})
        db.session.execute(Right.__table__.insert(), [_with_defaults(Right, r) for r in rights])
        ids = db.session.execute(Right.__table__.select().with_only_columns(Right.id, Right.organisation_id)
                                 .order_by(Right.id)).all()
        for right_id, organisation_id in ids:
            low = round(rng.uniform(20, 300), 2)
            products.append({"organisation_id": organisation_id, "right_id": right_id, "name": f"Product {right_id}",
                             "gtins": [], "hs_codes": ["6403.99"], "price_min": low, "price_max": low * 2,
                             "currency": "EUR", "production_countries": ["IT"], "intended_markets": [],
                             "counterfeit_clues": []})
        db.session.execute(Product.__table__.insert(), [_with_defaults(Product, p) for p in products])
        db.session.commit()


def _with_defaults(model, values: dict) -> dict:
    from registry.models.base import utcnow

    row = dict(values)
    for column in model.__table__.columns:
        if column.name in row or column.primary_key:
            continue
        if column.name in ("created_at", "updated_at"):
            row[column.name] = utcnow()
        elif column.default is not None and not callable(column.default.arg):
            row[column.name] = column.default.arg
        elif column.default is not None:
            row[column.name] = column.default.arg(None) if column.default.is_callable else None
        elif column.nullable:
            row[column.name] = None
        else:
            row[column.name] = ""
    return row


