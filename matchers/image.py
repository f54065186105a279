"""Finding registered logos and packaging in photos of goods.

Perceptual hashes of a whole photo only recognise near-identical copies (a catalogue picture
reused by a seller); in a photo of a box at an angle on a cluttered table they find nothing.
So the index has two paths:

1. **Hash fast path.** The PDQ hash of every reference image is kept; a photo's eight PDQ
   dihedral variants (rotations and mirror images) are compared with all of them in one
   numpy XOR + popcount. A near-identical copy is reported at once.
2. **Local features.** Up to ``ref_features`` ORB keypoints per reference image go into one
   descriptor matrix for all references, indexed by a multi-table locality-sensitive hash
   over subsets of descriptor bits (numpy arrays only, so it saves and loads fast). A
   photo's ORB descriptors look up their approximate nearest neighbours in the whole
   registry at once and vote for reference images (a ratio test across brands keeps
   generic patches from voting). Only the best-voted few are matched exactly (Hamming,
   Lowe's ratio test) and verified with a USAC homography that must be geometrically sane
   (orientation-preserving, a plausible scale, a convex projected outline of reasonable
   area). The photo region is then warped back onto the reference and its colour-edge map
   compared with the reference's (the appearance check). A mirrored photo is tried when
   the photo as taken gives no verified match.

Acceptance combines the appearance check, the share of candidate matches that fit the
homography, and how much of the reference the inliers cover; it was calibrated on generated
photos (``bench/cases.py``) of brands that are not in the index, because a fixed
"15 inliers" rule accepts unrelated images at a high rate (the same letters in the same
font, barcodes and chequered bands give dozens of consistent matches).

Everything is deterministic: ORB is, the hash bits are chosen from a fixed seed, USAC is
seeded, and references are kept in a canonical order so that the order they are given in
does not matter.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .errors import ScreeningError
from .photos import DecodedPhoto, decode
from .types import ImageEvidence, ImageSource

__all__ = ["INDEX_FORMAT_VERSION", "ImageHit", "ImageIndex"]

#: 2: crowded hash buckets are stored empty and the tables share one flat order array.
#: Format 1 indexes still load (see :meth:`ImageIndex.load`).
INDEX_FORMAT_VERSION = 2

_SEED = 0x5EED
#: Side of the edge-strength thumbnail kept per reference image for the appearance check.
_THUMB = 64


@dataclass(frozen=True)
class ImageHit:
    """A verified appearance of one brand's reference image in one photo."""

    brand_id: str
    #: Confidence in [0, 1]; verified matches score at least 0.5.
    score: float
    evidence: ImageEvidence
    #: A sentence an officer can read, e.g. "photo 1 shows reference image 2 (...)".
    reason: str


@dataclass(frozen=True)
class _Params:
    """Tuning of the index; saved with it so that a loaded index behaves the same."""

    #: Reference images are resized to this long side before feature extraction.
    ref_side: int = 400
    #: ORB keypoints kept per reference image (memory grows linearly with it).
    ref_features: int = 400
    #: Photos are searched at this long side (a 4000x3000 photo is decoded at 1000x750).
    query_side: int = 640
    query_features: int = 1000
    lsh_tables: int = 6
    lsh_bits: int = 0  # 0: chosen from the number of descriptors
    #: Candidates verified per photo (and for the mirror image).
    shortlist: int = 6
    mirror_shortlist: int = 3
    min_votes: float = 1.0
    #: Hash buckets with more descriptors than this are skipped at lookup, so they are not
    #: stored either.
    max_bucket: int = 48
    relative_votes: float = 0.05
    vote_max_distance: int = 64
    vote_ratio: float = 0.85
    ratio: float = 0.8
    ransac_threshold: float = 6.0
    min_inliers: int = 12
    min_inlier_ratio: float = 0.3
    # Acceptance: appearance + ratio_weight * inlier share + spread_weight * inlier spread
    # must reach accept_at; the score reaches 1 at certain_at (see _verify and _make_hit).
    ratio_weight: float = 0.5
    spread_weight: float = 0.25
    accept_at: float = 1.25
    certain_at: float = 1.6
    pdq_max_distance: int = 40


# --------------------------------------------------------------------------------------------
# feature extraction (module level so that worker processes can run it)


def _orb(n: int) -> Any:
    # Fixed parameters: ORB itself is deterministic, so the same image always gives the same
    # keypoints in the same order.
    return cv2.ORB_create(
        nfeatures=n,
        scaleFactor=1.2,
        nlevels=8,
        edgeThreshold=15,
        patchSize=31,
        fastThreshold=12,
    )


def _gray(img: Any, side: int, *, upscale: bool) -> tuple[np.ndarray, float]:
    """Grey-level array with long side ``side`` (or less), and the factor applied."""
    arr = np.asarray(img.convert("L"))
    h, w = arr.shape
    f = side / max(w, h)
    if f < 1 or (upscale and f > 1):
        arr = cv2.resize(
            arr,
            (max(1, round(w * f)), max(1, round(h * f))),
            # Area averaging only where it matters (strong reductions); it is ~6x slower.
            interpolation=cv2.INTER_AREA if f < 0.5 else cv2.INTER_LINEAR,
        )
    else:
        f = 1.0
    return np.ascontiguousarray(arr), f


