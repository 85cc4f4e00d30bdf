"""The feed cache in Redis: a sorted set per account, one script per operation.

Keys, under `<prefix>:feed:<account>`: the list (a sorted set), `:m` the list's meta hash (`c` when
cached, `h`/`hp` the horizon's score and post id), and while a rebuild runs `:r` (its token), `:ra`
(entries added meanwhile) and `:rd` (posts `p:<id>` and authors `a:<id>` removed meanwhile).

A member is `<post id> <author id>` scored by the post's time in microseconds since the epoch (exact
in a double until the year 2255). Redis orders equal scores by member bytes, which for ids of one
length and alphabet (UUIDs) is the keyset's (created_at, id) order. Positions are compared bytewise
in the scripts, never with Lua's `<` on strings (which uses the server's collation locale). Fan-out
to many accounts is a pipeline of one script call per account: each account's change is atomic, and
no single call blocks Redis for the whole fan-out.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from hub.errors import FeedCacheUnavailable
from hub.ports.feed import CachedWindow, FeedEntry, Position, Window

# Seconds a rebuild may take between `begin_rebuild` and `replace` before it is abandoned.
REBUILD_SECONDS = 60
# Accounts per pipeline round trip in a fan-out.
FANOUT_CHUNK = 500

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

_LIB = """
local function post_of(m) local i = string.find(m, ' ', 1, true) return string.sub(m, 1, i - 1) end
local function author_of(m) local i = string.find(m, ' ', 1, true) return string.sub(m, i + 1) end
local function bytes_lt(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
-- (s1, p1) < (s2, p2) in keyset order
local function older(s1, p1, s2, p2)
  if s1 ~= s2 then return s1 < s2 end
  return bytes_lt(p1, p2)
end
local function below_horizon(meta, s, m)
  local h = redis.call('HMGET', meta, 'h', 'hp')
  return h[1] and older(tonumber(s), post_of(m), tonumber(h[1]), h[2])
end
local function trim(list, meta, cap)
  local n = redis.call('ZCARD', list)
  if n > cap then
    redis.call('ZREMRANGEBYRANK', list, 0, n - cap - 1)
    local oldest = redis.call('ZRANGE', list, 0, 0, 'WITHSCORES')
    redis.call('HSET', meta, 'h', oldest[2], 'hp', post_of(oldest[1]))
  end
end
local function same_ttl(key, as)
  local ttl = redis.call('PTTL', as)
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
"""

# KEYS: list, meta, rebuild, added. ARGV: cap, then score, member pairs.
_ADD = (
    _LIB
    + """
local cap = tonumber(ARGV[1])
if redis.call('HEXISTS', KEYS[2], 'c') == 1 then
  for i = 2, #ARGV, 2 do
    if not below_horizon(KEYS[2], ARGV[i], ARGV[i + 1]) then redis.call('ZADD', KEYS[1], ARGV[i], ARGV[i + 1]) end
  end
  trim(KEYS[1], KEYS[2], cap)
  same_ttl(KEYS[1], KEYS[2])
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  for i = 2, #ARGV, 2 do redis.call('ZADD', KEYS[4], ARGV[i], ARGV[i + 1]) end
  local n = redis.call('ZCARD', KEYS[4])
  if n > cap then redis.call('ZREMRANGEBYRANK', KEYS[4], 0, n - cap - 1) end
  same_ttl(KEYS[4], KEYS[3])
end
return 1
"""
)

# KEYS: list, rebuild, added, dropped. ARGV: member, post id.
_REMOVE_POST = """
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('SADD', KEYS[4], 'p:' .. ARGV[2])
  redis.call('PEXPIRE', KEYS[4], redis.call('PTTL', KEYS[2]))
end
return 1
"""

# KEYS: list, rebuild, added, dropped. ARGV: author id.
_REMOVE_AUTHOR = """
local suffix = ' ' .. ARGV[1]
local function strip(key)
  for _, m in ipairs(redis.call('ZRANGE', key, 0, -1)) do
    if #m > #suffix and string.sub(m, -#suffix) == suffix then redis.call('ZREM', key, m) end
  end
end
strip(KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  strip(KEYS[3])
  redis.call('SADD', KEYS[4], 'a:' .. ARGV[1])
  redis.call('PEXPIRE', KEYS[4], redis.call('PTTL', KEYS[2]))
end
return 1
"""

# KEYS: rebuild, added, dropped. ARGV: token, seconds. What an earlier rebuild collected stays: it
# happened after this rebuild's database read too.
_BEGIN = """
redis.call('HSET', KEYS[1], 't', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('EXPIRE', KEYS[3], ARGV[2])
return 1
"""

# KEYS: list, meta, rebuild, added, dropped. ARGV: token, cap, ttl, horizon score or '', horizon post,
# then score, member pairs.
_REPLACE = (
    _LIB
    + """
if redis.call('HGET', KEYS[3], 't') ~= ARGV[1] then return 0 end
local list, meta, dropped = KEYS[1], KEYS[2], KEYS[5]
redis.call('DEL', list, meta)
redis.call('HSET', meta, 'c', '1')
if ARGV[4] ~= '' then redis.call('HSET', meta, 'h', ARGV[4], 'hp', ARGV[5]) end
for i = 6, #ARGV, 2 do
  local m = ARGV[i + 1]
  if redis.call('SISMEMBER', dropped, 'p:' .. post_of(m)) == 0
    and redis.call('SISMEMBER', dropped, 'a:' .. author_of(m)) == 0 then
    redis.call('ZADD', list, ARGV[i], m)
  end
end
local added = redis.call('ZRANGE', KEYS[4], 0, -1, 'WITHSCORES')
for i = 1, #added, 2 do
  if not below_horizon(meta, added[i + 1], added[i]) then redis.call('ZADD', list, added[i + 1], added[i]) end
end
trim(list, meta, tonumber(ARGV[2]))
redis.call('EXPIRE', list, ARGV[3])
redis.call('EXPIRE', meta, ARGV[3])
redis.call('DEL', KEYS[3], KEYS[4], dropped)
return 1
"""
)

# KEYS: list, meta. ARGV: ttl, mode (top | before | after), limit, score. Entries at the position's
# own score are fetched too (ties ordered by post id); the caller drops those on the wrong side.
_READ = """
if redis.call('HEXISTS', KEYS[2], 'c') == 0 then return false end
redis.call('EXPIRE', KEYS[1], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[1])
local limit, rows = tonumber(ARGV[3]), nil
if ARGV[2] == 'top' then
  rows = redis.call('ZREVRANGE', KEYS[1], 0, limit - 1, 'WITHSCORES')
else
  local ties = redis.call('ZCOUNT', KEYS[1], ARGV[4], ARGV[4])
  if ARGV[2] == 'before' then
    rows = redis.call('ZREVRANGEBYSCORE', KEYS[1], ARGV[4], '-inf', 'WITHSCORES', 'LIMIT', 0, limit + ties)
  else
    rows = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[4], '+inf', 'WITHSCORES', 'LIMIT', 0, limit + ties)
  end
end
local h = redis.call('HMGET', KEYS[2], 'h', 'hp')
return {h[1] or '', h[2] or '', rows}
"""


def _score(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


def _at(score: bytes | str) -> datetime:
    return _EPOCH + timedelta(microseconds=int(float(score)))


def _member(entry: FeedEntry) -> str:
    return f"{entry.post_id} {entry.author_id}"


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def _pairs(entries: Sequence[FeedEntry]) -> list[str | int]:
    out: list[str | int] = []
    for entry in entries:
        out += [_score(entry.at), _member(entry)]
    return out


class RedisFeedCache:
    """Implements `hub.ports.feed.FeedCache` in Redis, shared by every instance."""

    def __init__(self, redis: Redis, prefix: str, capacity: int, ttl: int) -> None:
        self.capacity = capacity
        self._redis = redis
        self._prefix = f"{prefix}:feed:"
        self._ttl = ttl
        self._add = redis.register_script(_ADD)
        self._remove_post = redis.register_script(_REMOVE_POST)
        self._remove_author = redis.register_script(_REMOVE_AUTHOR)
        self._begin = redis.register_script(_BEGIN)
        self._replace = redis.register_script(_REPLACE)
        self._read = redis.register_script(_READ)

    def _keys(self, account: str, *suffixes: str) -> list[str]:
        base = self._prefix + account
        return [base + s for s in suffixes]

    async def read(self, account: str, window: Window) -> CachedWindow | None:
        if window.after is not None:
            mode, at = "after", window.after
        elif window.before is not None:
            mode, at = "before", window.before
        else:
            mode, at = "top", None
        args: list[str | int] = [self._ttl, mode, window.limit, _score(at[0]) if at else 0]
        try:
            raw = await self._read(keys=self._keys(account, "", ":m"), args=args)
        except RedisError as exc:
            raise FeedCacheUnavailable() from exc
        if raw is None:
            return None
        h_score, h_post, rows = raw
        entries = [
            FeedEntry(post, author, _at(rows[i + 1]))
            for i in range(0, len(rows), 2)
            for post, _, author in (_text(rows[i]).partition(" "),)
        ]
        if at is not None:
            if mode == "before":
                entries = [e for e in entries if e.position < at]
            else:
                entries = [e for e in entries if e.position > at]
        horizon: Position | None = (_at(h_score), _text(h_post)) if h_score else None
        return CachedWindow(entries[: window.limit], horizon)

    async def _per_account(
        self, script: Any, accounts: Collection[str], suffixes: tuple[str, ...], args: list[Any]
    ) -> None:
        listed = list(accounts)
        try:
            for start in range(0, len(listed), FANOUT_CHUNK):
                async with self._redis.pipeline(transaction=False) as pipe:
                    for account in listed[start : start + FANOUT_CHUNK]:
                        await script(keys=self._keys(account, *suffixes), args=args, client=pipe)
                    await pipe.execute()
        except RedisError as exc:
            raise FeedCacheUnavailable() from exc

    async def add(self, accounts: Collection[str], entries: Sequence[FeedEntry]) -> None:
        if entries:
            args = [self.capacity, *_pairs(entries)]
            await self._per_account(self._add, accounts, ("", ":m", ":r", ":ra"), args)

    async def remove_post(self, accounts: Collection[str], post_id: str, author_id: str) -> None:
        args = [f"{post_id} {author_id}", post_id]
        await self._per_account(self._remove_post, accounts, ("", ":r", ":ra", ":rd"), args)

    async def remove_author(self, account: str, author_id: str) -> None:
        await self._per_account(self._remove_author, (account,), ("", ":r", ":ra", ":rd"), [author_id])

    async def begin_rebuild(self, account: str) -> str:
        token = secrets.token_hex(8)
        try:
            await self._begin(keys=self._keys(account, ":r", ":ra", ":rd"), args=[token, REBUILD_SECONDS])
        except RedisError as exc:
            raise FeedCacheUnavailable() from exc
        return token

    async def replace(self, account: str, token: str, entries: Sequence[FeedEntry], *, exhaustive: bool) -> bool:
        horizon: list[str | int] = ["", ""]
        if not exhaustive and entries:
            oldest = min(entries, key=lambda e: e.position)
            horizon = [_score(oldest.at), oldest.post_id]
        args: list[str | int] = [token, self.capacity, self._ttl, *horizon, *_pairs(entries)]
        try:
            done = await self._replace(keys=self._keys(account, "", ":m", ":r", ":ra", ":rd"), args=args)
        except RedisError as exc:
            raise FeedCacheUnavailable() from exc
        return bool(done)

    async def forget(self, account: str) -> None:
        try:
            await self._redis.delete(*self._keys(account, "", ":m"))
        except RedisError as exc:
            raise FeedCacheUnavailable() from exc

    async def close(self) -> None:
        return None
