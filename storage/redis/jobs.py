"""Redis Streams job queue with one consumer group shared by every `hub worker` process.

At least once: an entry stays pending until acknowledged; one whose consumer died is reclaimed with
XAUTOCLAIM after the visibility timeout and counts as a failed attempt. Job ids are idempotent (a
SET NX marker, written in one script with the entry so neither can exist without the other), failures
are re-added with attempts+1, and past `max_attempts` a job moves to a dead-letter stream where
operators can inspect it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from hub.errors import QueueUnavailable
from hub.ports.files import Job

_DEDUPE_TTL = 7 * 86_400
# A marker without its entry would make every later enqueue of that id a silent no-op for a week (a
# connection lost between two separate commands); a script runs atomically, so it is both or neither.
_ENQUEUE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
    return 0
end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))
return 1
"""


@contextlib.contextmanager
def _translate() -> Iterator[None]:
    try:
        yield
    except (RedisError, OSError) as exc:
        raise QueueUnavailable("The job queue is unavailable.") from exc


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class RedisJobQueue:
    """Implements `hub.ports.files.JobQueue`."""

    name = "jobs"

    def __init__(
        self,
        redis: Redis,
        prefix: str,
        *,
        max_attempts: int = 5,
        visibility_timeout: float = 120.0,
        group: str = "workers",
    ) -> None:
        self._redis = redis
        self.stream = f"{prefix}:jobs"
        self.dead_stream = f"{prefix}:jobs:dead"
        self._ids = f"{prefix}:jobs:id:"
        self.group = group
        self.max_attempts = max_attempts
        self.visibility_ms = int(visibility_timeout * 1000)
        self._group_ready = False
        self._enqueue = redis.register_script(_ENQUEUE)

    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        with _translate():
            try:
                # "0": jobs added before the first worker started are delivered too.
                await self._redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._group_ready = True

    @staticmethod
    def _fields(job_id: str, kind: str, payload: dict[str, Any], attempts: int) -> Any:
        return {"id": job_id, "kind": kind, "payload": orjson.dumps(payload), "attempts": attempts}

    @staticmethod
    def _job(entry_id: Any, fields: dict[Any, Any], extra_attempt: int = 0) -> Job:
        data = {_text(k): v for k, v in fields.items()}
        return Job(
            id=_text(data.get("id", "")),
            kind=_text(data.get("kind", "")),
            payload=orjson.loads(data.get("payload", b"{}")),
            attempts=int(_text(data.get("attempts", 0))) + extra_attempt,
            receipt=_text(entry_id),
        )

    async def enqueue(self, job_id: str, kind: str, payload: dict[str, Any]) -> bool:
        await self._ensure_group()
        with _translate():
            fields = [v for kv in self._fields(job_id, kind, payload, 0).items() for v in kv]
            added = await self._enqueue(keys=[self._ids + job_id, self.stream], args=[_DEDUPE_TTL, *fields])
        return bool(added)

    async def receive(self, consumer: str, timeout: float) -> Job | None:
        await self._ensure_group()
        with _translate():
            # A crashed consumer's job first: it was delivered once already, so that was an attempt.
            claimed: Any = await self._redis.xautoclaim(
                self.stream, self.group, consumer, min_idle_time=self.visibility_ms, start_id="0-0", count=1
            )
            entries: Any = claimed[1] if claimed and len(claimed) > 1 else []
            for entry_id, fields in entries:
                if fields:
                    job = self._job(entry_id, fields, extra_attempt=1)
                    if job.attempts >= self.max_attempts:
                        await self._dead_letter(job, "consumer_lost")
                        continue
                    return job
            reply: Any = await self._redis.xreadgroup(
                self.group, consumer, {self.stream: ">"}, count=1, block=max(1, int(timeout * 1000))
            )
        for _stream, messages in reply or []:
            for entry_id, fields in messages:
                return self._job(entry_id, fields)
        return None

    async def ack(self, job: Job) -> None:
        with _translate():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xack(self.stream, self.group, job.receipt)
                pipe.xdel(self.stream, job.receipt)
                await pipe.execute()

    async def _dead_letter(self, job: Job, error: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.dead_stream, {**self._fields(job.id, job.kind, job.payload, job.attempts), "error": error})
            pipe.xack(self.stream, self.group, job.receipt)
            pipe.xdel(self.stream, job.receipt)
            await pipe.execute()

    async def fail(self, job: Job, error: str) -> bool:
        attempts = job.attempts + 1
        with _translate():
            if attempts >= self.max_attempts:
                await self._dead_letter(Job(job.id, job.kind, job.payload, attempts, job.receipt), error)
                return True
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.xadd(self.stream, self._fields(job.id, job.kind, job.payload, attempts))
                pipe.xack(self.stream, self.group, job.receipt)
                pipe.xdel(self.stream, job.receipt)
                await pipe.execute()
        return False

    async def depth(self) -> int:
        with _translate():
            return int(await self._redis.xlen(self.stream))

    async def dead_letters(self) -> list[Job]:
        with _translate():
            entries: Any = await self._redis.xrange(self.dead_stream)
        return [self._job(entry_id, fields) for entry_id, fields in entries]

    async def dead_letter_count(self) -> int:
        with _translate():
            return int(await self._redis.xlen(self.dead_stream))

    async def check(self) -> None:
        with _translate():
            await self._redis.ping()

    async def close(self) -> None:
        return None
