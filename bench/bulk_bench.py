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

from bench.appsetup import fresh_app, seed_registry
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
    app, env = fresh_app(work, args.database, args.redis)
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
