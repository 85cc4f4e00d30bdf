"""Pagination links shared by list endpoints: RFC 8288 `Link` headers for keyset pages."""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote, urlencode

from sanic import HTTPResponse, Request

from rest.jsonutil import json

# Query parameters that position a page; every other parameter (limit, a search query...) is kept.
_POSITION = frozenset({"cursor", "since"})


def page_links(request: Request, *, next_cursor: str | None, prev_cursor: str | None) -> dict[str, str]:
    """`Link: <…>; rel="next"` (older items, `cursor=`) and `rel="prev"` (newer items, `since=`).

    The targets are path-absolute references, resolved against the request's own URL, so they are right
    behind any proxy without trusting a forwarded host. Empty pages carry `prev` too: it is where a
    client polls for what arrives.
    """
    kept = [(key, values[-1]) for key, values in request.args.items() if key not in _POSITION]
    path = quote(request.path, safe="/%:@-._~!$&'()*+,;=")
    links = []
    if next_cursor:
        links.append(f'<{path}?{urlencode([*kept, ("cursor", next_cursor)])}>; rel="next"')
    if prev_cursor:
        links.append(f'<{path}?{urlencode([*kept, ("since", prev_cursor)])}>; rel="prev"')
    return {"Link": ", ".join(links)} if links else {}


class TwoWay(Protocol):
    """A page with cursors both ways (`hub.pagination.TwoWayPage`, search's `RankedPage`)."""

    @property
    def next_cursor(self) -> str | None: ...

    @property
    def prev_cursor(self) -> str | None: ...


def paged_json(request: Request, body: Any, page: TwoWay) -> HTTPResponse:
    """`body` (the page as the route shows it) with the `Link` headers of `page`'s cursors."""
    return json(body, headers=page_links(request, next_cursor=page.next_cursor, prev_cursor=page.prev_cursor))


# The OpenAPI description of the header, for `endpoint(..., headers=LINK_HEADER)`.
LINK_HEADER = {"Link": 'RFC 8288 links to the neighbouring pages: rel="next" (older items), rel="prev" (newer)'}
