"""An RQ worker for bulk screening: ``REDIS_URL=redis://host:6379/0 python -m registry.worker``.

Run as many as there are cores to spare, on as many machines as share the database, the blob
directory and the engine directory. A worker does not fork per task (RQ's SimpleWorker): the
saved engine it loaded stays in memory from one chunk to the next.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    from redis import Redis
    from rq import SimpleWorker

    url = os.environ.get("REDIS_URL")
    if not url:
        print("Set REDIS_URL (for example redis://127.0.0.1:6379/0) to run a worker.", file=sys.stderr)
        return 2
    worker = SimpleWorker([os.environ.get("BULK_QUEUE", "bulk")], connection=Redis.from_url(url))
    worker.work(with_scheduler=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
