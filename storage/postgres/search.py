"""PostgreSQL search over accounts and posts.

A query of 3+ characters matches anywhere in a handle, display name or post text with `ILIKE '%q%'`;
pg_trgm's GIN indexes (0010_search.sql, 0013_post_search.sql) serve that pattern, and `similarity()`
ranks the matches (posts through a bound that spares most of the work: `_similar_posts`). Shorter
queries match handle prefixes through a btree in pattern order, shortest first (and no
posts); `#tag` reads `post_hashtags` by its tag index. Where the server has no pg_trgm the same rows
match (ILIKE needs no extension, only the indexes do) and a plainer closeness ranks them: shorter
handles, or texts, first.

The rank of a row is a pure function of the query and the row, computed in float8 and handed back in
the cursor exactly (a float8 survives JSON and back), so a page starts strictly after the last row of
the one before: no gaps and no duplicates while the rows stay as they are.
"""

from __future__ import annotations

from typing import Any

from hub.ports.search import MatchMode, RankedPost, RankedProfile, RankedWindow, SearchQuery
from hub.ports.social import ProfileRecord
from storage.postgres.db import PostgresDatabase, from_row
from storage.postgres.posts import post_columns, post_record, post_visible
from storage.postgres.social import PROFILE_COLUMNS, account_suspended, blocked_between


