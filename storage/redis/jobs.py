"""Redis Streams job queue with one consumer group shared by every `hub worker` process.

At least once: an entry stays pending until acknowledged; one whose consumer died is reclaimed with
XAUTOCLAIM after the visibility timeout and counts as a failed attempt. Job ids are idempotent (a
SET NX marker, written in one script with the entry so neither can exist without the other), failures
are re-added with attempts+1, and past `max_attempts` a job moves to a dead-letter stream where
operators can inspect it. Two hashes count the unsettled and the dead-lettered jobs by kind, moved in
the same scripts as the entries, so the per-kind gauges never need a scan of the stream.
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
# KEYS: marker, stream, depth hash; ARGV: ttl, kind, entry fields...
_ENQUEUE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
    return 0
end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
redis.call('HINCRBY', KEYS[3], ARGV[2], 1)
return 1
"""
# Settles one delivery. Only the delivery that acknowledges the entry first settles it: a job reclaimed
# from a slow consumer may be finished twice, and the second must neither requeue it nor count it again.
# KEYS: stream, depth hash, dead stream, dead hash; ARGV: group, entry id, kind, outcome ("ack",
# "retry", "dead"), then the fields of the entry to add for a retry or a dead letter.
_SETTLE = """
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then
    return 0
end
redis.call('XDEL', KEYS[1], ARGV[2])
if ARGV[4] == 'retry' then
    redis.call('XADD', KEYS[1], '*', unpack(ARGV, 5))
    return 1
end
redis.call('HINCRBY', KEYS[2], ARGV[3], -1)
if ARGV[4] == 'dead' then
    redis.call('XADD', KEYS[3], '*', unpack(ARGV, 5))
    redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
end
return 1
"""


def _counts(raw: Any) -> dict[str, int]:
    # Kinds at zero are left out, and so is a count below zero (entries trimmed or deleted by hand).
    counts = {_text(kind): int(_text(n)) for kind, n in (raw or {}).items()}
    return {kind: n for kind, n in counts.items() if n > 0}


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
        self._depths = f"{prefix}:jobs:depth"
        self._dead_counts = f"{prefix}:jobs:dead:kinds"
        self.group = group
        self.max_attempts = max_attempts
        self.visibility_ms = int(visibility_timeout * 1000)
        self._group_ready = False
        self._enqueue = redis.register_script(_ENQUEUE)
        self._settle = redis.register_script(_SETTLE)

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
    def _flat(fields: dict[str, Any]) -> list[Any]:
        return [v for kv in fields.items() for v in kv]

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
            fields = self._flat(self._fields(job_id, kind, payload, 0))
            added = await self._enqueue(
                keys=[self._ids + job_id, self.stream, self._depths], args=[_DEDUPE_TTL, kind, *fields]
            )
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

    async def _settled(self, job: Job, outcome: str, fields: dict[str, Any] | None = None) -> None:
        await self._settle(
            keys=[self.stream, self._depths, self.dead_stream, self._dead_counts],
            args=[self.group, job.receipt, job.kind, outcome, *self._flat(fields or {})],
        )

    async def ack(self, job: Job) -> None:
        with _translate():
            await self._settled(job, "ack")

    async def _dead_letter(self, job: Job, error: str) -> None:
        await self._settled(job, "dead", {**self._fields(job.id, job.kind, job.payload, job.attempts), "error": error})

    async def fail(self, job: Job, error: str) -> bool:
        attempts = job.attempts + 1
        with _translate():
            if attempts >= self.max_attempts:
                await self._dead_letter(Job(job.id, job.kind, job.payload, attempts, job.receipt), error)
                return True
            await self._settled(job, "retry", self._fields(job.id, job.kind, job.payload, attempts))
        return False

    async def depth(self) -> int:
        with _translate():
            return int(await self._redis.xlen(self.stream))

    async def depths(self) -> dict[str, int]:
        with _translate():
            return _counts(await self._redis.hgetall(self._depths))

    async def dead_letters(self) -> list[Job]:
        with _translate():
            entries: Any = await self._redis.xrange(self.dead_stream)
        return [self._job(entry_id, fields) for entry_id, fields in entries]

    async def dead_letter_count(self) -> int:
        with _translate():
            return int(await self._redis.xlen(self.dead_stream))

    async def dead_letter_counts(self) -> dict[str, int]:
        with _translate():
            return _counts(await self._redis.hgetall(self._dead_counts))

    async def check(self) -> None:
        with _translate():
            await self._redis.ping()

    async def close(self) -> None:
        return None
