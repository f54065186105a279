"""Bulk screening end to end: a manifest of ``--lines`` lines (no photos) against ``--marks``
registered word marks, through the real app code and database.

    .venv/bin/python -m bench.bulk_bench                          # 1,000,000 lines, 10,000 marks
    .venv/bin/python -m bench.bulk_bench --lines 100000 --workers 1 2
    .venv/bin/python -m bench.bulk_bench --database postgresql://postgres@127.0.0.1:5432/test

For each worker count asked for (``--workers``, default ``1 2``) the same manifest is
submitted and screened: with one worker in this process (the thread runner's code path), with
more as RQ workers (``python -m registry.worker``) on the Redis at ``--redis``. Timed end to
end: stored, read and validated, chunked, every line screened, hits stored. It also reports
the peak memory of a worker process that has loaded the saved engine and screened a chunk,
and a baseline in the same run: ``rapidfuzz.process.extractOne(brand, marks, WRatio)`` per
line on a sample, scaled to the whole manifest.

About 2% of the lines imitate a registered mark (look-alike spellings); the rest are goods of
unregistered brands or none.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.cases import lookalike, make_brand_name
from bench.text_bench import make_marks

_GOODS = ("sports shoes", "leather handbag", "sunglasses", "cotton t-shirt", "wrist watch", "perfume 100ml",
          "baseball cap", "phone case", "wallet", "denim jeans", "scarf", "headphones", "toy car", "belt",
          "backpack", "garden hose", "ceramic mug", "usb cable", "notebook", "kitchen knife")


def write_manifest(path: Path, lines: int, marks: list[str], seed: int) -> int:
    """The manifest as a CSV file; returns how many lines imitate a registered mark."""
    rng = random.Random(f"manifest:{seed}")
    imitations = 0
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write("parcel_id,goods_description,brand,shipper,hs_code,value,currency,origin\n")
        for i in range(lines):
            r = rng.random()
            if r < 0.02:
                brand = lookalike(rng.choice(marks), rng)
                imitations += 1
            elif r < 0.6:
                brand = make_brand_name(rng)
            else:
                brand = ""
            goods = rng.choice(_GOODS)
            out.write(f"P{i:08d},{goods} {rng.randint(1, 99)} pcs,{brand},{make_brand_name(rng)} Trading Co,"
                      f"{rng.choice(('6403.99', '4202.21', '9004.10', '6109.10', '8518.30'))},"
                      f"{rng.randint(1, 400)}.{rng.randint(0, 99):02d},EUR,{rng.choice(('CN', 'VN', 'TR', 'IN'))}\n")
    return imitations


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


def run_job(app, manifest: Path, workers: int, env: dict[str, str]) -> dict:
    from registry import jobs
    from registry.extensions import db
    from registry.models import BulkJob, Role, User
    from registry.services import bulk

    with app.app_context():
        officer = db.session.query(User).filter_by(role=Role.OFFICER).first()
        started = time.perf_counter()
        with open(manifest, "rb") as stream:
            job = bulk.submit_manifest(db.session, officer, app.extensions["blobs"], stream, manifest.name,
                                       max_bytes=app.config["MAX_MANIFEST_BYTES"])
        db.session.commit()
        job_id = job.id
        procs = []
        if workers == 1:
            bulk.prepare_job(db.session, app.extensions["blobs"], app.config["BULK_ENGINE_DIR"], job_id,
                             chunk_lines=app.config["BULK_CHUNK_LINES"])
            prepared = time.perf_counter()
            bulk.drain(db.session, app.extensions["blobs"], job_id)
        else:
            procs = [subprocess.Popen([sys.executable, "-m", "registry.worker"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
            jobs.start(app, job_id)
            prepared = None
            while True:
                db.session.expire_all()
                state = db.session.get(BulkJob, job_id)
                if prepared is None and state.state == "running":
                    prepared = time.perf_counter()
                if state.state in bulk.TERMINAL:
                    break
                time.sleep(0.25)
        total = time.perf_counter() - started
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        db.session.expire_all()
        job = db.session.get(BulkJob, job_id)
        return {"workers": workers, "state": job.state, "lines": job.lines_done, "hits": job.hits,
                "total_s": total, "prepare_s": (prepared or time.perf_counter()) - started,
                "snapshot": job.snapshot_id, "engine_file": job.engine_file}


WORKER_MEMORY = r"""
import gzip, json, resource, sys
from registry.services import bulk
engine = bulk.load_engine(sys.argv[1])
lines = [json.loads(t) for t in gzip.decompress(open(sys.argv[2], "rb").read()).decode().splitlines()]
for line in lines:
    bulk.screen_line(engine, line)
