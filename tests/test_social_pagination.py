"""Two-way pages (hub.pagination.two_way_page) on plain values: where next and prev point."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.pagination import EPOCH, Cursor, two_way_page

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _item(n: int) -> tuple[datetime, str]:
    return T0 + timedelta(seconds=n), f"id{n}"


def _pos(item: tuple[datetime, str]) -> tuple[datetime, str]:
    return item


def test_first_page_points_older_and_newer() -> None:
    rows = [_item(n) for n in (9, 8, 7, 6)]  # newest first, limit + 1
    page = two_way_page(rows, 3, _pos, cursor=None, since=None)
    assert page.items == rows[:3]
    assert Cursor.decode(page.next_cursor) == Cursor(*_item(7))
    assert Cursor.decode(page.prev_cursor) == Cursor(*_item(9))


def test_last_and_empty_pages() -> None:
    last = two_way_page([_item(2)], 3, _pos, cursor=Cursor(*_item(3)), since=None)
    assert last.next_cursor is None and Cursor.decode(last.prev_cursor) == Cursor(*_item(2))
    # Empty: prev stays where the request stood, or at the origin of an empty list.
    after_end = two_way_page([], 3, _pos, cursor=Cursor(*_item(1)), since=None)
    assert after_end.next_cursor is None and Cursor.decode(after_end.prev_cursor) == Cursor(*_item(1))
    nothing = two_way_page([], 3, _pos, cursor=None, since=None, origin_id="0")
    assert Cursor.decode(nothing.prev_cursor) == Cursor(EPOCH, "0")


def test_since_pages_turn_the_oldest_newer_items_newest_first() -> None:
    since = Cursor(*_item(5))
    page = two_way_page([_item(6), _item(7)], 2, _pos, cursor=None, since=since)  # oldest first
    assert page.items == [_item(7), _item(6)]
    assert Cursor.decode(page.prev_cursor) == Cursor(*_item(7))
    assert Cursor.decode(page.next_cursor) == Cursor(*_item(6))
    caught_up = two_way_page([], 2, _pos, cursor=None, since=since)
    assert caught_up.items == [] and caught_up.next_cursor is None and caught_up.prev_cursor == since.encode()
