"""In-process feed cache (single-process mode): a sorted list per account."""

from __future__ import annotations

import bisect
import secrets
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from hub.ports.feed import CachedWindow, FeedEntry, Position, Window

# Seconds a rebuild may take between `begin_rebuild` and `replace` before it is abandoned.
REBUILD_SECONDS = 60.0

_Key = tuple[Position, str]  # ((at, post_id), author_id): sorts like the keyset


def _key(entry: FeedEntry) -> _Key:
    return entry.position, entry.author_id


@dataclass(slots=True)
class _List:
    keys: list[_Key]  # oldest first
    horizon: Position | None
    expires: float

    def put(self, entry: FeedEntry) -> None:
        key = _key(entry)
        if self.horizon is not None and key[0] < self.horizon:
            return
        i = bisect.bisect_left(self.keys, key)
        if i == len(self.keys) or self.keys[i] != key:
            self.keys.insert(i, key)

    def trim(self, capacity: int) -> None:
        if len(self.keys) > capacity:
            del self.keys[: len(self.keys) - capacity]
            self.horizon = self.keys[0][0]


@dataclass(slots=True)
class _Rebuild:
    token: str
    expires: float
    added: dict[str, FeedEntry] = field(default_factory=dict)
    dropped_posts: set[str] = field(default_factory=set)
    dropped_authors: set[str] = field(default_factory=set)


def _entry(key: _Key) -> FeedEntry:
    (at, post_id), author_id = key
    return FeedEntry(post_id, author_id, at)


class MemoryFeedCache:
    """Implements `hub.ports.feed.FeedCache` with dicts; expired lists are dropped when touched."""

    def __init__(self, capacity: int, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self._ttl = ttl
        self._clock = clock
        self._lists: dict[str, _List] = {}
        self._rebuilds: dict[str, _Rebuild] = {}
        self._next_sweep = clock() + ttl

    def _sweep(self) -> None:
        # Lists of accounts nobody touches again are dropped here, at most once per TTL.
        now = self._clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._ttl
        self._lists = {a: held for a, held in self._lists.items() if held.expires > now}
        self._rebuilds = {a: r for a, r in self._rebuilds.items() if r.expires > now}

    def _list(self, account: str) -> _List | None:
        held = self._lists.get(account)
        if held is not None and held.expires <= self._clock():
            del self._lists[account]
            return None
        return held

    def _rebuild(self, account: str) -> _Rebuild | None:
        held = self._rebuilds.get(account)
        if held is not None and held.expires <= self._clock():
            del self._rebuilds[account]
            return None
        return held

    async def read(self, account: str, window: Window) -> CachedWindow | None:
        held = self._list(account)
        if held is None:
            return None
        held.expires = self._clock() + self._ttl
        keys = held.keys
        if window.after is not None:
            start = bisect.bisect_right(keys, (window.after, "\U0010ffff"))
            chosen = keys[start : start + window.limit]
        else:
            end = len(keys) if window.before is None else bisect.bisect_left(keys, (window.before, ""))
            chosen = keys[max(0, end - window.limit) : end][::-1]
        return CachedWindow([_entry(k) for k in chosen], held.horizon)

    async def add(self, accounts: Collection[str], entries: Sequence[FeedEntry]) -> None:
        self._sweep()
        for account in accounts:
            held = self._list(account)
            if held is not None:
                for entry in entries:
                    held.put(entry)
                held.trim(self.capacity)
            rebuild = self._rebuild(account)
            if rebuild is not None:
                for entry in entries:
                    rebuild.added[entry.post_id] = entry

    async def remove_post(self, accounts: Collection[str], post_id: str, author_id: str) -> None:
        for account in accounts:
            held = self._list(account)
            if held is not None:
                held.keys = [k for k in held.keys if k[0][1] != post_id or k[1] != author_id]
            rebuild = self._rebuild(account)
            if rebuild is not None:
                rebuild.added.pop(post_id, None)
                rebuild.dropped_posts.add(post_id)

    async def remove_author(self, account: str, author_id: str) -> None:
        held = self._list(account)
        if held is not None:
            held.keys = [k for k in held.keys if k[1] != author_id]
        rebuild = self._rebuild(account)
        if rebuild is not None:
            rebuild.added = {p: e for p, e in rebuild.added.items() if e.author_id != author_id}
            rebuild.dropped_authors.add(author_id)

    async def begin_rebuild(self, account: str) -> str:
        token = secrets.token_hex(8)
        rebuild = self._rebuild(account)
        expires = self._clock() + REBUILD_SECONDS
        if rebuild is None:
            self._rebuilds[account] = _Rebuild(token, expires)
        else:  # what the earlier rebuild collected stays: it happened after this one's read too
            rebuild.token, rebuild.expires = token, expires
        return token

    async def replace(self, account: str, token: str, entries: Sequence[FeedEntry], *, exhaustive: bool) -> bool:
        rebuild = self._rebuild(account)
        if rebuild is None or rebuild.token != token:
            return False
        del self._rebuilds[account]
        horizon = None if exhaustive or not entries else min(e.position for e in entries)
        fresh = _List([], horizon, self._clock() + self._ttl)
        for entry in entries:
            if entry.post_id not in rebuild.dropped_posts and entry.author_id not in rebuild.dropped_authors:
                fresh.put(entry)
        for entry in rebuild.added.values():
            fresh.put(entry)
        fresh.trim(self.capacity)
        self._lists[account] = fresh
        return True

    async def forget(self, account: str) -> None:
        self._lists.pop(account, None)

    async def close(self) -> None:
        self._lists.clear()
        self._rebuilds.clear()
