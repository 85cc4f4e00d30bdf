"""Post input: text checks, mention and hashtag parsing, media ids, Idempotency-Key values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.errors import ValidationFailed
from hub.services.posts_input import (
    MAX_HASHTAGS,
    MAX_MENTIONS,
    clean_idempotency_key,
    clean_media,
    clean_text,
    parse_hashtags,
    parse_mentions,
)


def test_mentions() -> None:
    assert parse_mentions("hi @Alice and @bob_2, @alice again") == ["alice", "bob_2"]
    assert parse_mentions("end of sentence @carol.") == ["carol"]
    assert parse_mentions("@dan.smith-x: yes") == ["dan.smith-x"]
    # Not mentions: e-mail addresses, too short or too long handles, a mention glued to a word.
    assert parse_mentions("mail me at eve@example.com") == []
    assert parse_mentions("@ab @" + "x" * 33 + " word@frank") == []
    assert parse_mentions("(@grace)") == ["grace"]


def test_hashtags() -> None:
    assert parse_hashtags("#Python and #python, #Rust!") == ["python", "rust"]
    assert parse_hashtags("#1 #2024 &#123; a#b") == []  # numbers, entities, inside words
    assert parse_hashtags("#café #日本語 #v2") == ["café", "日本語", "v2"]
    assert parse_hashtags("#" + "t" * 65) == []
    assert parse_hashtags("#___") == []


def test_lists_are_capped() -> None:
    many = " ".join(f"@user{i:03d} #tag{i}" for i in range(50))
    assert len(parse_mentions(many)) == MAX_MENTIONS
    assert len(parse_hashtags(many)) == MAX_HASHTAGS


def test_text() -> None:
    assert clean_text("  e\u0301 line\nnext\t ", max_chars=11, field="text") == "\u00e9 line\nnext"
    assert clean_text("👨\u200d👩\u200d👧", max_chars=10, field="text") == "👨\u200d👩\u200d👧"
    for bad in ("a\x07b", "evil\u202etxt"):
        with pytest.raises(ValidationFailed):
            clean_text(bad, max_chars=100, field="text")
    with pytest.raises(ValidationFailed):
        clean_text("x" * 11, max_chars=10, field="text")
    with pytest.raises(ValidationFailed):
        clean_text("   ", max_chars=10, field="text", required=True)


def test_media_ids() -> None:
    assert clean_media(["a", "b-_1"]) == ["a", "b-_1"]
    for bad in (["a"] * 2, ["a", "b", "c", "d", "e"], ["no spaces"], [""], ["x" * 65]):
        with pytest.raises(ValidationFailed):
            clean_media(bad)


def test_idempotency_keys() -> None:
    assert clean_idempotency_key(None) is None
    assert clean_idempotency_key(" 4f9c-retry ") == "4f9c-retry"
    for bad in ("", "   ", "with space", "é", "x" * 256):
        with pytest.raises(ValidationFailed):
            clean_idempotency_key(bad)


@given(st.text())
def test_parsers_never_fail_and_return_distinct_normal_forms(text: str) -> None:
    mentions = parse_mentions(text)
    tags = parse_hashtags(text)
    assert len(set(mentions)) == len(mentions) <= MAX_MENTIONS
    assert len(set(tags)) == len(tags) <= MAX_HASHTAGS
    for handle in mentions:
        assert handle == handle.lower() and 3 <= len(handle) <= 32 and f"@{handle}" in text.lower()
    for tag in tags:
        assert 1 <= len(tag) <= 64 and not tag.isdigit()


@given(st.lists(st.from_regex(r"[a-z]{3,10}", fullmatch=True), min_size=1, max_size=5, unique=True))
def test_every_written_mention_is_found_in_order(handles: list[str]) -> None:
    text = " ".join(f"@{h}" for h in handles)
    assert parse_mentions(text) == handles
    assert parse_hashtags(text.replace("@", "#")) == handles


@given(st.text(max_size=60))
def test_clean_text_is_idempotent(text: str) -> None:
    try:
        once = clean_text(text, max_chars=100, field="text")
    except ValidationFailed:
        return
    assert clean_text(once, max_chars=100, field="text") == once
