"""The post search statements on a populated table: the partial trigram index serves text queries,
the tag index serves `#tag`, and the plain ranking used where pg_trgm is missing finds the same posts."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator

import pytest

from hub.ports.search import RankedWindow, SearchQuery
from hub.services.search import clean_post_query
from storage.postgres.db import PostgresDatabase
from storage.postgres.search import PostgresSearchRepo, posts_sql

NOBODY = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[PostgresDatabase]:
    database = await PostgresDatabase.connect(database_url)
    await database.execute(
        "INSERT INTO users (username, display_name) SELECT 'writer' || i, 'Writer' FROM generate_series(1, 50) i"
    )
    # 20,000 posts, one in ten unlisted, one in ten followers-only; five in every 200 say
    # "lighthouse", one of those five unlisted and one followers-only.
    await database.execute(
        """INSERT INTO posts (author_id, text, visibility)
           SELECT (SELECT id FROM users WHERE username = 'writer' || (1 + i % 50)),
                  'post number ' || i || ' about '
                    || CASE WHEN i % 200 BETWEEN 1 AND 5 THEN 'the lighthouse' ELSE 'weather' END,
                  CASE i % 10 WHEN 1 THEN 'unlisted' WHEN 2 THEN 'followers' ELSE 'public' END
           FROM generate_series(1, 20000) i"""
    )
    await database.execute(
        """INSERT INTO post_hashtags (post_id, tag, position)
           SELECT id, 'tag' || (abs(hashtext(id::text)) % 500), 0 FROM posts"""
    )
    # As autovacuum would: fold the GIN pending list into the index and give the planner statistics.
    await database.execute("VACUUM ANALYZE posts")
    await database.execute("VACUUM ANALYZE post_hashtags")
    try:
        yield database
    finally:
        await database.close()


async def _plan(db: PostgresDatabase, query: SearchQuery) -> str:
    sql = posts_sql(query.mode, trigram=True, paged=False)
    rows = await db.fetch(
        "EXPLAIN " + sql, *PostgresSearchRepo.posts_args(NOBODY, query, RankedWindow(21), trigram=True)
    )
    return "\n".join(r[0] for r in rows)


async def test_the_trigram_index_serves_a_substring_query(db: PostgresDatabase) -> None:
    repo = PostgresSearchRepo(db)
    assert await repo.trigram()
    plan = await _plan(db, clean_post_query("lighthouse"))
    assert "Bitmap Index Scan on posts_text_trgm" in plan, plan
    assert "Seq Scan on posts" not in plan, plan
    found = await repo.search_posts(NOBODY, clean_post_query("LIGHTHOUSE"), RankedWindow(500))
    # 500 say it; the unlisted and followers-only ones are not found by a stranger.
    assert len(found) == 300
    assert all(r.post.visibility == "public" and "lighthouse" in r.post.text for r in found)


async def test_a_hashtag_query_reads_the_tag_index(db: PostgresDatabase) -> None:
    plan = await _plan(db, clean_post_query("#tag7"))
    assert "post_hashtags_tag" in plan, plan
    repo = PostgresSearchRepo(db)
    found = await repo.search_posts(NOBODY, clean_post_query("#TAG7"), RankedWindow(1000))
    assert found and all("tag7" in r.post.hashtags for r in found)
    ranks = [r.rank for r in found]
    assert ranks == sorted(ranks, reverse=True)


async def _all(repo: PostgresSearchRepo, query: SearchQuery, limit: int) -> list[str]:
    seen: list[str] = []
    window = RankedWindow(limit)
    for _ in range(10_000):
        rows = await repo.search_posts(NOBODY, query, window)
        seen += [r.post.id for r in rows]
        if len(rows) < limit:
            return seen
        window = RankedWindow(limit, rows[-1].position)
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("trigram", [True, False])
async def test_pages_cover_every_match_once(db: PostgresDatabase, trigram: bool) -> None:
    repo = PostgresSearchRepo(db, trigram=trigram)
    query = clean_post_query("lighthouse")
    whole = await _all(repo, query, 1000)
    paged = await _all(repo, query, 23)
    assert len(whole) == 300 and paged == whole


async def test_without_pg_trgm_the_same_posts_match(db: PostgresDatabase) -> None:
    with_trgm, plain = PostgresSearchRepo(db, trigram=True), PostgresSearchRepo(db, trigram=False)
    for text in ("lighthouse", "number 12", "#tag3", "ab"):
        query = clean_post_query(text)
        a = {r.post.id for r in await with_trgm.search_posts(NOBODY, query, RankedWindow(30000))}
        b = {r.post.id for r in await plain.search_posts(NOBODY, query, RankedWindow(30000))}
        assert a == b, text


async def test_the_bounded_ranking_is_the_full_ranking(db: PostgresDatabase) -> None:
    """Similarity is computed only for matches whose trigram-count bound can reach the page; the pages
    must still be exactly the full ranking's, in order, at any page size. Texts of many lengths hold
    the word whole, inside longer words, repeated and in other cases."""
    rng = random.Random(5)
    words = ["tide", "harbour", "gull", "rope", "anchor", "salt", "keel", "mast", "buoy", "pier"]
    forms = ["beacon", "Beacon", "beacons", "abeacon", "beacon-light", "BEACON beacon"]
    texts = [
        " ".join(
            [*rng.choices(words, k=rng.randint(0, 40)), rng.choice(forms), *rng.choices(words, k=rng.randint(0, 8))]
        )
        for _ in range(1500)
    ]
    await db.execute(
        """INSERT INTO posts (author_id, text, visibility)
           SELECT (SELECT id FROM users WHERE username = 'writer1'), t, 'public' FROM unnest($1::text[]) t""",
        texts,
    )
    await db.execute("VACUUM ANALYZE posts")
    repo = PostgresSearchRepo(db, trigram=True)
    query = clean_post_query("beacon")
    full = await db.fetch(
        """SELECT id::text AS id, similarity(text, 'beacon')::float8 AS rank FROM posts
           WHERE text ILIKE '%beacon%' AND visibility <> 'unlisted' ORDER BY rank DESC, id DESC"""
    )
    assert len(full) == 1500
    expected = [(r["rank"], r["id"]) for r in full]
    for limit in (1, 7, 20, 100):
        got: list[tuple[float, str]] = []
        window = RankedWindow(limit)
        while True:
            rows = await repo.search_posts(NOBODY, query, window)
            got += [(r.rank, r.post.id) for r in rows]
            if len(rows) < limit:
                break
            window = RankedWindow(limit, rows[-1].position)
        assert got == expected, limit
    # Read upwards from the middle (`since`): the rows just above the cursor, best first.
    middle = expected[700]
    above = await repo.search_posts(NOBODY, query, RankedWindow(20, before=middle))
    assert [(r.rank, r.post.id) for r in above] == expected[680:700]