with open("/proc/self/status") as fh:
    print(next(l.split()[1] for l in fh if l.startswith("VmHWM:")))
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--marks", type=int, default=10_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--database", default="", help="SQLAlchemy URL (default: a fresh SQLite file)")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    ap.add_argument("--baseline", type=int, default=2000, help="lines timed for the baseline")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bulk-bench-"))
    database = args.database or f"sqlite:///{work / 'bench.sqlite3'}"
    config = {"SQLALCHEMY_DATABASE_URI": database.replace("postgresql://", "postgresql+psycopg://", 1),
              "BLOB_DIR": str(work / "blobs"), "SIGNING_KEY_FILE": str(work / "key.pem"), "SECRET_KEY": "bench",
              "BULK_ENGINE_DIR": str(work / "engines"), "REDIS_URL": args.redis, "BULK_QUEUE": f"bench-{os.getpid()}",
              "ENGINE_OCR": False}
    env = {**os.environ, "DATABASE_URL": config["SQLALCHEMY_DATABASE_URI"], "BLOB_DIR": config["BLOB_DIR"],
           "SIGNING_KEY_FILE": config["SIGNING_KEY_FILE"], "SECRET_KEY": "bench", "REDIS_URL": args.redis,
           "BULK_QUEUE": config["BULK_QUEUE"], "BULK_ENGINE_DIR": config["BULK_ENGINE_DIR"]}
    from flask_migrate import upgrade

    from registry import create_app
    from registry.extensions import db
    from registry.models import Role
    from registry.services import users

    app = create_app(config)
    with app.app_context():
        if database.startswith("postgresql"):
            from registry.models import Base

            Base.metadata.drop_all(db.engine)
            db.session.execute(db.text("DROP TABLE IF EXISTS alembic_version"))
            db.session.commit()
        upgrade()
        users.create_user(db.session, None, email="bench@customs.example", name="Bench", password="bench-password-1",
                          role=Role.OFFICER)
        db.session.commit()
    marks = make_marks(args.marks, args.seed)
    t0 = time.perf_counter()
    seed_registry(app, marks, args.seed)
    print(f"registry: {len(marks):,} word marks seeded in {time.perf_counter() - t0:.1f} s")
    manifest = work / "manifest.csv"
    imitations = write_manifest(manifest, args.lines, marks, args.seed)
    print(f"manifest: {args.lines:,} lines, {manifest.stat().st_size / 1e6:.0f} MB, {imitations:,} imitate a mark")

    results = []
    for workers in args.workers:
        result = run_job(app, manifest, workers, env)
        results.append(result)
        print(f"{workers} worker(s): {result['state']}, {result['lines']:,} lines in {result['total_s']:.1f} s "
              f"(read and validated in {result['prepare_s']:.1f} s), {result['lines'] / result['total_s']:,.0f} lines/s, "
              f"{result['hits']:,} hits")
    if len(results) > 1:
        print(f"speed-up {results[-1]['workers']} workers vs 1: {results[0]['total_s'] / results[-1]['total_s']:.2f}x")

    # Memory of one worker: load the saved engine and screen one chunk, in a fresh process.
    import glob

    chunk = sorted(glob.glob(str(work / "blobs" / "*" / "*" / "*")), key=os.path.getsize)
    chunk_file = next(p for p in chunk if open(p, "rb").read(2) == b"\x1f\x8b")
    peak_kib = int(subprocess.run([sys.executable, "-c", WORKER_MEMORY, results[0]["engine_file"], chunk_file],
                                  capture_output=True, text=True, check=True, env=env).stdout.strip())
    print(f"worker memory with the {len(marks):,}-mark engine loaded, after a chunk: {peak_kib / 1024:.0f} MiB (VmHWM)")

    from rapidfuzz import fuzz, process

    rng = random.Random(args.seed)
    sample = [lookalike(rng.choice(marks), rng) if rng.random() < 0.5 else make_brand_name(rng)
              for _ in range(args.baseline)]
    t0 = time.perf_counter()
    for brand in sample:
        process.extractOne(brand, marks, scorer=fuzz.WRatio)
    per_line = (time.perf_counter() - t0) / len(sample)
    baseline_total = per_line * args.lines
    print(f"baseline extractOne(WRatio) per line: {per_line * 1e3:.2f} ms -> {baseline_total:,.0f} s for the manifest; "
          f"the job is {baseline_total / results[0]['total_s']:.1f}x faster")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
