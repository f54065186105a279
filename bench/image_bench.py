"""Benchmark of the image index: build, save/load, screening latency, memory and accuracy.

    .venv/bin/python -m bench.image_bench                    # 3,000 brands / 6,000 images
    .venv/bin/python -m bench.image_bench --brands 30000     # 30,000 brands / 60,000 images
    .venv/bin/python -m bench.image_bench --brands 300 --cases 20   # a quick look

The registry holds ``--labelled`` brands whose photos are generated as labelled cases plus
filler brands drawn the same way up to ``--brands``; each brand has a logo and a packaging
image. Each case is a declaration with ``--photos`` photos of 4000x3000 JPEG bytes (the
imitated brand's packaging and logo for "photo_only" cases, an unregistered brand's for the
negatives). Latency is one declaration: decoding its photos plus ``ImageIndex.search``, on
one core (OpenCV limited to one thread). A baseline that takes the plain pHash nearest
neighbour of each whole photo is measured on the same photos.

Generation and the build use ``--workers`` processes (default 2).

``--engine`` then also builds the whole ``Engine`` of the same brands (word marks, codes and
the image index, built again), saves it, and reports the peak memory of a fresh process that
loads it and screens one declaration with its photos (OCR off): what a screening worker
holds. Filler brands get names drawn as ``iter_reference_images`` draws them.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from itertools import chain

import cv2
import numpy as np

from bench.cases import iter_reference_images, make_brand_name, make_case_set
from matchers import Engine, PriceRange, Reference, Supplier
from matchers.image import ImageIndex, _phash
from matchers.photos import decode_all


def _rss_mib() -> float:
    """Current resident memory of this process, MiB (from /proc, falling back to the peak)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _filler_chunk(args: tuple[int, int, int]) -> list[tuple[str, int, bytes]]:
    start, count, seed = args
    return list(iter_reference_images(count, seed=seed, start=start))


def _filler(n: int, workers: int, seed: int, chunk: int = 100):
    """Filler reference images, generated in worker processes and streamed in order."""
    jobs = [(100_000 + s, min(chunk, n - s), seed) for s in range(0, n, chunk)]
    if workers <= 1:
        for job in jobs:
            yield from _filler_chunk(job)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for items in pool.map(_filler_chunk, jobs):
            yield from items


