"""Invariants that must hold for every input, checked with Hypothesis (property-based tests).

Tokens, passwords, whiteboard input validation, pagination cursors, rate limiting, the replay
buffer's contiguity and the HTTP surface (security headers, JSON errors) through the real app.
Example counts are kept small where one example is expensive (Argon2, HTTP round trips).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import string
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import httpx
import orjson
import pytest
from argon2 import PasswordHasher, Type
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from hub.config import Settings
from hub.errors import BadRequest, HubError, RateLimited, Unauthorized, ValidationFailed
from hub.pagination import Cursor
from hub.services import whiteboard_input as parse
from hub.services.identity import IdentityService, check_password
from hub.services.tokens import TokenSigner
from hub.services.whiteboard import contiguous
from storage.memory.bus import MemoryBus
from storage.memory.replay import MemoryReplayBuffer
from storage.ratelimit import LimitsRateLimiter
from tests.support.services import RedisHandle

# Fixtures (a client of the real app, Redis) are reused across examples on purpose: they are the
# system under test, and every example below leaves nothing behind that a later one depends on.
REUSE_FIXTURES = [HealthCheck.function_scoped_fixture]
FAST = settings(max_examples=150, deadline=None)

# --- tokens (hub/services/tokens.py) ---------------------------------------------------------------

AUDIENCE = "collab-hub-test"
REGISTERED = {"sub", "jti", "iat", "exp", "typ", "aud", "sid", "nbf", "iss"}
SIGNER = TokenSigner(Ed25519PrivateKey.generate(), AUDIENCE)
PUBLIC_RAW = SIGNER._public[SIGNER.kid].public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
PUBLIC_PEM = SIGNER._public[SIGNER.kid].public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)

json_scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)
extra_claims = st.dictionaries(
    st.text(min_size=1, max_size=12).filter(lambda k: k not in REGISTERED), json_values, max_size=4
)
token_kinds = st.sampled_from(["access", "refresh"])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _rejected(token: str, typ: str = "access") -> str:
    with pytest.raises(Unauthorized) as caught:
        SIGNER.verify(token, typ)
    return caught.value.code


@FAST
@given(
    sub=st.text(min_size=1, max_size=40),
    typ=token_kinds,
    ttl=st.integers(2, 10**7),
    sid=st.text(max_size=40),
    extra=extra_claims,
)
def test_token_round_trip(sub: str, typ: str, ttl: int, sid: str, extra: dict[str, Any]) -> None:
    token, issued = SIGNER.issue(sub=sub, typ=typ, ttl=ttl, sid=sid, extra=extra)
    assert SIGNER.verify(token, typ) == issued
    other = "refresh" if typ == "access" else "access"
    assert _rejected(token, other) == "token_wrong_type"


@FAST
@given(data=st.data(), typ=token_kinds, extra=extra_claims)
def test_token_rejects_every_single_byte_change(data: st.DataObject, typ: str, extra: dict[str, Any]) -> None:
    token, _ = SIGNER.issue(sub=str(uuid.uuid4()), typ=typ, ttl=3600, sid="s", extra=extra)
    at = data.draw(st.integers(0, len(token) - 1), label="position")
    byte = data.draw(st.characters(codec="ascii").filter(lambda c: c != token[at]), label="byte")
    change = data.draw(st.sampled_from(["replace", "insert", "delete"]), label="change")
    changed = {
        "replace": token[:at] + byte + token[at + 1 :],
        "insert": token[:at] + byte + token[at:],
        "delete": token[:at] + token[at + 1 :],
    }[change]
    assert _rejected(changed, typ) in {"token_invalid", "token_wrong_audience", "token_wrong_type", "token_expired"}


@FAST
@given(
    alg=st.sampled_from(["none", "None", "NONE", "HS256", "HS384", "HS512", "RS256", "ES256", "PS256", "", "EdDSA "]),
    kid=st.sampled_from([SIGNER.kid, "", "unknown"]),
    signature=st.binary(max_size=96),
)
def test_token_refuses_any_other_algorithm(alg: str, kid: str, signature: bytes) -> None:
    now = int(datetime.now(UTC).timestamp())
    claims = {"sub": "u", "jti": "j", "iat": now, "exp": now + 600, "typ": "access", "aud": AUDIENCE, "sid": "s"}
    forged = ".".join(
        [_b64(orjson.dumps({"alg": alg, "typ": "JWT", "kid": kid})), _b64(orjson.dumps(claims)), _b64(signature)]
    )
    assert _rejected(forged) == "token_invalid"
    # Algorithm confusion: the public key (raw or PEM) used as an HMAC secret.
    # (Built by hand: PyJWT itself refuses a PEM key as an HMAC secret.)
    for secret in (PUBLIC_RAW, PUBLIC_PEM):
        signing_input = ".".join(
            [_b64(orjson.dumps({"alg": "HS256", "typ": "JWT", "kid": kid})), _b64(orjson.dumps(claims))]
        )
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert _rejected(f"{signing_input}.{_b64(mac)}") == "token_invalid"


@FAST
@given(ttl=st.integers(-(10**7), 10**7).filter(lambda t: not -7 <= t <= 1), typ=token_kinds)
def test_token_expiry(ttl: int, typ: str) -> None:
    # The signer allows 5 s of clock skew; ttls within 2 s of that edge are left out (no timing margins).
    token, _ = SIGNER.issue(sub="u", typ=typ, ttl=ttl, sid="s")
    if ttl > 0:
        assert SIGNER.verify(token, typ).exp - ttl == SIGNER.verify(token, typ).iat
    else:
        assert _rejected(token, typ) == "token_expired"


# --- passwords (hub/services/identity.py) ----------------------------------------------------------

defaults = Settings()
HASHER = PasswordHasher(
    time_cost=defaults.argon2_time_cost,
    memory_cost=defaults.argon2_memory_kib,
    parallelism=defaults.argon2_parallelism,
    type=Type.ID,
)
# Only the hashing half of the service is exercised; its repositories are never reached.
IDENTITY = IdentityService(
    cast(Any, None),
    cast(Any, None),
    cast(Any, None),
    SIGNER,
    MemoryBus(),
    access_ttl=60,
    refresh_ttl=60,
    hasher=HASHER,
    revocation_cache_ttl=0,
)
passwords = st.text(min_size=8, max_size=64).filter(lambda p: 8 <= len(p.encode()) <= 128)


@settings(max_examples=6, deadline=None)
@given(password=passwords, other=passwords)
async def test_password_hash_round_trip(password: str, other: str) -> None:
    assert check_password(password) == password
    stored = await IDENTITY._hash(password)
    assert await IDENTITY._verify(stored, password)
    assert await IDENTITY._verify(stored, other) == (other == password)


@FAST
@given(stored=st.text(st.characters(codec="ascii"), max_size=120), password=passwords)
async def test_password_verify_never_raises_on_a_corrupt_hash(stored: str, password: str) -> None:
    assert await IDENTITY._verify(stored, password) is False


# --- whiteboard input (hub/services/whiteboard_input.py) -------------------------------------------

anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | st.binary(max_size=8),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)
numbers = st.integers(-(2**70), 2**70) | st.floats() | st.booleans() | st.text(max_size=4) | st.none()
points = st.lists(st.lists(numbers, min_size=0, max_size=4) | anything, max_size=12)
# Valid colours, alone and with something around them (a regex anchored with ^...$ lets "\n" through).
edges = st.sampled_from(["", "\n", " ", "\x00", "x", "#"])
valid_colors = st.from_regex(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})", fullmatch=True)
colors = st.one_of(
    valid_colors,
    st.builds(str.__add__, valid_colors, edges),
    st.builds(str.__add__, edges, valid_colors),
    st.text(max_size=10),
)
coords = st.floats(-1e6, 1e6) | st.integers(-(10**6), 10**6)
valid_points = st.lists(
    st.tuples(coords, coords).map(list) | st.tuples(coords, coords, st.floats(0, 1)).map(list), min_size=1, max_size=12
)
junk_fields = st.fixed_dictionaries(
    {},
    optional={
        "id": st.uuids().map(str) | st.text(max_size=40) | anything,
        "tool": st.text(max_size=8) | anything,
        "color": colors | anything,
        "width": numbers,
        "points": points,
    },
)


def _stroke_with(base: dict[str, Any], junk: dict[str, Any], dropped: list[str]) -> dict[str, Any]:
    return {k: v for k, v in {**base, **junk}.items() if k not in dropped}


# Mostly valid strokes with some fields replaced or missing, so every check is reached.
stroke_like = st.builds(
    _stroke_with,
    st.fixed_dictionaries(
        {
            "id": st.uuids().map(str),
            "tool": st.sampled_from(sorted(parse.TOOLS)),
            "color": colors,
            "width": st.floats(0.1, 200) | st.integers(1, 200),
            "points": valid_points,
        }
    ),
    st.just({}) | junk_fields,
    st.lists(st.sampled_from(["id", "tool", "color", "width", "points"]), max_size=2),
)
COLOR = r"#([0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})"


def _finite_within(value: float, low: float, high: float) -> bool:
    return isinstance(value, float) and math.isfinite(value) and low <= value <= high


@FAST
@given(raw=stroke_like | anything, max_points=st.integers(1, 10))
@example(
    raw={"id": str(uuid.UUID(int=1)), "tool": "pen", "color": "#000\n", "width": 1, "points": [[0, 0]]}, max_points=1
)
def test_stroke_validation_accepts_only_valid_strokes(raw: Any, max_points: int) -> None:
    import re

    try:
        stroke = parse.stroke(parse.payload(raw), max_points)
    except HubError as exc:
        assert isinstance(exc, ValidationFailed) and exc.status == 422
        return
    assert str(uuid.UUID(stroke.id)) == stroke.id
    assert stroke.tool in parse.TOOLS
    assert re.fullmatch(COLOR, stroke.color), stroke.color
    assert _finite_within(stroke.width, 0.1, parse.MAX_WIDTH)
    assert 1 <= len(stroke.points) <= max_points
    for point in stroke.points:
        assert len(point) in (2, 3)
        assert all(_finite_within(c, -parse.MAX_COORD, parse.MAX_COORD) for c in point[:2])
        assert len(point) == 2 or _finite_within(point[2], 0.0, 1.0)


@FAST
@given(raw=st.fixed_dictionaries({}, optional={"x": numbers, "y": numbers}) | anything)
def test_cursor_validation_accepts_only_finite_coordinates(raw: Any) -> None:
    try:
        x, y = parse.cursor(parse.payload(raw))
    except HubError as exc:
        assert isinstance(exc, ValidationFailed)
        return
    assert _finite_within(x, -parse.MAX_COORD, parse.MAX_COORD)
    assert _finite_within(y, -parse.MAX_COORD, parse.MAX_COORD)


@FAST
@given(
    raw=st.fixed_dictionaries(
        {},
        optional={
            "space_id": st.builds(
                lambda sid, after: sid + after, st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True), edges
            )
            | st.text(max_size=70)
            | anything,
            "ids": st.lists(st.uuids().map(str) | anything, max_size=5) | anything,
            "since": st.fixed_dictionaries({}, optional={"seq": numbers, "epoch": st.text(max_size=70) | anything})
            | anything,
        },
    )
    | anything
)
@example(raw={"space_id": "0\n"})
def test_other_whiteboard_fields_raise_only_validation_errors(raw: Any) -> None:
    import re

    for check in (parse.space_id, parse.stroke_ids, parse.since):
        try:
            value = check(parse.payload(raw))
        except HubError as exc:
            assert isinstance(exc, ValidationFailed)
            continue
        if check is parse.space_id:
            assert re.fullmatch(r"[A-Za-z0-9_-]{1,64}", cast(str, value)), value


# --- pagination cursors (hub/pagination.py) --------------------------------------------------------

offsets = st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(timezones=st.none() | st.just(UTC) | offsets)
ids = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@FAST
@given(at=moments, ident=ids)
def test_cursor_round_trip(at: datetime, ident: str) -> None:
    token = Cursor(at, ident).encode()
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")
    decoded = Cursor.decode(token)
    assert decoded is not None and decoded.id == ident
    assert decoded.at == at and decoded.at.utcoffset() == at.utcoffset()


@FAST
@given(
    token=st.text(max_size=60)
    | st.binary(max_size=45).map(_b64)
    | st.builds(lambda v: _b64(orjson.dumps(v)), json_values | st.lists(json_values, min_size=2, max_size=2))
)
def test_cursor_garbage_is_a_bad_request(token: str) -> None:
    try:
        decoded = Cursor.decode(token)
    except BadRequest as exc:
        assert exc.code == "invalid_cursor" and exc.status == 400
        return
    assert decoded is None or (isinstance(decoded.at, datetime) and isinstance(decoded.id, str))


# --- rate limiting ---------------------------------------------------------------------------------


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@FAST
@given(
    rate=st.floats(0.5, 50),
    burst=st.integers(1, 20),
    steps=st.lists(st.tuples(st.floats(0, 5), st.integers(1, 5)), min_size=1, max_size=30),
)
def test_token_bucket_never_allows_more_than_burst_plus_rate(
    rate: float, burst: int, steps: list[tuple[float, int]]
) -> None:
    clock = ManualClock()
    bucket = parse.TokenBucket(rate, burst, clock)
    start, allowed = clock.now, 0
    for advance, takes in steps:
        clock.now += advance
        for _ in range(takes):
            try:
                bucket.take()
                allowed += 1
            except RateLimited as exc:
                assert exc.retry_after >= 1 and exc.code == "rate_limited"
        assert allowed <= burst + rate * (clock.now - start) + 1e-6


@FAST
@given(rate=st.floats(0.5, 50), burst=st.integers(1, 20), spent=st.integers(0, 40))
def test_token_bucket_retry_after_is_honest(rate: float, burst: int, spent: int) -> None:
    clock = ManualClock()
    bucket = parse.TokenBucket(rate, burst, clock)
    for _ in range(spent):
        try:
            bucket.take()
        except RateLimited as exc:
            clock.now += exc.retry_after  # waiting as told is always enough
            bucket.take()
    # Idle long enough, a full burst is available again, and not one token more.
    clock.now += burst / rate + 1
    for _ in range(burst):
        bucket.take()
    with pytest.raises(RateLimited):
        bucket.take()


@settings(max_examples=25, deadline=None, suppress_health_check=REUSE_FIXTURES)
@given(
    limit=st.integers(1, 15),
    hits=st.integers(1, 40),
    backend=st.sampled_from(["memory", "redis"]),
    keys=st.lists(st.text(string.ascii_letters + ":/ ", min_size=1, max_size=10), min_size=1, max_size=3),
)
async def test_moving_window_counts_exactly(
    redis_service: RedisHandle, limit: int, hits: int, backend: str, keys: list[str]
) -> None:
    # A minute-long window and a burst that takes milliseconds: every hit falls inside one window.
    limiter = (
        LimitsRateLimiter.memory()
        if backend == "memory"
        else LimitsRateLimiter.redis(redis_service.url, "t" + uuid.uuid4().hex[:10])
    )
    try:
        scope = uuid.uuid4().hex
        waits = [await limiter.hit(f"{limit}/minute", scope, *keys) for _ in range(hits)]
        assert waits[: min(limit, hits)] == [0] * min(limit, hits)
        assert all(1 <= w <= 60 for w in waits[limit:])
        # Another key has its own window.
        assert await limiter.hit(f"{limit}/minute", scope + "-other", *keys) == 0
    finally:
        await limiter.close()


# --- replay buffer contiguity (storage/memory/replay.py, hub/services/whiteboard.py) ----------------


def _event(seq: int) -> dict[str, Any]:
    return {"seq": seq, "type": "stroke", "data": {"id": f"s{seq}", "points": [[seq, -seq]]}}


@FAST
@given(
    total=st.integers(0, 40),
    max_events=st.integers(1, 50),
    data=st.data(),
    lost=st.sets(st.integers(1, 40), max_size=5),
    ages=st.lists(st.floats(0, 30), max_size=10),
)
async def test_replay_recovers_only_without_a_gap(
    total: int, max_events: int, data: st.DataObject, lost: set[int], ages: list[float]
) -> None:
    clock = ManualClock()
    replay = MemoryReplayBuffer(max_events, max_age=20.0, clock=clock)
    committed = list(range(1, total + 1))
    # Commits finish out of order, in batches; some never reach the buffer (a crash between commit and append).
    order = data.draw(st.permutations(committed), label="order")
    delivered = [s for s in order if s not in lost]
    nothing_lost = not lost & set(committed)
    while delivered:
        size = data.draw(st.integers(1, 5), label="batch")
        batch, delivered = delivered[:size], delivered[size:]
        await replay.append("space", "epoch", [_event(s) for s in batch])
        if ages:
            clock.now += ages.pop()
            nothing_lost = False  # aged out, maybe
    position = total
    for since in range(0, total + 1):
        events = await replay.since("space", "epoch", since)
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(set(seqs)) and all(s > since for s in seqs)
        assert all(e == _event(e["seq"]) for e in events)
        if contiguous(events, since, position):
            # recovered: true: every committed event after `since` is in the replay, in order.
            assert seqs[: position - since] == list(range(since + 1, position + 1))
        elif nothing_lost and total - since <= max_events:
            pytest.fail(f"since={since}: everything is in the buffer, yet it is not contiguous: {seqs}")
    assert await replay.since("space", "other-epoch", 0) == []


@FAST
@given(after=st.integers(0, 50), seqs=st.lists(st.integers(0, 60), max_size=20), upto=st.integers(0, 60))
def test_contiguous_means_no_gap(after: int, seqs: list[int], upto: int) -> None:
    events = [{"seq": s} for s in seqs]
    if contiguous(events, after, upto):
        assert seqs == list(range(after + 1, after + 1 + len(seqs)))
        assert after + len(seqs) >= upto


# --- the HTTP surface, through the real app --------------------------------------------------------

HTTP = settings(max_examples=150, deadline=None, suppress_health_check=REUSE_FIXTURES)
SECURITY_HEADERS = {"content-security-policy", "x-content-type-options", "referrer-policy", "x-request-id"}
methods = st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"])
segments = st.sampled_from([str(uuid.uuid4()), "x", "..", "%00", "%2e%2e", "' OR 1=1", "a" * 300, "0", "-1", "é"])
bodies = st.none() | st.binary(max_size=64) | st.builds(lambda v: orjson.dumps(v), json_values)
header_sets = st.fixed_dictionaries(
    {},
    optional={
        "authorization": st.sampled_from(["Bearer x", "Bearer", "Basic Zm9v", "Bearer a.b.c"]),
        "content-type": st.sampled_from(["application/json", "text/plain", "multipart/form-data", "application/x-www"]),
        "if-match": st.sampled_from(['"v1"', "*", "garbage"]),
    },
)

_ROUTES: list[tuple[str, str]] = []


async def _routes(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    """Every (method, path template) of the API, from its own OpenAPI document, plus the static ones."""
    if not _ROUTES:
        spec = (await client.get("/openapi.json")).json()
        _ROUTES.extend((m.upper(), p) for p, ops in spec["paths"].items() for m in ops if m != "parameters")
        _ROUTES.extend(
            [
                ("GET", "/"),
                ("GET", "/healthz"),
                ("GET", "/readyz"),
                ("GET", "/metrics"),
                ("GET", "/openapi.json"),
                ("GET", "/docs"),
                ("GET", "/no/such/route"),
            ]
        )
    return _ROUTES


@HTTP
@given(data=st.data(), method=methods, body=bodies, headers=header_sets)
async def test_every_route_sends_security_headers_and_json_errors(
    client: httpx.AsyncClient, data: st.DataObject, method: str, body: bytes | None, headers: dict[str, str]
) -> None:
    routes = await _routes(client)
    own_method, template = data.draw(st.sampled_from(routes), label="route")
    method = data.draw(st.sampled_from([own_method, method]), label="method")
    parts = [data.draw(segments, label=part) if part.startswith("{") else part for part in template.split("/")]
    path = "/".join(parts)
    assume(method != "HEAD" or body is None)
    response = await client.request(method, path, content=body, headers=headers)
    assert response.status_code < 500, (method, path, response.status_code, response.text[:300])
    missing = SECURITY_HEADERS - set(response.headers)
    assert not missing, (method, path, response.status_code, missing)
    assert response.headers["x-content-type-options"] == "nosniff"
    if 400 <= response.status_code < 500 and method != "HEAD":
        assert response.headers["content-type"].startswith("application/json"), (method, path)
        error = response.json()["error"]
        assert set(error) >= {"code", "message", "details", "request_id"}, error
        assert isinstance(error["code"], str) and error["code"] and isinstance(error["message"], str)
        assert isinstance(error["details"], dict)
        assert error["request_id"] == response.headers["x-request-id"]
