"""The whiteboard over REST: the board after any change (`?at=`), its history, and the SVG export,
for members only."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

from tests.support.realtime import Board, guest, stroke


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _joined(board: Board) -> None:
    for sock in (board.a, board.b):
        assert (await sock.call("join", {"space_id": board.space_id}))["ok"]


async def _draw(board: Board, n: int, **overrides: object) -> list[str]:
    ids = []
    for i in range(n):
        body = stroke(board.space_id, points=[[10 * i, 10], [10 * i + 5, 40]], **overrides)
        ack = await board.a.call("stroke", body)
        assert ack["ok"], ack
        ids.append(body["id"])
    return ids


async def test_the_board_at_any_change_and_its_history(board: Board, client: httpx.AsyncClient) -> None:
    await _joined(board)
    first = await _draw(board, 3)  # seq 1-3
    assert (await board.b.call("erase", {"space_id": board.space_id, "ids": [first[1]]}))["ok"]  # seq 4
    more = await _draw(board, 2)  # seq 5-6
    assert (await board.a.call("clear", {"space_id": board.space_id}))["ok"]  # seq 7
    await _draw(board, 1)  # seq 8

    url = f"/spaces/{board.space_id}/board"
    now = (await client.get(url, headers=_auth(board.alice.token))).json()
    assert now["seq"] == 8 and len(now["strokes"]) == 1
    # The same shape as a join's snapshot.
    await board.b.call("leave", {"space_id": board.space_id})
    joined = await board.b.call("join", {"space_id": board.space_id})
    assert now["strokes"] == joined["snapshot"]["strokes"] and now["epoch"] == joined["epoch"]

    def ids_at(body: dict[str, object]) -> list[str]:
        return [s["id"] for s in body["strokes"]]  # type: ignore[attr-defined]

    at = {n: (await client.get(url, params={"at": n}, headers=_auth(board.bob.token))).json() for n in (0, 3, 4, 6, 7)}
    assert ids_at(at[0]) == [] and ids_at(at[3]) == first
    assert ids_at(at[4]) == [first[0], first[2]]  # Bob's erase
    assert ids_at(at[6]) == [first[0], first[2], *more]
    assert ids_at(at[7]) == []  # the clear
    assert [at[n]["seq"] for n in (0, 3, 4, 6, 7)] == [0, 3, 4, 6, 7]
    assert (await client.get(url, params={"at": 99}, headers=_auth(board.bob.token))).json()["seq"] == 8

    history = (await client.get(f"{url}/history", params={"limit": 3}, headers=_auth(board.bob.token))).json()
    assert [(c["seq"], c["kind"], c["strokes"]) for c in history["items"]] == [
        (8, "stroke", 1),
        (7, "clear", 4),
        (6, "stroke", 1),
    ]
    assert history["items"][1]["author_id"] == board.alice.user_id and history["items"][1]["at"] is not None
    rest = (
        await client.get(f"{url}/history", params={"cursor": history["next_cursor"]}, headers=_auth(board.bob.token))
    ).json()
    assert [c["seq"] for c in rest["items"]] == [5, 4, 3, 2, 1] and rest["next_cursor"] is None
    assert rest["items"][1] | {"at": None} == {
        "seq": 4, "kind": "erase", "author_id": board.bob.user_id, "strokes": 1, "at": None,
    }  # fmt: skip


async def test_strangers_get_the_missing_space_answer_and_bad_input_is_422(
    board: Board, client: httpx.AsyncClient
) -> None:
    stranger = await guest(client, "Mallory")
    base = f"/spaces/{board.space_id}/board"
    for path in (base, f"{base}/history", f"{base}.svg"):
        mine = await client.get(path, headers=_auth(stranger.token))
        missing = await client.get(path.replace(board.space_id, "A" * 22), headers=_auth(stranger.token))
        assert mine.status_code == missing.status_code == 404, path
        assert mine.json()["error"]["code"] == missing.json()["error"]["code"] == "space_not_found"
    for params in ({"at": -1}, {"at": "x"}, {"at": 2**63}):
        r = await client.get(base, params=params, headers=_auth(board.alice.token))
        assert r.status_code == 422, (params, r.text)
    r = await client.get(f"{base}/history", params={"cursor": "not-a-seq"}, headers=_auth(board.alice.token))
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor", r.text


async def test_the_svg_export_draws_every_stroke_and_runs_nothing(board: Board, client: httpx.AsyncClient) -> None:
    await _joined(board)
    await _draw(board, 2)
    await _draw(board, 1, tool="highlighter", color="#ff00aa")
    for tool in ("line", "rect", "ellipse", "arrow"):
        await _draw(board, 1, tool=tool)
    # Points with pressure ([x, y, p]), as pens send them, and a one-point dot.
    dotted = stroke(board.space_id)  # its points carry pressure
    assert (await board.a.call("stroke", dotted))["ok"]
    assert (await board.a.call("stroke", stroke(board.space_id, points=[[5, 5, 0.5]])))["ok"]
    r = await client.get(f"/spaces/{board.space_id}/board.svg", headers=_auth(board.alice.token))
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert "sandbox" in r.headers["content-security-policy"]
    assert "attachment" in r.headers["content-disposition"]
    root = ET.fromstring(r.text)
    ns = "{http://www.w3.org/2000/svg}"
    tags = [el.tag.removeprefix(ns) for el in root]
    assert tags[:2] == ["defs", "rect"]  # the marker for arrows, then the background
    assert tags[2:] == ["polyline", "polyline", "polyline", "line", "rect", "ellipse", "line", "polyline", "circle"]
    assert root[4].get("opacity") == "0.35" and root[4].get("stroke") == "#ff00aa"
    # Nothing that runs or loads anything.
    for el in root.iter():
        assert el.tag.removeprefix(ns) not in {"script", "foreignObject", "image", "a", "use"}
        assert not any(k.startswith("on") or "href" in k for k in el.attrib), el.attrib


async def test_the_svg_export_draws_text_and_notes_escaped(board: Board, client: httpx.AsyncClient) -> None:
    await _joined(board)
    label = stroke(board.space_id, tool="text", width=20, points=[[10, 10]], text='<script>alert(1)</script>\n"two"')
    note = stroke(board.space_id, tool="note", color="#fde68a", width=16, points=[[50, 50], [250, 200]], text="a & b")
    for body in (label, note):
        ack = await board.a.call("stroke", body)
        assert ack["ok"], ack
    r = await client.get(f"/spaces/{board.space_id}/board.svg", headers=_auth(board.alice.token))
    assert r.status_code == 200
    root = ET.fromstring(r.text)
    ns = "{http://www.w3.org/2000/svg}"
    texts = list(root.iter(f"{ns}text"))
    assert ["".join(t.itertext()) for t in texts] == ['<script>alert(1)</script>"two"', "a & b"]
    assert [span.text for span in texts[0]] == ["<script>alert(1)</script>", '"two"']
    assert "<script>" not in r.text and texts[0].get("font-size") == "20"
    assert root.find(f"{ns}g/{ns}rect") is not None and root.find(f"{ns}g/{ns}rect").get("fill") == "#fde68a"  # type: ignore[union-attr]
    assert not any(el.tag.removeprefix(ns) == "script" for el in root.iter())