def _pdq_hashes(gray: np.ndarray, *, dihedral: bool) -> tuple[np.ndarray, int]:
    """PDQ hash(es) of a grey image packed as (k, 32) uint8, and the hash quality.

    PDQ reduces every image to 64x64 luminance before hashing, so it is fed a 128-pixel grey
    copy: the hash is practically the same and costs well under a millisecond.
    """
    import pdqhash

    h, w = gray.shape
    f = min(1.0, 128 / max(h, w))
    small = cv2.resize(
        gray, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA
    )
    rgb = np.ascontiguousarray(np.repeat(small[:, :, None], 3, axis=2))
    if dihedral:
        vecs, quality = pdqhash.compute_dihedral(rgb)
        bits = np.asarray(vecs, dtype=np.uint8)
    else:
        vec, quality = pdqhash.compute(rgb)
        bits = np.asarray(vec, dtype=np.uint8)[None, :]
    return np.packbits(bits, axis=1), int(quality)


def _phash(img: Any) -> np.ndarray:
    import imagehash

    h = imagehash.phash(img.convert("RGB"))
    return np.packbits(np.asarray(h.hash, dtype=np.uint8).reshape(-1))


def _reference_features(
    args: tuple[int, Any, _Params],
) -> tuple[int, dict[str, Any] | None, str | None]:
    """Decode one reference image and extract everything the index keeps about it."""
    pos, source, p = args
    try:
        photo = decode(source, target_side=max(p.ref_side * 2, 1000))
    except ScreeningError as exc:
        return pos, None, str(exc)
    except Exception as exc:  # noqa: BLE001 - a broken reference must not stop the build
        return pos, None, f"could not be decoded ({type(exc).__name__})"
    gray, _ = _gray(photo.image, p.ref_side, upscale=True)
    kps, desc = _orb(p.ref_features).detectAndCompute(gray, None)
    if desc is None:
        desc = np.zeros((0, 32), np.uint8)
        pts = np.zeros((0, 2), np.float32)
    else:
        pts = np.array([k.pt for k in kps], dtype=np.float32).reshape(-1, 2)
    pdq, quality = _pdq_hashes(gray, dihedral=False)
    return (
        pos,
        {
            "desc": np.ascontiguousarray(desc, dtype=np.uint8),
            "pts": pts,
            "size": (gray.shape[1], gray.shape[0]),
            "pdq": pdq[0],
            "pdq_quality": quality,
            "phash": _phash(photo.image),
            **_edge_thumbs(np.asarray(photo.image)),
        },
        None,
    )


# --------------------------------------------------------------------------------------------
# the locality-sensitive hash over binary descriptors


def _bit_selection(
    n_tables: int, n_bits: int, sample: np.ndarray | None = None
) -> np.ndarray:
    """Which descriptor bits make up each table's key.

    ORB's bits are neither perfectly balanced nor independent, and keys made of correlated
    bits pile descriptors into a few huge buckets (slow lookups that say little). So each
    table greedily takes balanced bits that are least correlated with the bits it already
    has, measured on a fixed sample of the reference descriptors, starting from a seeded
    random bit.
    """
    rng = np.random.default_rng(_SEED)
    if sample is None or sample.shape[0] < 256:
        return np.stack(
            [np.sort(rng.choice(256, n_bits, replace=False)) for _ in range(n_tables)]
        )
    bits = np.unpackbits(sample, axis=1).astype(np.float32)
    p = bits.mean(axis=0)
    corr = np.abs(np.corrcoef(bits.T))
    corr = np.nan_to_num(corr, nan=1.0)
    penalty = np.abs(p - 0.5)
    out = []
    for _ in range(n_tables):
        chosen = [int(rng.integers(256))]
        while len(chosen) < n_bits:
            score = corr[:, chosen].max(axis=1) + penalty + rng.uniform(0, 0.05, 256)
            score[chosen] = np.inf
            chosen.append(int(np.argmin(score)))
        out.append(np.sort(np.array(chosen)))
    return np.stack(out)


def _keys(desc: np.ndarray, selection: np.ndarray) -> np.ndarray:
    """(tables, n) uint32 bucket keys of descriptors (n, 32)."""
    out = np.empty((selection.shape[0], desc.shape[0]), np.uint32)
    weights = (1 << np.arange(selection.shape[1], dtype=np.uint64)).astype(np.uint64)
    step = 1 << 16
    for s in range(0, desc.shape[0], step):
        bits = np.unpackbits(desc[s : s + step], axis=1)
        for t, sel in enumerate(selection):
            out[t, s : s + step] = (bits[:, sel].astype(np.uint64) @ weights).astype(
                np.uint32
            )
    return out


def _lsh_bits_for(n: int) -> int:
    # Aim at a few dozen descriptors per bucket: enough that a true match still collides in
    # some table, few enough that a lookup stays cheap.
    return int(min(22, max(10, round(math.log2(max(n, 1) / 6)))))


