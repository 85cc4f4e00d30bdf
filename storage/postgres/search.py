"""PostgreSQL search over accounts (and, once posts exist, posts).

A query of 3+ characters matches anywhere in a handle or display name with `ILIKE '%q%'`; pg_trgm's GIN
indexes (0010_search.sql) serve that pattern, and `similarity()` ranks the matches. Shorter queries
match handle prefixes through a btree in pattern order. Where the server has no pg_trgm the same rows
match (ILIKE needs no extension, only the indexes do) and a plainer closeness ranks them: shorter
handles first.

The rank of a row is a pure function of the query and the row, computed in float8 and handed back in
the cursor exactly (a float8 survives JSON and back), so a page starts strictly after the last row of
the one before: no gaps and no duplicates while the rows stay as they are.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import asyncpg

from hub.ports.search import MatchMode, RankedPostId, RankedProfile, RankedWindow, SearchQuery
from hub.ports.social import ProfileRecord
from storage.postgres.db import PostgresDatabase
from storage.postgres.social import PROFILE_COLUMNS, blocked_between

_PROFILE_FIELDS = tuple(f.name for f in fields(ProfileRecord))


def like_pattern(text: str) -> str:
    """`text` as a literal inside a LIKE pattern: the escape character (backslash), `%` and `_` escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def users_sql(mode: MatchMode, *, trigram: bool, paged: bool) -> str:
    """The account search statement. Parameters: $1 viewer, $2 query text, $3 the match pattern,
    $4 the handle-prefix pattern, $5 limit, and when `paged` $6 rank and $7 id of the last row seen."""
    if mode is MatchMode.ANYWHERE:
        match = "(u.username ILIKE $3 OR u.display_name ILIKE $3)"
    else:
        match = "lower(u.username) LIKE $3"
    closeness = (
        "greatest(similarity(u.username, $2), similarity(u.display_name, $2))"
        if trigram
        else "1.0 / (1 + char_length(u.username))"
    )
    # The exact handle first, then handles starting with the query, then by closeness (all < 1).
    rank = (
        "(CASE WHEN lower(u.username) = lower($2) THEN 2 ELSE 0 END"
        " + CASE WHEN lower(u.username) LIKE $4 THEN 1 ELSE 0 END"
        f" + {closeness})::float8"
    )
    after = "WHERE (s.rank, s.uid) < ($6::float8, $7::uuid)" if paged else ""
    return f"""SELECT * FROM (
                 SELECT {PROFILE_COLUMNS}, u.id AS uid, {rank} AS rank
                 FROM users u
                 WHERE u.username IS NOT NULL AND {match} AND NOT {blocked_between("$1::uuid", "u.id")}
               ) s {after}
               ORDER BY s.rank DESC, s.uid DESC LIMIT $5"""


def _profile(row: asyncpg.Record) -> ProfileRecord:
    return ProfileRecord(**{name: row[name] for name in _PROFILE_FIELDS})


class PostgresSearchRepo:
    """Implements `hub.ports.search.SearchRepo`.

    `trigram` says whether pg_trgm is there (ranking by similarity); None asks the server on first use.
    """

    def __init__(self, db: PostgresDatabase, *, trigram: bool | None = None) -> None:
        self._db = db
        self._trigram = trigram

    async def trigram(self) -> bool:
        if self._trigram is None:
            self._trigram = bool(
                await self._db.fetchval("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')")
            )
        return self._trigram

    @staticmethod
    def users_args(viewer: str, query: SearchQuery, window: RankedWindow) -> list[Any]:
        """The parameters of `users_sql` for this search, in order."""
        prefix = like_pattern(query.text.lower()) + "%"
        pattern = f"%{like_pattern(query.text)}%" if query.mode is MatchMode.ANYWHERE else prefix
        args: list[Any] = [viewer, query.text, pattern, prefix, window.limit]
        if window.after is not None:
            args += [window.after[0], window.after[1]]
        return args

    async def search_users(self, viewer: str, query: SearchQuery, window: RankedWindow) -> list[RankedProfile]:
        sql = users_sql(query.mode, trigram=await self.trigram(), paged=window.after is not None)
        rows = await self._db.fetch(sql, *self.users_args(viewer, query, window))
        return [RankedProfile(_profile(row), row["rank"]) for row in rows]

    async def search_posts(self, viewer: str, query: SearchQuery, window: RankedWindow) -> list[RankedPostId]:
        # The contract is on the port (`hub.ports.search.SearchRepo.search_posts`); the posts table and
        # its trigram index arrive with posts, and with them this statement.
        raise NotImplementedError("posts search needs the posts table")
