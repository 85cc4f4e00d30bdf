"""Text bins: pastebin-like documents with revisions and optimistic concurrency."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from hub.errors import (
    BinExpired,
    BinNotFound,
    RevisionNotFound,
    ValidationFailed,
    VersionConflict,
)
from hub.events import BusEvent, space_of, space_topic
from hub.models import Principal, Role
from hub.pagination import Cursor, Page, page_of
from hub.ports.infra import Bus
from hub.ports.spaces import BinRecord, BinRepo, RevisionRecord, SpaceRecord
from hub.services.spaces import SpaceService, new_id, now, require_space_id

log = logging.getLogger(__name__)

LANGUAGE = re.compile(r"[a-z0-9][a-z0-9+#._-]{0,31}")  # fullmatch: `$` would let "\n" through


_ReadKey = tuple[str, str, str]  # (space id, bin id, user id)


class BinReadCache:
    """This instance's recent answers to "this member reads this bin": the space as its member sees it
    (role included) and the bin, kept for `ttl` seconds and bounded in entries and in characters.

    The hottest REST read is the same bin read again and again (a shared link, a poll, an ETag
    revalidation), and each read was a pool round trip to PostgreSQL. Every change that could alter an
    answer (the bin written, burned or deleted, a member removed or their role changed, the space
    updated, expired, taken down or deleted) is published on the space's topic after its commit, and
    any event of a space drops all of that space's entries: a local change before its request is
    answered (the bus delivers to this instance first), another instance's when its event arrives.
    `ttl` only bounds how late this instance learns of a change whose event it missed (the bus is
    best-effort). Only successful reads are kept, never a burn-after-reading bin, and expiry is checked
    on every use against the records' own times. A read that started before an eviction must not store
    its older answer after it: `generation` tells.
    """

    def __init__(
        self,
        ttl: float,
        max_entries: int = 4_096,
        max_chars: int = 16_000_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.max_chars = max_chars
        self.generation = 0
        self._clock = clock
        self._entries: dict[_ReadKey, tuple[SpaceRecord, BinRecord, float]] = {}
        self._by_space: dict[str, set[_ReadKey]] = {}
        self._chars = 0

    def get(self, space_id: str, bin_id: str, user_id: str) -> tuple[SpaceRecord, BinRecord] | None:
        entry = self._entries.get((space_id, bin_id, user_id))
        if entry is None:
            return None
        if entry[2] <= self._clock():
            self._drop((space_id, bin_id, user_id))
            return None
        return entry[0], entry[1]

    def put(self, user_id: str, space: SpaceRecord, record: BinRecord, generation: int) -> None:
        if self.ttl <= 0 or generation != self.generation or record.burn_after_reading:
            return
        if len(record.content) > self.max_chars // 16:  # a few huge bins must not push out all the others
            return
        key = (space.id, record.id, user_id)
        self._drop(key)  # re-inserted last: dicts keep insertion order, the oldest goes first
        self._entries[key] = (space, record, self._clock() + self.ttl)
        self._by_space.setdefault(space.id, set()).add(key)
        self._chars += len(record.content)
        while len(self._entries) > self.max_entries or self._chars > self.max_chars:
            self._drop(next(iter(self._entries)))

    def evict_space(self, space_id: str) -> None:
        self.generation += 1
        for key in self._by_space.pop(space_id, ()):
            entry = self._entries.pop(key, None)
            if entry is not None:
                self._chars -= len(entry[1].content)

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: _ReadKey) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        self._chars -= len(entry[1].content)
        keys = self._by_space.get(key[0])
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_space[key[0]]


class BinService:
    def __init__(
        self, repo: BinRepo, spaces: SpaceService, bus: Bus, *, max_chars: int, read_cache_ttl: float = 0.0
    ) -> None:
        self.repo = repo
        self.spaces = spaces
        self.bus = bus
        self.max_chars = max_chars
        self.cache = BinReadCache(read_cache_ttl)
        bus.subscribe(self._on_bus)

    async def _on_bus(self, topic: str, event: dict[str, Any]) -> None:
        space_id = space_of(topic)
        if space_id is not None:
            self.cache.evict_space(space_id)

    def _check(self, title: str | None, content: str | None, language: str | None) -> None:
        errors: dict[str, str] = {}
        if title is not None and not 1 <= len(title.strip()) <= 200:
            errors["title"] = "must be 1 to 200 characters"
        if content is not None and len(content) > self.max_chars:
            errors["content"] = f"must be at most {self.max_chars} characters"
        if language is not None and not LANGUAGE.fullmatch(language):
            errors["language"] = "must be a short lowercase tag such as 'python' or 'text'"
        for name, value in (("title", title), ("content", content)):
            if value is not None and "\x00" in value:
                errors[name] = "must not contain NUL characters"
        if errors:
            raise ValidationFailed(errors)

    async def _publish(self, kind: BusEvent, record: BinRecord, by: str) -> None:
        await self.bus.publish(
            space_topic(record.space_id),
            {
                "type": kind,
                "space_id": record.space_id,
                "bin_id": record.id,
                "version": record.version,
                "title": record.title,
                "language": record.language,
                "by": by,
            },
        )

    async def create(
        self,
        principal: Principal,
        space_id: str,
        *,
        title: str,
        content: str,
        language: str,
        burn_after_reading: bool,
        expires_in: int | None,
    ) -> BinRecord:
        await self.spaces.access(principal, space_id, Role.EDITOR)
        self._check(title, content, language)
        record = await self.repo.create(
            bin_id=new_id(),
            space_id=space_id,
            title=title.strip(),
            content=content,
            language=language,
            author_id=principal.user_id,
            burn_after_reading=burn_after_reading,
            expires_at=now() + timedelta(seconds=expires_in) if expires_in else None,
        )
        await self._publish(BusEvent.BIN_CREATED, record, principal.user_id)
        return record

    async def in_space(self, principal: Principal, space_id: str, cursor: str | None, limit: int) -> Page[BinRecord]:
        await self.spaces.access(principal, space_id)
        after = Cursor.decode(cursor)
        rows = await self.repo.in_space(space_id, (after.at, after.id) if after else None, limit + 1)
        return page_of(rows, limit, lambda b: (b.created_at, b.id))

    async def _live(self, space_id: str, bin_id: str) -> BinRecord:
        return self._current(await self.repo.get(space_id, bin_id) if len(bin_id) <= 64 else None)

    @staticmethod
    def _current(record: BinRecord | None) -> BinRecord:
        if record is None:
            raise BinNotFound("No such bin.")
        if record.expires_at is not None and record.expires_at <= now():
            raise BinExpired("This bin has expired.")
        return record

    async def read(self, principal: Principal, space_id: str, bin_id: str) -> tuple[BinRecord, bool]:
        """Returns the bin and whether this read burned it."""
        require_space_id(space_id)
        # The hottest read of the REST API: membership and the bin in one round trip (or none, from the
        # cache), checked in the same order as access() then _live().
        space: SpaceRecord | None
        found: BinRecord | None
        cached = self.cache.get(space_id, bin_id, principal.user_id)
        if cached is not None:
            space, found = cached
            generation = None
        else:
            generation = self.cache.generation
            space, found = await self.repo.get_for_member(
                space_id, bin_id if len(bin_id) <= 64 else "", principal.user_id
            )
        member_space, _ = self.spaces.checked(space)
        record = self._current(found)
        if generation is not None:
            self.cache.put(principal.user_id, member_space, record, generation)
        if record.burn_after_reading and record.created_by != principal.user_id:
            burned = await self.repo.burn(space_id, bin_id)
            if burned is None:  # someone else read it first
                raise BinNotFound("No such bin.")
            await self._publish(BusEvent.BIN_DELETED, burned, principal.user_id)
            return burned, True
        return record, False

    async def update(
        self,
        principal: Principal,
        space_id: str,
        bin_id: str,
        *,
        expected_version: int | None,
        title: str | None,
        content: str | None,
        language: str | None,
    ) -> BinRecord:
        await self.spaces.access(principal, space_id, Role.EDITOR)
        self._check(title, content, language)
        fields: dict[str, object] = {}
        if title is not None:
            fields["title"] = title.strip()
        if content is not None:
            fields["content"] = content
        if language is not None:
            fields["language"] = language
        if expected_version is None:
            # "Any current version" (If-Match: *): apply on top of whatever is current, re-reading when a
            # concurrent edit lands in between; each attempt is still one atomic compare-and-set.
            for _attempt in range(5):
                current = await self._live(space_id, bin_id)
                record = await self.repo.update(space_id, bin_id, current.version, fields, principal.user_id)
                if record is not None:
                    break
        else:
            record = await self.repo.update(space_id, bin_id, expected_version, fields, principal.user_id)
        if record is None:
            current = await self._live(space_id, bin_id)
            raise VersionConflict(
                "The bin changed since you loaded it.",
                details={"current_version": current.version, "your_version": expected_version},
            )
        await self._publish(BusEvent.BIN_UPDATED, record, principal.user_id)
        return record

    async def delete(self, principal: Principal, space_id: str, bin_id: str) -> None:
        await self.spaces.access(principal, space_id, Role.EDITOR)
        record = await self._live(space_id, bin_id)
        if await self.repo.delete(space_id, bin_id):
            await self._publish(BusEvent.BIN_DELETED, record, principal.user_id)

    async def revisions(
        self, principal: Principal, space_id: str, bin_id: str, cursor: str | None, limit: int
    ) -> Page[RevisionRecord]:
        await self.spaces.access(principal, space_id)
        await self._live(space_id, bin_id)
        before: int | None = None
        if cursor:
            if not cursor.isdigit() or len(cursor) > 9:
                raise ValidationFailed({"cursor": "invalid"})
            before = int(cursor)
        rows = await self.repo.revisions(bin_id, before, limit + 1)
        items = rows[:limit]
        return Page(items, str(items[-1].version) if len(rows) > limit else None)

    async def revision(self, principal: Principal, space_id: str, bin_id: str, version: int) -> RevisionRecord:
        await self.spaces.access(principal, space_id)
        await self._live(space_id, bin_id)
        record = await self.repo.revision(bin_id, version)
        if record is None:
            raise RevisionNotFound("No such revision.")
        return record

    async def sweep_forever(self, interval: float) -> None:
        while True:
            try:
                for space_id, bin_id in await self.repo.purge_expired(500):
                    await self.bus.publish(
                        space_topic(space_id),
                        {
                            "type": BusEvent.BIN_DELETED,
                            "space_id": space_id,
                            "bin_id": bin_id,
                            "reason": "expired",
                        },
                    )
            except Exception:
                log.exception("bin sweep failed")
            await asyncio.sleep(interval)