def _peak_of(code: str, *args: str) -> str:
    """Run ``code`` in a fresh interpreter that prints its VmHWM in MiB; return that."""
    # VmHWM, not ru_maxrss: the latter can carry the parent's peak across fork+exec.
    code += (
        "; print([int(l.split()[1]) // 1024 for l in open('/proc/self/status') "
        "if l.startswith('VmHWM')][0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    return out.stdout.strip() or f"unknown ({out.stderr.strip()[-200:]})"


def _whole_engine(cs, paths, args) -> None:
    """Build, save and load the whole engine of the benchmark's brands; print its memory."""
    files: dict[str, list[str]] = {}
    for brand_id, _idx, path in paths:
        files.setdefault(brand_id, []).append(path)
    refs = [replace(r, images=tuple(files.pop(r.brand_id))) for r in cs.references]
    for brand_id, imgs in files.items():
        # Filler ids are B<n>; their names are drawn as iter_reference_images draws them.
        rng = random.Random(f"bulk-name:{args.seed + 1}:{int(brand_id[1:])}")
        name = make_brand_name(rng)
        refs.append(
            Reference(
                brand_id=brand_id,
                name=name,
                images=tuple(imgs),
                authorized_suppliers=(Supplier(f"{name} Manufacturing Ltd", "IT"),),
                price_range=PriceRange(10, 30, "EUR"),
                hs_codes=("6403.99",),
                production_countries=("IT",),
            )
        )
    t0 = time.perf_counter()
    engine = Engine(refs, ocr=False, workers=args.workers)
    t_build = time.perf_counter() - t0
    print(
        f"whole engine of {len(refs)} brands built in {t_build:.1f} s with {args.workers} "
        f"workers (load average {_load()})"
    )
    case = next(c for c in cs.cases if c.expected_brand_id is not None)
    with tempfile.TemporaryDirectory() as tmp:
        engine.save(os.path.join(tmp, "engine"))
        del engine
        photo_files = []
        for i, data in enumerate(case.query.photos):
            photo_files.append(os.path.join(tmp, f"photo{i}.jpg"))
            with open(photo_files[-1], "wb") as fh:
                fh.write(data)
        probe = (
            "import sys; from matchers import Engine, Query; "
            "e = Engine.load(sys.argv[1], ocr=False); "
            "q = Query(description='leather shoes', photos=tuple(open(p, 'rb').read() "
            "for p in sys.argv[2:])); e.screen(q)"
        )
        peak = _peak_of(probe, os.path.join(tmp, "engine"), *photo_files)
    print(
        f"memory of a fresh process that loads the whole engine and screens a declaration "
        f"with {len(photo_files)} photos: peak RSS {peak} MiB"
    )


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def _load() -> str:
    """1- and 5-minute load averages: other work on the machine inflates the timings."""
    one, five, _ = os.getloadavg()
    return f"{one:.1f} / {five:.1f} on {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--brands", type=int, default=3000, help="registered brands (2 images each)"
    )
    ap.add_argument(
        "--labelled",
        type=int,
        default=100,
        help="registered brands with labelled photos",
    )
    ap.add_argument(
        "--cases",
        type=int,
        default=60,
        help="cases per kind (photo_only, unregistered)",
    )
    ap.add_argument("--photos", type=int, default=2, help="photos per case")
    ap.add_argument("--size", default="4000x3000", help="photo size WxH")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--engine",
        action="store_true",
        help="also measure the memory of the whole engine (builds it again)",
    )
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    labelled = min(args.labelled, args.brands)

    t0 = time.perf_counter()
    cs = make_case_set(
        labelled,
        seed=args.seed,
        cases_per_kind=args.cases,
        kinds=("photo_only", "unregistered"),
        photo_size=(w, h),
        photos_per_case=args.photos,
    )
    t_cases = time.perf_counter() - t0
    print(
        f"generated {len(cs.cases)} cases of {args.photos} photo(s) {w}x{h} in {t_cases:.1f} s"
    )

    # Reference images are written to files first, as a registry's blob store holds them,
    # so that the build is timed on its own.
    blob_dir = tempfile.TemporaryDirectory(prefix="image-bench-")
    t0 = time.perf_counter()
    paths: list[tuple[str, int, str]] = []
    for brand_id, idx, data in chain(
        ((r.brand_id, i, img) for r in cs.references for i, img in enumerate(r.images)),
        _filler(args.brands - labelled, args.workers, args.seed + 1),
    ):
        path = os.path.join(blob_dir.name, f"{brand_id}-{idx}")
        with open(path, "wb") as fh:
            fh.write(data)
        paths.append((brand_id, idx, path))
    print(f"drew {len(paths)} reference images in {time.perf_counter() - t0:.1f} s")

    rss0 = _rss_mib()
    t0 = time.perf_counter()
    index = ImageIndex(paths, workers=args.workers)
    t_build = time.perf_counter() - t0
    gc.collect()
    rss1 = _rss_mib()
    if not args.engine:
        blob_dir.cleanup()
    print(
        f"built index of {len(index)} reference images ({args.brands} brands) from files in "
        f"{t_build:.1f} s with {args.workers} workers; {len(index.notes)} skipped "
        f"(load average {_load()})"
    )
    print(
        f"memory: index arrays {index.nbytes / 2**20:.0f} MiB; process RSS {rss1:.0f} MiB "
        f"(+{rss1 - rss0:.0f} MiB while building)"
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "image-index")
        t0 = time.perf_counter()
        index.save(path)
        t_save = time.perf_counter() - t0
        del index
        gc.collect()
        t0 = time.perf_counter()
        index = ImageIndex.load(path)
        t_load = time.perf_counter() - t0
        # What a screening worker holds: a fresh process that loads the saved index and
        # searches one photo (this process also holds the cases and the build's leftovers).
        probe = (
            "import sys; from matchers.image import ImageIndex; "
            "from matchers.photos import decode_all; idx = ImageIndex.load(sys.argv[1]); "
            "from bench.cases import make_case_set; "
            "cs = make_case_set(2, seed=9, cases_per_kind=1, kinds=('photo_only',)); "
            "idx.search(decode_all(cs.cases[0].query.photos)[0])"
        )
        worker_rss = _peak_of(probe, path)
    print(f"save {t_save:.2f} s, load {t_load:.2f} s")
    print(
        f"memory of a fresh process that loads the index and screens a photo: peak RSS {worker_rss} MiB"
    )

    # One core for the latency figures.
    cv2.setNumThreads(1)
    latencies: list[float] = []
    cpu: list[float] = []
    right = wrong = missed = false_accept = 0
    base_right = base_false = 0
    photo_right = photo_total = photo_false = photo_neg = 0
    n_pos = n_neg = 0
    phash_bits = np.unpackbits(index.phash, axis=1)
    for case in cs.cases:
        t0 = time.perf_counter()
        c0 = time.process_time()
        photos, _notes = decode_all(case.query.photos)
        hits = index.search(photos)
        cpu.append(time.process_time() - c0)
        latencies.append(time.perf_counter() - t0)
        top = hits[0].brand_id if hits else None
        for pi in range(len(photos)):
            mine = [h.brand_id for h in hits if h.evidence.photo_index == pi]
            if case.expected_brand_id is None:
                photo_neg += 1
                photo_false += bool(mine)
            else:
                photo_total += 1
                photo_right += bool(mine) and mine[0] == case.expected_brand_id
        # Baseline: the plain pHash nearest neighbour of each whole photo.
        best = (10**9, None)
        for p in photos:
            if p is None:
                continue
            d = (np.unpackbits(_phash(p.image))[None, :] != phash_bits).sum(axis=1)
            k = int(np.argmin(d))
            best = min(best, (int(d[k]), index.brand_ids[k]))
        base_top = best[1] if best[0] <= 12 else None
        if case.expected_brand_id is None:
            n_neg += 1
            false_accept += top is not None
            base_false += base_top is not None
        else:
            n_pos += 1
            if top == case.expected_brand_id:
                right += 1
            elif top is None:
                missed += 1
            else:
                wrong += 1
            base_right += best[1] == case.expected_brand_id
    ms = [x * 1000 for x in latencies]
    cpu_ms = [x * 1000 for x in cpu]
    print(
        f"screening latency per declaration ({args.photos} photos {w}x{h} JPEG, decode + search, 1 thread): "
        f"wall p50 {statistics.median(ms):.0f} ms, p95 {_pct(ms, 0.95):.0f} ms, max {max(ms):.0f} ms; "
        f"CPU p50 {statistics.median(cpu_ms):.0f} ms, p95 {_pct(cpu_ms, 0.95):.0f} ms "
        f"(load average {_load()})"
    )
    print(
        f"image index: photo_only top-1 {right / max(n_pos, 1):.3f} ({right}/{n_pos}; "
        f"{wrong} wrong brand, {missed} nothing found); unregistered accepted "
        f"{false_accept / max(n_neg, 1):.3f} ({false_accept}/{n_neg})"
    )
    print(
        f"per photo: top-1 {photo_right / max(photo_total, 1):.3f} ({photo_right}/{photo_total}); "
        f"unregistered photos accepted {photo_false / max(photo_neg, 1):.3f} ({photo_false}/{photo_neg})"
    )
    print(
        f"baseline (pHash nearest neighbour): photo_only top-1 {base_right / max(n_pos, 1):.3f}; "
        f"unregistered within 12 bits {base_false / max(n_neg, 1):.3f}"
    )
    print(
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    if args.engine:
        del index
        gc.collect()
        _whole_engine(cs, paths, args)
        blob_dir.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
