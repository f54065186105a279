"""The JSON API's rate limit per token.

limits' fixed window (the library Flask-Limiter is built on), kept in the store the app's other
limits use (``RATELIMIT_STORAGE_URI``: Redis when ``REDIS_URL`` is set, so every worker on every
machine counts against one window), asked once per request. Flask-Limiter itself, which still
guards the sign-in page, spent about a millisecond of CPU per API request in its Flask hooks
(evaluating the blueprint's limits, its exemptions and its fallbacks), a third of a text
screening's whole cost (``bench.api_cost``); one call to the store costs a twentieth of that.

When the store cannot be reached, each process counts in its own memory for a few seconds
before trying the store again: a limit per process rather than none, and no request waiting on
a dead store.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from functools import lru_cache

from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter

log = logging.getLogger(__name__)

#: Seconds to count in memory after the shared store failed, before asking it again.
STORE_RETRY_SECONDS = 5.0
#: Seconds a call to the shared store may take before it counts as failed.
STORE_TIMEOUT_SECONDS = 1.0


@lru_cache(maxsize=32)
def parsed(limits_text: str) -> tuple[RateLimitItem, ...]:
    """``"6000 per minute;100 per second"`` as limits' items (a configuration's text, parsed once)."""
    return tuple(parse_many(limits_text))


class TokenRateLimit:
    """Counts requests per key (a token's digest) against limits given as text."""

    def __init__(self, storage_uri: str) -> None:
        options = {}
        if storage_uri.startswith(("redis://", "rediss://")):
            options = {"socket_timeout": STORE_TIMEOUT_SECONDS, "socket_connect_timeout": STORE_TIMEOUT_SECONDS}
        self._shared = FixedWindowRateLimiter(storage_from_string(storage_uri, wrap_exceptions=True, **options))
        self._local = FixedWindowRateLimiter(MemoryStorage())
        self._lock = threading.Lock()
        self._shared_down_until = 0.0

    def hit(self, limits_text: str, key: str) -> int | None:
        """Count one request for ``key``. None when it may go ahead; otherwise the seconds
        until every window that is full frees a request (for Retry-After)."""
        items = parsed(limits_text)
        down_until = self._shared_down_until
        if down_until:
            # The store failed lately. Once its retry delay has passed, one request asks it
            # again; the others keep counting here meanwhile, rather than all waiting on a
            # store that may still hang until its timeout.
            with self._lock:
                if self._shared_down_until == 0.0:
                    down_until = 0.0  # another request found it back
                elif time.monotonic() < self._shared_down_until:
                    return self._hit(self._local, items, key)
                else:
                    self._shared_down_until = time.monotonic() + STORE_RETRY_SECONDS  # this one probes
        try:
            refused = self._hit(self._shared, items, key)
        except StorageError as exc:
            with self._lock:
                self._shared_down_until = time.monotonic() + STORE_RETRY_SECONDS
            log.warning("rate-limit store unreachable (%s); counting in this process for %.0f s",
                        exc, STORE_RETRY_SECONDS)
            return self._hit(self._local, items, key)
        if down_until:
            with self._lock:
                self._shared_down_until = 0.0
        return refused

    @staticmethod
    def _hit(limiter: FixedWindowRateLimiter, items: tuple[RateLimitItem, ...], key: str) -> int | None:
        refused = False
        for item in items:
            if not limiter.hit(item, key):
                refused = True
                break
        if not refused:
            return None
        # Every full window must free a request: a retry after the shortest one only is refused
        # again (and counted). The store gives whole seconds (Redis TTL): one more covers it.
        now = time.time()
        waits = [min(math.ceil(stats.reset_time - now) + 1, item.get_expiry() + 1)
                 for item, stats in ((item, limiter.get_window_stats(item, key)) for item in items)
                 if stats.remaining <= 0]
        return max(1, max(waits, default=1))
