"""In-process job queue for the embedded hub (the worker loop runs inside the hub process)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter, OrderedDict
from typing import Any

from hub.ports.files import Job

_SEEN_LIMIT = 100_000


class MemoryJobQueue:
    """Implements `hub.ports.files.JobQueue`; jobs die with the process (embedded mode accepts that)."""

    name = "memory-jobs"

    def __init__(self, max_attempts: int = 5) -> None:
        self.max_attempts = max_attempts
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._dead: list[Job] = []
        self._depths: Counter[str] = Counter()

    async def enqueue(self, job_id: str, kind: str, payload: dict[str, Any]) -> bool:
        if job_id in self._seen:
            return False
        self._seen[job_id] = None
        if len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
        self._queue.put_nowait(Job(id=job_id, kind=kind, payload=dict(payload)))
        self._depths[kind] += 1
        return True

    async def receive(self, consumer: str, timeout: float) -> Job | None:
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None

    async def ack(self, job: Job) -> None:
        self._depths[job.kind] -= 1

    async def fail(self, job: Job, error: str) -> bool:
        retried = dataclasses.replace(job, attempts=job.attempts + 1)
        if retried.attempts >= self.max_attempts:
            self._dead.append(retried)
            self._depths[job.kind] -= 1
            return True
        self._queue.put_nowait(retried)
        return False

    async def depth(self) -> int:
        return sum(n for n in self._depths.values() if n > 0)

    async def depths(self) -> dict[str, int]:
        return {kind: n for kind, n in self._depths.items() if n > 0}

    async def dead_letters(self) -> list[Job]:
        return list(self._dead)

    async def dead_letter_count(self) -> int:
        return len(self._dead)

    async def dead_letter_counts(self) -> dict[str, int]:
        return dict(Counter(job.kind for job in self._dead))

    async def check(self) -> None:
        return None

    async def close(self) -> None:
        return None