def like_pattern(text: str) -> str:
    """`text` as a literal inside a LIKE pattern: the escape character (backslash), `%` and `_` escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _keyset(paged: bool, backwards: bool, rank: str, ident: str, first: int) -> tuple[str, str]:
    """The WHERE on (rank, id) from the cursor at $first, $first+1, and the order: best first, or
    worst first just above the cursor when `backwards`."""
    if not paged:
        return "", f"ORDER BY {rank} DESC, {ident} DESC"
    if backwards:
        return f"WHERE ({rank}, {ident}) > (${first}::float8, ${first + 1}::uuid)", f"ORDER BY {rank}, {ident}"
    return f"WHERE ({rank}, {ident}) < (${first}::float8, ${first + 1}::uuid)", f"ORDER BY {rank} DESC, {ident} DESC"


def users_sql(mode: MatchMode, *, trigram: bool, paged: bool, backwards: bool = False) -> str:
    """The account search statement. Parameters: $1 viewer, $2 query text, $3 the match pattern,
    $4 the handle-prefix pattern, $5 limit, and when `paged` $6 rank and $7 id of the cursor's row
    (rows after it, or with `backwards` the rows just above it, worst first)."""
    if mode is MatchMode.ANYWHERE:
        match = "(u.username ILIKE $3 OR u.display_name ILIKE $3)"
    else:
        match = "lower(u.username) LIKE $3"
    # A short query is the start of a handle, as typed: the shortest completions first, which is what
    # similarity would say too, without computing it for the thousands of handles it can start.
    closeness = (
        "greatest(similarity(u.username, $2), similarity(u.display_name, $2))"
        if _similarity(mode, trigram)
        else "1.0 / (1 + char_length(u.username))"
    )
    # The exact handle first, then handles starting with the query, then by closeness (all < 1).
    rank = (
        "(CASE WHEN lower(u.username) = lower($2) THEN 2 ELSE 0 END"
        " + CASE WHEN lower(u.username) LIKE $4 THEN 1 ELSE 0 END"
        f" + {closeness})::float8"
    )
    after, order = _keyset(paged, backwards, "s.rank", "s.uid", 6)
    return f"""SELECT * FROM (
                 SELECT {PROFILE_COLUMNS}, u.id AS uid, {rank} AS rank
                 FROM users u
                 WHERE u.username IS NOT NULL AND {match} AND NOT {blocked_between("$1::uuid", "u.id")}
                   AND NOT {account_suspended("u.id")}
               ) s {after}
               {order} LIMIT $5"""


def _similarity(mode: MatchMode, trigram: bool) -> bool:
    return trigram and mode is MatchMode.ANYWHERE


def posts_sql(mode: MatchMode, *, trigram: bool, paged: bool, backwards: bool = False) -> str:
    """The post search statement (ANYWHERE or HASHTAG). Parameters: $1 viewer, $2 the match pattern
    (ANYWHERE) or the tag (HASHTAG), $3 limit, when `paged` then the rank and id of the last row seen,
    and last, when ranked by similarity, the query text (`posts_args` puts them in this order).

    The ranked ids are chosen first and only the page's rows are then loaded as posts, so a common word
    costs a rank per match but the post columns (media, tags, mentions, liked) only per row shown.
    """
    # `visibility <> 'unlisted'` also matches the predicate of the partial trigram index.
    visible = (
        f"p.visibility <> 'unlisted' AND {post_visible('$1::uuid')} "
        f"AND NOT {blocked_between('$1::uuid', 'p.author_id')}"
    )
    after, order = _keyset(paged, backwards, "s.rank", "s.id", 4)
    if _similarity(mode, trigram):
        ctes = _similar_posts(visible, "$6" if paged else "$4", paged=paged, backwards=backwards)
    else:
        if mode is MatchMode.HASHTAG:
            # Newest first: a tag names what posts are about, not how closely; epoch seconds order them.
            rank, source, match = (
                "extract(epoch FROM p.created_at)",
                "post_hashtags ph JOIN posts p ON p.id = ph.post_id",
                "ph.tag = $2",
            )
        else:
            rank, source, match = "1.0 / (1 + char_length(p.text))", "posts p", "p.text ILIKE $2"
        ctes = f"ranked AS (SELECT p.id, ({rank})::float8 AS rank FROM {source} WHERE {match} AND {visible})"
    # The page is always returned best first; `backwards` only picks which rows are on it.
    return f"""WITH {ctes},
               hits AS (SELECT s.id, s.rank FROM ranked s {after} {order} LIMIT $3)
               SELECT {post_columns("$1::uuid")}, h.rank AS rank
               FROM hits h JOIN posts p ON p.id = h.id JOIN users u ON u.id = p.author_id
               ORDER BY h.rank DESC, h.id DESC"""


def _similar_posts(visible: str, text: str, *, paged: bool, backwards: bool) -> str:
    """The CTEs that rank the matches by trigram similarity to the query (`text`), ending in `ranked`:
    the matches that can be on the page, with their similarity.

    Computing `similarity` is most of the cost (a text's trigrams are built on every call), and a common
    word matches thousands of posts. The similarity of a text to the query is at most
    min(q, t) / max(q, t) of their trigram counts (the intersection is at most the smaller set, the
    union at least the larger), and PostgreSQL keeps t in `posts.text_trigrams` (0017). So `matches`
    holds every visible match with that bound; `floor` ranks the few matches with the highest bounds
    (four pages' worth), and the page's last rank among them is a floor that the page's true last rank
    can only beat; only the matches whose bound reaches the floor then get their similarity computed.
    The answer is exactly the full ranking's: pg_trgm computes both in float4, so a bound is never
    below its similarity.

    On a later page the probe takes its rows from those whose bound is below the cursor's rank: they
    all come after the cursor, so the floor holds for the rows after it. Reading backwards (`since`)
    wants the lowest ranks above the cursor, on which an upper bound says nothing: no floor then.
    """
    if backwards:
        floor = "SELECT 0::float8 AS rank"
    else:
        below = "WHERE m.bound::float8 < $4::float8" if paged else ""
        floor = f"""SELECT coalesce((
                      SELECT similarity(p.text, {text}::text)::float8 AS rank
                      FROM (SELECT m.id FROM matches m {below} ORDER BY m.bound DESC LIMIT $3 * 4) top
                      JOIN posts p ON p.id = top.id
                      ORDER BY rank DESC OFFSET $3 - 1 LIMIT 1), 0) AS rank"""
    return f"""matches AS MATERIALIZED (
                 SELECT p.id,
                   least(q.n, p.text_trigrams)::float4 / greatest(q.n, p.text_trigrams, 1)::float4 AS bound
                 FROM posts p, (SELECT coalesce(array_length(show_trgm({text}::text), 1), 0) AS n) q
                 WHERE p.text ILIKE $2 AND {visible}
               ),
               floor AS ({floor}),
               ranked AS (
                 SELECT m.id, similarity(p.text, {text}::text)::float8 AS rank
                 FROM matches m JOIN floor f ON m.bound::float8 >= f.rank JOIN posts p ON p.id = m.id
               )"""


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
        if window.position is not None:
            args += [window.position[0], window.position[1]]
        return args

    async def search_users(self, viewer: str, query: SearchQuery, window: RankedWindow) -> list[RankedProfile]:
        sql = users_sql(
            query.mode,
            trigram=await self.trigram(),
            paged=window.position is not None,
            backwards=window.before is not None,
        )
        rows = await self._db.fetch(sql, *self.users_args(viewer, query, window))
        found = [RankedProfile(from_row(ProfileRecord, row), row["rank"]) for row in rows]
        return found[::-1] if window.before is not None else found

    @staticmethod
    def posts_args(viewer: str, query: SearchQuery, window: RankedWindow, *, trigram: bool) -> list[Any]:
        """The parameters of `posts_sql` for this search, in order."""
        match = query.text if query.mode is MatchMode.HASHTAG else f"%{like_pattern(query.text)}%"
        args: list[Any] = [viewer, match, window.limit]
        if window.position is not None:
            args += [window.position[0], window.position[1]]
        if _similarity(query.mode, trigram):
            args.append(query.text)
        return args

    async def search_posts(self, viewer: str, query: SearchQuery, window: RankedWindow) -> list[RankedPost]:
        if query.mode is MatchMode.HANDLE_PREFIX:
            return []  # posts have no handle; a short query would match nearly every text
        trigram = await self.trigram()
        sql = posts_sql(
            query.mode, trigram=trigram, paged=window.position is not None, backwards=window.before is not None
        )
        rows = await self._db.fetch(sql, *self.posts_args(viewer, query, window, trigram=trigram))
        return [RankedPost(post_record(row), row["rank"]) for row in rows]