# --------------------------------------------------------------------------------------------


class ImageIndex:
    """Hashes and local features of every reference image, searchable all at once."""

    def __init__(
        self,
        items: Iterable[tuple[str, int, ImageSource]],
        *,
        workers: int = 1,
        ref_side: int = 400,
        ref_features: int = 400,
        query_side: int = 640,
        query_features: int = 1000,
        lsh_tables: int = 6,
        min_inliers: int = 12,
        accept_at: float = 1.25,
    ) -> None:
        """Build the index from ``(brand_id, reference_image_index, image)`` items.

        Images that cannot be decoded are skipped and listed in :attr:`notes`. ``workers``
        > 1 extracts features in that many processes. The other keyword arguments tune the
        matcher and are saved with the index.
        """
        self.params = _Params(
            ref_side=ref_side,
            ref_features=ref_features,
            query_side=query_side,
            query_features=query_features,
            lsh_tables=lsh_tables,
            min_inliers=min_inliers,
            accept_at=accept_at,
        )
        self.notes: list[str] = []
        keys: list[tuple[str, int]] = []
        feats: list[dict[str, Any]] = []
        for key, feat, note in self._extract(items, workers):
            if feat is None:
                self.notes.append(
                    f"reference image {key[1] + 1} of brand {key[0]}: {note}"
                )
                continue
            keys.append(key)
            feats.append(feat)
        # A canonical order makes results independent of the order references came in.
        order = sorted(range(len(keys)), key=lambda i: keys[i])
        keys = [keys[i] for i in order]
        feats = [feats[i] for i in order]
        self._assemble(keys, feats)

    # -- building ---------------------------------------------------------------------------

    def _extract(self, items: Iterable[tuple[str, int, ImageSource]], workers: int):
        p = self.params
        pending: list[tuple[str, int, ImageSource]] = []

        def jobs(batch):
            return [(i, src, p) for i, (_, _, src) in enumerate(batch)]

        if workers > 1:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for item in items:
                    pending.append(item)
                    if len(pending) >= 256:
                        yield from self._collect(
                            pending,
                            pool.map(_reference_features, jobs(pending), chunksize=16),
                        )
                        pending = []
                if pending:
                    yield from self._collect(
                        pending,
                        pool.map(_reference_features, jobs(pending), chunksize=16),
                    )
        else:
            for item in items:
                _, feat, note = _reference_features((0, item[2], p))
                yield (str(item[0]), int(item[1])), feat, note

    @staticmethod
    def _collect(batch, results):
        for pos, feat, note in results:
            brand_id, idx, _ = batch[pos]
            yield (str(brand_id), int(idx)), feat, note

    def _assemble(
        self, keys: list[tuple[str, int]], feats: list[dict[str, Any]]
    ) -> None:
        self.brand_ids: list[str] = [k[0] for k in keys]
        self._index_brands()
        self.image_indices = np.array([k[1] for k in keys], dtype=np.int32)
        counts = np.array([f["desc"].shape[0] for f in feats], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.desc = (
            np.concatenate([f["desc"] for f in feats])
            if feats
            else np.zeros((0, 32), np.uint8)
        )
        self.pts = (
            # float16 is exact to 1/8 pixel below 512, ample for keypoints of a reference
            # image reduced to ref_side, at half the memory of float32.
            np.concatenate([f["pts"] for f in feats]).astype(np.float16)
            if feats
            else np.zeros((0, 2), np.float16)
        )
        self.sizes = np.array([f["size"] for f in feats], dtype=np.int32).reshape(-1, 2)
        self.pdq = np.array([f["pdq"] for f in feats], dtype=np.uint8).reshape(-1, 32)
        self.pdq_quality = np.array([f["pdq_quality"] for f in feats], dtype=np.int32)
        self.phash = np.array([f["phash"] for f in feats], dtype=np.uint8).reshape(
            -1, 8
        )
        self.edges = np.array([f["edges"] for f in feats], dtype=np.uint8).reshape(
            -1, _THUMB, _THUMB
        )
        self.edges_half = np.array(
            [f["edges_half"] for f in feats], dtype=np.uint8
        ).reshape(-1, _THUMB // 2, _THUMB // 2)
        self._build_lsh()

    def _index_brands(self) -> None:
        # Dense brand numbers per image, for comparisons inside numpy.
        _, inverse = np.unique(
            np.array(self.brand_ids, dtype=object), return_inverse=True
        )
        self.brand_index = inverse.astype(np.int32).reshape(-1)

    def _build_lsh(self) -> None:
        n = self.desc.shape[0]
        bits = self.params.lsh_bits or _lsh_bits_for(n)
        # A fixed, order-independent sample (the index is in canonical order already).
        sample = self.desc[:: max(1, n // 20000)][:20000] if n else None
        # Above ~8M descriptors (20,000+ reference images) one table fewer keeps a
        # 60,000-image index under 2 GiB; the shortlist still finds the true reference.
        tables = (
            self.params.lsh_tables
            if n <= 8_000_000
            else max(3, self.params.lsh_tables - 1)
        )
        self.lsh_selection = _bit_selection(tables, bits, sample)
        keys = (
            _keys(self.desc, self.lsh_selection)
            if n
            else np.zeros((tables, 0), np.uint32)
        )
        # Descriptor numbers of every table, bucket by bucket, in one flat array; a bucket's
        # entries are lsh_order[lsh_offsets[t, key] : lsh_offsets[t, key + 1]]. Buckets with
        # more than max_bucket descriptors are skipped at lookup (see _vote), so they are
        # stored empty: that leaves out 40-45% of all entries at 60,000 reference images
        # (about 200 MiB) and changes no result.
        dtype = np.int32 if n * max(1, tables) < 2**31 else np.int64
        self.lsh_offsets = np.zeros((tables, (1 << bits) + 1), dtype)
        orders = []
        base = 0
        for t in range(tables):
            counts = np.bincount(keys[t], minlength=1 << bits)
            crowded = counts > self.params.max_bucket
            order = np.argsort(keys[t], kind="stable")
            order = order[~crowded[keys[t][order]]]
            counts[crowded] = 0
            self.lsh_offsets[t, 0] = base
            self.lsh_offsets[t, 1:] = base + np.cumsum(counts)
            base += order.size
            orders.append(order.astype(np.int32 if n < 2**31 else np.int64))
        self.lsh_order = (
            np.concatenate(orders) if orders else np.zeros(0, np.int32)
        )

    def __len__(self) -> int:
        """Number of indexed reference images."""
        return len(self.brand_ids)

    @property
    def nbytes(self) -> int:
        """Memory held by the index's arrays, in bytes."""
        return int(sum(getattr(self, name).nbytes for name in self._ARRAYS))

    # -- saving -----------------------------------------------------------------------------

    _ARRAYS = (
        "image_indices",
        "starts",
        "desc",
        "pts",
        "sizes",
        "pdq",
        "pdq_quality",
        "phash",
        "lsh_selection",
        "lsh_order",
        "lsh_offsets",
        "edges",
        "edges_half",
    )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the index as a directory of ``.npy`` arrays and a JSON file (no pickle)."""
        d = Path(path)
        d.mkdir(parents=True, exist_ok=True)
        for name in self._ARRAYS:
            np.save(d / f"{name}.npy", getattr(self, name), allow_pickle=False)
        meta = {
            "version": INDEX_FORMAT_VERSION,
            "params": self.params.__dict__,
            "brand_ids": self.brand_ids,
            "notes": self.notes,
        }
        tmp = d / "index.json.tmp"
        tmp.write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, d / "index.json")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ImageIndex:
        """Load an index written by :meth:`save`."""
        d = Path(path)
        meta = json.loads((d / "index.json").read_text(encoding="utf-8"))
        if meta.get("version") not in (1, INDEX_FORMAT_VERSION):
            raise ValueError(
                f"image index format {meta.get('version')} is not {INDEX_FORMAT_VERSION}; rebuild it"
            )
        self = cls.__new__(cls)
        self.params = _Params(**meta["params"])
        self.brand_ids = list(meta["brand_ids"])
        self.notes = list(meta["notes"])
        self._index_brands()
        for name in cls._ARRAYS:
            setattr(self, name, np.load(d / f"{name}.npy", allow_pickle=False))
        if meta["version"] == 1:
            # One row of lsh_order per table, crowded buckets included: flatten it and make
            # the offsets point into the flat array (lookups skip crowded buckets anyway).
            n_t, n = self.lsh_order.shape
            self.lsh_order = self.lsh_order.reshape(-1)
            self.lsh_offsets = (
                self.lsh_offsets.astype(np.int64)
                + np.arange(n_t, dtype=np.int64)[:, None] * n
            ).astype(np.int32 if n_t * n < 2**31 else np.int64)
        return self

    # -- searching --------------------------------------------------------------------------

    def _image_of(self, desc_idx: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.starts, desc_idx, side="right") - 1

    def _vote(self, qdesc: np.ndarray) -> np.ndarray:
        """Approximate nearest reference descriptor per query descriptor -> votes per image."""
        n_img = len(self.brand_ids)
        votes = np.zeros(n_img, np.float32)
        if qdesc.shape[0] == 0 or self.desc.shape[0] == 0:
            return votes
        qkeys = _keys(qdesc, self.lsh_selection)
        # Crowded buckets hold generic patches (flat areas, plain corners, stripes): they cost
        # most of the lookup time and say little about which image it is, so they are skipped.
        n_q = qdesc.shape[0]
        n_t = qkeys.shape[0]
        rows = np.arange(n_t)[:, None]
        st = self.lsh_offsets[rows, qkeys].astype(np.int64)
        ln = self.lsh_offsets[rows, qkeys.astype(np.int64) + 1].astype(np.int64) - st
        # Indexes built now store crowded buckets empty; format 1 indexes still hold them.
        ln[ln > self.params.max_bucket] = 0
        st = st.ravel()
        ln = ln.ravel()
        total = int(ln.sum())
        if total == 0:
            return votes
        qi = np.repeat(np.tile(np.arange(n_q, dtype=np.int64), n_t), ln)
        within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(ln) - ln, ln)
        ri = np.take(self.lsh_order, np.repeat(st, ln) + within).astype(
            np.int64
        )
        # np.take on 64-bit words: ~5x faster than fancy indexing of (n, 32) uint8 rows.
        q64 = np.ascontiguousarray(qdesc).view(np.uint64)
        dist = np.bitwise_count(
            np.bitwise_xor(
                np.take(q64, qi, axis=0), np.take(self.desc.view(np.uint64), ri, axis=0)
            )
        ).sum(axis=1, dtype=np.int64)
        keep = dist <= self.params.vote_max_distance
        if not keep.any():
            return votes
        # One sort of a packed key orders pairs by (query, distance, reference) and drops the
        # duplicates that several tables find.
        key = np.sort((qi[keep] << 40) | (dist[keep] << 32) | ri[keep])
        if key.size > 1:
            key = key[np.concatenate(([True], key[1:] != key[:-1]))]
        qi = key >> 40
        dist = ((key >> 32) & 0xFF).astype(np.int32)
        ri = key & 0xFFFFFFFF
        # Lowe's ratio test across brands: a query descriptor votes only when its nearest
        # candidate is clearly nearer than the nearest candidate of any *other* brand. Generic
        # patches (chequered bands, barcodes, common letters) are near many brands at once
        # and would otherwise pile votes onto whichever references are full of them.
        img = self._image_of(ri)
        brand = self.brand_index[img]
        first = np.ones(qi.size, bool)
        first[1:] = qi[1:] != qi[:-1]
        starts = np.flatnonzero(first)
        q_of = qi[starts]
        b1 = np.repeat(brand[starts], np.diff(np.append(starts, qi.size)))
        d1 = np.repeat(dist[starts], np.diff(np.append(starts, qi.size)))
        other = brand != b1
        d2 = np.full(qdesc.shape[0], self.params.vote_max_distance + 1, np.int32)
        np.minimum.at(d2, qi[other], dist[other])
        ok_q = dist[starts] < self.params.vote_ratio * d2[q_of]
        # Vote for every image of the winning brand at the winning distance (a logo and the
        # packaging that carries it often share the descriptor), shared between them.
        sel = (
            (brand == b1)
            & (dist == d1)
            & np.repeat(ok_q, np.diff(np.append(starts, qi.size)))
        )
        qs, ims = qi[sel], img[sel]
        if qs.size == 0:
            return votes
        pair = np.unique(qs.astype(np.int64) * n_img + ims)
        qi_u = pair // n_img
        img_u = pair % n_img
        share = 1.0 / np.bincount(qi_u, minlength=qdesc.shape[0])[qi_u]
        best = np.zeros(qdesc.shape[0], np.int32)
        best[q_of] = dist[starts]
        w = (1.0 - best[qi_u] / (self.params.vote_max_distance + 1.0)) * share
        votes += np.bincount(img_u, weights=w, minlength=n_img).astype(np.float32)
        return votes

    def _verify(
        self,
        img: int,
        qpts: np.ndarray,
        qdesc: np.ndarray,
        work_size: tuple[int, int],
        pyramid: list[np.ndarray],
    ) -> dict[str, Any] | None:
        p = self.params
        s, e = int(self.starts[img]), int(self.starts[img + 1])
        rdesc = self.desc[s:e]
        if rdesc.shape[0] < 4 or qdesc.shape[0] < 4:
            return None
        # Exact nearest and second-nearest photo descriptor for every reference descriptor
        # (numpy popcount over 64-bit words: about twice as fast as cv2's knnMatch here, and
        # no per-match Python objects), then Lowe's ratio test.
        r64 = np.ascontiguousarray(rdesc).view(np.uint64)
        q64 = np.ascontiguousarray(qdesc).view(np.uint64)
        dist = np.bitwise_count(r64[:, 0:1] ^ q64[None, :, 0]).astype(np.uint16)
        for k in range(1, 4):
            dist += np.bitwise_count(r64[:, k : k + 1] ^ q64[None, :, k])
        rows = np.arange(dist.shape[0])
        j1 = dist.argmin(axis=1)
        d1 = dist[rows, j1].astype(np.float32)
        dist[rows, j1] = 1024
        d2 = dist.min(axis=1).astype(np.float32)
        good = np.flatnonzero(d1 < p.ratio * d2)
        if good.size < p.min_inliers:
            return None
        src = self.pts[s:e][good].astype(np.float32)
        dst = qpts[j1[good]].astype(np.float32)
        cv2.setRNGSeed(_SEED)
        # OpenCV's USAC (PROSAC sampling, local optimisation) is ~30x faster than classic
        # RANSAC here and finds the same inliers; seeded for repeatable results.
        H, mask = cv2.findHomography(
            src,
            dst,
            cv2.USAC_DEFAULT,
            p.ransac_threshold,
            maxIters=1000,
            confidence=0.995,
        )
        if H is None or mask is None:
            return None
        inl = mask.ravel().astype(bool)
        n_in = int(inl.sum())
        ratio = n_in / len(good)
        if n_in < p.min_inliers or ratio < p.min_inlier_ratio:
            return None
        rw, rh = (int(v) for v in self.sizes[img])
        corners = np.array([[0, 0], [rw, 0], [rw, rh], [0, rh]], np.float32).reshape(
            -1, 1, 2
        )
        quad = cv2.perspectiveTransform(corners, H).reshape(-1, 2)
        if not _sane(H, quad, work_size, src[inl], (rw, rh)):
            return None
        ncc = _appearance(H, (rw, rh), pyramid, self.edges[img], self.edges_half[img])
        spread = _inlier_spread(src[inl], self.pts[s:e], (rw, rh))
        # What separates a true appearance from a coincidence of shared details (the same
        # letters in the same font, barcodes, chequered bands) is mostly the appearance check,
        # helped by the share of candidate matches that fit the homography and by how much of
        # the reference the inliers cover. Inlier counts alone overlap: unrelated images reach
        # 40-60 inliers on shared details. Calibrated on generated photos (bench/cases.py) of
        # 40 registered and 80 unregistered brands against 6,000 reference images: unrelated
        # pairs scored at most 1.18, true ones 1.32 and up (2 of 39 lower, on heavy
        # occlusion); the threshold sits between.
        evidence = ncc + p.ratio_weight * ratio + p.spread_weight * spread
        if evidence < p.accept_at:
            return None
        return {
            "inliers": n_in,
            "good": len(good),
            "ratio": ratio,
            "quad": quad,
            "ncc": ncc,
            "spread": spread,
            "evidence": evidence,
        }

    def search(
        self, photos: Sequence[DecodedPhoto | None], *, top_k: int = 10
    ) -> list[ImageHit]:
        """Registered reference images found in the photos, best first.

        ``photos`` may contain None (unusable photos, as :func:`~matchers.photos.decode_all`
        returns them); they are skipped. At most one hit per (brand, photo) is returned, and
        at most ``top_k`` in all.
        """
        best: dict[tuple[str, int], ImageHit] = {}
        for pi, photo in enumerate(photos):
            if photo is None or len(self.brand_ids) == 0:
                continue
            for hit in self._search_photo(pi, photo):
                key = (hit.brand_id, pi)
                if key not in best or hit.score > best[key].score:
                    best[key] = hit
        hits = sorted(
            best.values(),
            key=lambda h: (
                -h.score,
                h.brand_id,
                h.evidence.photo_index,
                h.evidence.reference_image_index,
            ),
        )
        return hits[:top_k]

    def _search_photo(self, pi: int, photo: DecodedPhoto) -> list[ImageHit]:
        p = self.params
        gray, f = _gray(photo.image, p.query_side, upscale=False)
        hits = self._hash_hits(pi, photo, gray)
        if hits:
            return hits
        # The photo as taken first; its mirror image only when that finds nothing, so the
        # usual case pays for one feature extraction and lookup.
        hits = self._feature_pass(pi, photo, gray, f, mirrored=False)
        if not hits:
            hits = self._feature_pass(pi, photo, gray, f, mirrored=True)
        return hits

    def _feature_pass(
        self,
        pi: int,
        photo: DecodedPhoto,
        gray: np.ndarray,
        f: float,
        *,
        mirrored: bool,
    ) -> list[ImageHit]:
        p = self.params
        h, w = gray.shape
        g = np.ascontiguousarray(gray[:, ::-1]) if mirrored else gray
        kps, qdesc = _orb(p.query_features).detectAndCompute(g, None)
        if qdesc is None or len(kps) < 8:
            return []
        qpts = np.array([k.pt for k in kps], np.float32)
        votes = self._vote(qdesc)
        # Mirror images are the exception, so the mirrored pass verifies fewer candidates.
        k = p.mirror_shortlist if mirrored else p.shortlist
        # Bigger registries crowd the true reference down the vote ranking (more near
        # neighbours from other brands), so the shortlist grows slowly with size: x2 at
        # 60,000 images. Verifying costs ~3 ms a candidate.
        k = max(k, round(k * (len(self.brand_ids) / 6000) ** 0.3))
        top = [
            int(i)
            for i in np.argsort(-votes, kind="stable")[:k]
            if votes[i] >= p.min_votes
        ]
        if not top:
            return []
        # Colour pyramid of the photo for the appearance check (colour edges survive
        # recolouring far better than grey-level ones).
        rgb = cv2.resize(
            np.asarray(photo.image),
            (w, h),
            interpolation=cv2.INTER_LINEAR if f >= 0.5 else cv2.INTER_AREA,
        )
        if mirrored:
            rgb = np.ascontiguousarray(rgb[:, ::-1])
        pyramid = [rgb]
        for _ in range(3):
            pyramid.append(cv2.pyrDown(pyramid[-1]))
        floor = float(votes[top[0]]) * p.relative_votes
        hits: list[ImageHit] = []
        hit_votes = 0.0
        done: set[str] = set()
        for img in top:
            if votes[img] < floor:
                break
            if hits and votes[img] < 0.5 * hit_votes:
                # A verified match was found; weaker candidates are only worth checking when
                # they have comparable support (a second brand in the same photo).
                break
            if self.brand_ids[img] in done:
                continue
            v = self._verify(img, qpts, qdesc, (w, h), pyramid)
            if v is None:
                continue
            done.add(self.brand_ids[img])
            quad = v["quad"]
            if mirrored:
                quad = quad.copy()
                quad[:, 0] = w - quad[:, 0]
            poly = photo.to_original((float(x) / f, float(y) / f) for x, y in quad)
            hits.append(self._make_hit(pi, img, v, poly, mirrored))
            if len(hits) == 1:
                hit_votes = float(votes[img])
        return hits

    def _make_hit(
        self, pi: int, img: int, v: dict[str, Any], poly, mirrored: bool
    ) -> ImageHit:
        n_in = v["inliers"]
        p = self.params
        # The acceptance floor maps to 0.5, and confidence grows with the evidence up to
        # certain_at; few inliers hold the score back (a homography from a dozen points is
        # less certain than one from a hundred).
        t = (v["evidence"] - p.accept_at) / (p.certain_at - p.accept_at)
        support = min(1.0, n_in / (3.0 * p.min_inliers))
        score = 0.5 + 0.5 * min(1.0, max(0.0, t)) * (0.5 + 0.5 * support)
        score = round(min(1.0, max(0.5, score)), 4)
        ref_no = int(self.image_indices[img])
        ev = ImageEvidence(
            photo_index=pi,
            reference_image_index=ref_no,
            score=score,
            polygon=tuple((round(x, 1), round(y, 1)) for x, y in poly),
            method="orb+ransac",
            inliers=n_in,
        )
        reason = (
            f"photo {pi + 1} shows reference image {ref_no + 1}"
            f"{' mirrored' if mirrored else ''}: {n_in} geometrically consistent feature "
            f"matches ({v['ratio']:.0%} of candidate matches), perspective-corrected; "
            f"appearance agreement {v['ncc']:.2f}"
        )
        return ImageHit(self.brand_ids[img], score, ev, reason)

    def _hash_hits(
        self, pi: int, photo: DecodedPhoto, gray: np.ndarray
    ) -> list[ImageHit]:
        if self.pdq.shape[0] == 0:
            return []
        hashes, quality = _pdq_hashes(gray, dihedral=True)
        if quality < 50:
            return []  # flat images give meaningless PDQ hashes
        d = np.bitwise_count(
            np.bitwise_xor(hashes[:, None, :], self.pdq[None, :, :])
        ).sum(axis=2)
        best_per_img = d.min(axis=0)
        ok = np.flatnonzero(
            (best_per_img <= self.params.pdq_max_distance) & (self.pdq_quality >= 50)
        )
        hits = []
        W, H = photo.original_size
        poly = ((0.0, 0.0), (float(W), 0.0), (float(W), float(H)), (0.0, float(H)))
        for img in ok:
            dist = int(best_per_img[img])
            score = round(
                0.9 + 0.1 * (1 - dist / (self.params.pdq_max_distance + 1)), 4
            )
            ref_no = int(self.image_indices[img])
            ev = ImageEvidence(pi, ref_no, score, poly, "pdq", 0)
            reason = (
                f"photo {pi + 1} is a near-identical copy of reference image {ref_no + 1} "
                f"(PDQ hash distance {dist} of 256, rotations and mirror images included)"
            )
            hits.append(ImageHit(self.brand_ids[int(img)], score, ev, reason))
        return hits


def _colour_edges(rgb: np.ndarray) -> np.ndarray:
    """Edge strength of a small RGB image: the strongest gradient of the three channels.

    A recoloured print keeps its colour boundaries where they were, but its grey levels
    can change contrast or even vanish (two hues of equal brightness), so edges are taken
    per channel.
    """
    b = cv2.GaussianBlur(rgb, (3, 3), 0).astype(np.float32)
    gx = cv2.Sobel(b, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(b, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.sqrt(gx * gx + gy * gy)
    return mag.max(axis=2) if mag.ndim == 3 else mag


def _edge_thumbs(rgb: np.ndarray) -> dict[str, np.ndarray]:
    """The reference's edge-strength thumbnails at two scales, as uint8."""
    small = cv2.resize(rgb, (_THUMB, _THUMB), interpolation=cv2.INTER_AREA)
    half = cv2.resize(small, (_THUMB // 2, _THUMB // 2), interpolation=cv2.INTER_AREA)
    # /4 keeps every real edge below 255 (a 3x3 Sobel magnitude peaks near 1,400).
    return {
        "edges": np.clip(_colour_edges(small) / 4, 0, 255).astype(np.uint8),
        "edges_half": np.clip(_colour_edges(half) / 4, 0, 255).astype(np.uint8),
    }


def _appearance(
    H: np.ndarray,
    ref_size: tuple[int, int],
    pyramid: list[np.ndarray],
    edges: np.ndarray,
    edges_half: np.ndarray,
) -> float:
    """Correlation of edge strength between the reference and the photo region it maps to.

    Feature matches can all sit on a few shared details (the same letters in the same font,
    a barcode, a chequered band); if the rest of the reference is not in the photo, the
    photo region warped back onto the reference looks different. Edge strength survives
    recolouring and lighting changes better than colours or grey levels.
    """
    rw, rh = ref_size
    try:
        Hinv = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return 0.0
    corners = np.array([[0, 0], [rw, 0], [rw, rh], [0, rh]], np.float32).reshape(
        -1, 1, 2
    )
    quad = cv2.perspectiveTransform(corners, H).reshape(-1, 2)
    side = math.sqrt(max(abs(cv2.contourArea(quad)), 1.0))
    # Sample from the pyramid level closest to twice the thumbnail's resolution (no aliasing).
    level = int(
        min(len(pyramid) - 1, max(0, math.floor(math.log2(side / (2 * _THUMB)))))
    )
    src = pyramid[level]
    up = np.diag([2.0**level, 2.0**level, 1.0])
    to_thumb = np.diag([_THUMB / rw, _THUMB / rh, 1.0])
    M = to_thumb @ Hinv @ up
    warped = cv2.warpPerspective(
        src,
        M,
        (_THUMB, _THUMB),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    valid = cv2.warpPerspective(
        np.full(src.shape[:2], 255, np.uint8),
        M,
        (_THUMB, _THUMB),
        flags=cv2.INTER_NEAREST,
        borderValue=0,
    )
    valid = cv2.erode(valid, np.ones((5, 5), np.uint8)) > 0
    if valid.sum() < 0.3 * _THUMB * _THUMB:
        return 0.0
    # Two scales: fine print and stripes alias differently in the photo and the reference at
    # 64 pixels, while at 32 pixels only the large shapes remain; the better one counts.
    best = _edge_correlation(_colour_edges(warped), edges.astype(np.float32), valid)
    half = cv2.resize(warped, (_THUMB // 2, _THUMB // 2), interpolation=cv2.INTER_AREA)
    v2 = (
        cv2.resize(
            valid.astype(np.uint8),
            (_THUMB // 2, _THUMB // 2),
            interpolation=cv2.INTER_NEAREST,
        )
        > 0
    )
    return max(
        best, _edge_correlation(_colour_edges(half), edges_half.astype(np.float32), v2)
    )


def _edge_correlation(a: np.ndarray, b: np.ndarray, valid: np.ndarray) -> float:
    """Pearson correlation of two edge maps over the valid pixels, minus a thin frame."""
    # The outline of the pasted print lies on the thumbnail's border in the photo but not in
    # the reference, so a thin frame is left out.
    m = max(1, a.shape[0] // 20)
    inner = np.zeros_like(valid)
    inner[m:-m, m:-m] = True
    sel = valid & inner
    if sel.sum() < 16:
        return 0.0
    a, b = a[sel], b[sel]
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


def _inlier_spread(
    inliers: np.ndarray,
    keypoints: np.ndarray,
    ref_size: tuple[int, int],
    cells: int = 4,
) -> float:
    """Share of the reference's keypoint-bearing grid cells that hold an inlier."""
    rw, rh = ref_size

    def occupied(pts: np.ndarray) -> set[int]:
        cx = np.clip((pts[:, 0] / rw * cells).astype(int), 0, cells - 1)
        cy = np.clip((pts[:, 1] / rh * cells).astype(int), 0, cells - 1)
        return set((cy * cells + cx).tolist())

    have = occupied(keypoints)
    return len(occupied(inliers) & have) / len(have) if have else 0.0


def _sane(
    H: np.ndarray,
    quad: np.ndarray,
    work_size: tuple[int, int],
    inlier_src: np.ndarray,
    ref_size: tuple[int, int],
) -> bool:
    """Reject homographies no real photo of a flat print could produce."""
    a = H[:2, :2] / H[2, 2] if abs(H[2, 2]) > 1e-12 else H[:2, :2]
    det = float(np.linalg.det(a))
    if det <= 0:
        return False  # a mirror image or a fold: handled by the mirrored pass instead
    scale = math.sqrt(det)
    if not 0.1 <= scale <= 8.0:
        return False
    if not cv2.isContourConvex(quad.reshape(-1, 1, 2).astype(np.float32)):
        return False
    area = abs(cv2.contourArea(quad.astype(np.float32)))
    w, h = work_size
    if area < 0.01 * w * h or area > 25 * w * h:
        return False
    # Opposite sides of a flat rectangle seen in perspective keep comparable lengths.
    sides = np.linalg.norm(np.roll(quad, -1, axis=0) - quad, axis=1)
    if (
        sides.min() <= 1e-6
        or max(
            sides[0] / sides[2],
            sides[2] / sides[0],
            sides[1] / sides[3],
            sides[3] / sides[1],
        )
        > 3.0
    ):
        return False
    # Inliers must cover a real part of the reference, not one small cluster of corners.
    rw, rh = ref_size
    span = inlier_src.max(axis=0) - inlier_src.min(axis=0)
    return bool(span[0] * span[1] >= 0.01 * rw * rh)
