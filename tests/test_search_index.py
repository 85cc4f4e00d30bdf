"""The search statements on a populated table: the trigram indexes serve them, and the plain ranking
used where pg_trgm is missing finds the same accounts and pages as cleanly."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from hub.ports.search import MatchMode, RankedWindow, SearchQuery
from hub.services.search import clean_query
from storage.postgres.db import PostgresDatabase
from storage.postgres.search import PostgresSearchRepo, users_sql

NOBODY = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[PostgresDatabase]:
    database = await PostgresDatabase.connect(database_url)
    await database.execute(
        """INSERT INTO users (username, display_name)
           SELECT 'member' || i, 'Person ' || i || CASE WHEN i % 10 = 0 THEN ' Ten' ELSE '' END
           FROM generate_series(1, 5000) i"""
    )
    # Guests: no handle, never found, left out of the indexes.
    await database.execute(
        "INSERT INTO users (display_name, is_guest) SELECT 'Person guest ' || i, true FROM generate_series(1, 500) i"
    )
    # As autovacuum would: a GIN index takes fresh rows into a pending list first, which the planner
    # prices as a scan of its own until a vacuum folds it into the index.
    await database.execute("VACUUM ANALYZE users")
    try:
        yield database
    finally:
        await database.close()


async def _plan(db: PostgresDatabase, query: SearchQuery) -> str:
    window = RankedWindow(51)
    sql = users_sql(query.mode, trigram=True, paged=False)
    rows = await db.fetch("EXPLAIN " + sql, *PostgresSearchRepo.users_args(NOBODY, query, window))
    return "\n".join(r[0] for r in rows)


async def test_the_trigram_indexes_serve_a_substring_query(db: PostgresDatabase) -> None:
    repo = PostgresSearchRepo(db)
    assert await repo.trigram()  # the embedded and the system PostgreSQL both ship pg_trgm
    # No planner settings changed: on 5,000 accounts a selective substring is cheaper by the indexes.
    plan = await _plan(db, clean_query("ber4242"))
    assert "Bitmap Index Scan on users_handle_trgm" in plan, plan
    assert "Bitmap Index Scan on users_display_name_trgm" in plan, plan
    assert "Seq Scan on users" not in plan, plan
    found = await repo.search_users(NOBODY, clean_query("ber4242"), RankedWindow(10))
    assert [r.profile.handle for r in found] == ["member4242"]


async def test_a_short_query_reads_the_handle_prefix_index(db: PostgresDatabase) -> None:
    await db.execute("INSERT INTO users (username, display_name) VALUES ('zq', 'Zed'), ('zqa', 'Zed A')")
    await db.execute("VACUUM ANALYZE users")
    plan = await _plan(db, clean_query("zq"))
    assert "users_handle_prefix" in plan, plan
    repo = PostgresSearchRepo(db)
    found = await repo.search_users(NOBODY, clean_query("ZQ"), RankedWindow(10))
    assert [r.profile.handle for r in found] == ["zq", "zqa"]


async def _all(repo: PostgresSearchRepo, query: SearchQuery, limit: int) -> list[str]:
    seen: list[str] = []
    window = RankedWindow(limit)
    for _ in range(10_000):
        rows = await repo.search_users(NOBODY, query, window)
        seen += [r.profile.id for r in rows]
        if len(rows) < limit:
            return seen
        window = RankedWindow(limit, rows[-1].position)
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("trigram", [True, False])
async def test_pages_cover_every_match_once(db: PostgresDatabase, trigram: bool) -> None:
    repo = PostgresSearchRepo(db, trigram=trigram)
    query = clean_query("ten")  # 500 display names, many of them ranked alike
    assert query.mode is MatchMode.ANYWHERE
    whole = await _all(repo, query, 1000)
    paged = await _all(repo, query, 37)
    assert len(whole) == 500 and paged == whole


async def test_without_pg_trgm_the_same_accounts_match(db: PostgresDatabase) -> None:
    with_trgm, plain = PostgresSearchRepo(db, trigram=True), PostgresSearchRepo(db, trigram=False)
    for text in ("member12", "person 77", "me", "m", "ER49", "guest"):
        query = clean_query(text)
        a = {r.profile.id for r in await with_trgm.search_users(NOBODY, query, RankedWindow(6000))}
        b = {r.profile.id for r in await plain.search_users(NOBODY, query, RankedWindow(6000))}
        assert a == b, text
    assert not await plain.search_users(NOBODY, clean_query("guest"), RankedWindow(10))
