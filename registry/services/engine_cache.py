"""The matching engine built from the registry, kept in memory and rebuilt when it changes.

Building the engine costs far more than a check, so it is built once and reused. Before each
use, a fingerprint of the registry is compared with the one the engine was built from: the
registry generation (a counter that every write to the tables the engine reads moves, in the
write's own transaction; see ``models.dossier.RegistryGeneration``) and today's date, since
protection validity follows the calendar. Any change made through the app shows in the next check, in
every app process. (Rows changed by hand in SQL outside the app show the next day, or after
any change made through the app.)
"""

from __future__ import annotations

import gc
import threading
from dataclasses import dataclass

from sqlalchemy.orm import Session

from matchers import Engine
from registry.models.dossier import current_generation
from registry.services.calendar import local_today
from registry.services.snapshot import registry_references
from registry.storage import BlobStore


@dataclass(frozen=True)
class BuiltEngine:
    engine: Engine
    #: Per brand id, the reference image ids in the order of ``Reference.images``.
    image_ids: dict[str, list[int]]
    names: dict[str, str]
    fingerprint: tuple


def registry_fingerprint(session: Session) -> tuple:
    return local_today().isoformat(), current_generation(session)


class EngineCache:
    def __init__(self, *, ocr: bool = True) -> None:
        self._lock = threading.Lock()
        self._built: BuiltEngine | None = None
        self.ocr = ocr
        self.builds = 0

    def current(self, session: Session, blobs: BlobStore) -> BuiltEngine:
        fingerprint = registry_fingerprint(session)
        built = self._built
        if built is not None and built.fingerprint == fingerprint:
            return built
        with self._lock:  # one build at a time; the others wait for it and reuse it
            if self._built is not None and self._built.fingerprint == fingerprint:
                return self._built
            references, image_ids = registry_references(session, blobs)
            engine = Engine(references, ocr=self.ocr)
            self._built = BuiltEngine(engine, image_ids, {r.brand_id: r.name for r in references}, fingerprint)
            self.builds += 1
            if len(references) >= FREEZE_FROM_REFERENCES:
                _exempt_from_collection()
            return self._built


#: Below this many references a full collection is cheap, and the collection freezing costs is not
#: worth it (tests build many small engines).
FREEZE_FROM_REFERENCES = 1000


def _exempt_from_collection() -> None:
    """Keep the engine out of the cyclic garbage collector's full passes.

    An engine over 10,000 marks is a few hundred thousand long-lived objects; every full
    collection walks all of them (about half a second), stalling whichever request triggers
    it. Frozen objects are skipped. The previous engine is unfrozen first so that, now
    unreferenced, it is collected before the new set is frozen.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()
