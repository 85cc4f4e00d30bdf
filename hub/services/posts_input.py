"""Pure checks and parsers of post and comment input: text, media ids, mentions, hashtags, keys.

Kept free of I/O so that property tests can drive them with arbitrary text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from enum import StrEnum

from hub.errors import ValidationFailed

POST_MAX_CHARS = 5_000
COMMENT_MAX_CHARS = 2_000
MAX_MEDIA = 4
MAX_MENTIONS = 20
MAX_HASHTAGS = 20
HASHTAG_MAX_CHARS = 64
IDEMPOTENCY_KEY_MAX = 255
MEDIA_ID_MAX = 64
# What a post's media must be. An image the media worker is still processing is accepted (the post
# shows its original until the variants exist); one it could not decode is refused.
MEDIA_RULE = "must be completed image uploads of yours, not refused by the media worker, attached to no other post"


class Visibility(StrEnum):
    """Who sees a post: everyone; everyone but search (profile, link); accepted followers only."""

    PUBLIC = "public"
    UNLISTED = "unlisted"
    FOLLOWERS = "followers"


# A handle is a username (hub.services.identity.USERNAME). The mention must not continue a word, an
# e-mail address or another mention; a trailing dot or dash is punctuation, not part of the handle.
_MENTION = re.compile(r"(?<![\w@.\-/])@([A-Za-z0-9][A-Za-z0-9_.\-]{2,31})(?![\w@])")
# A hashtag is word characters with at least one that is not a digit (#1 is a number, not a tag),
# not preceded by a word character or `&` (HTML entities like &#123;).
_HASHTAG = re.compile(r"(?<![\w&#])#(\w{1,64})(?!\w)")
_MEDIA_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def clean_text(value: str, *, max_chars: int, field: str, required: bool = False) -> str:
    """NFC text, trimmed; line breaks and tabs are kept, other control and format characters refused."""
    text = unicodedata.normalize("NFC", value).strip()
    if len(text) > max_chars:
        raise ValidationFailed({field: f"must be at most {max_chars} characters"})
    if required and not text:
        raise ValidationFailed({field: "must not be empty"})
    # ZWJ (U+200D) joins emoji sequences; other format characters (bidi overrides) are refused.
    if any(ch not in "\n\t\u200d" and unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co"} for ch in text):
        raise ValidationFailed({field: "must not contain control or formatting characters"})
    return text


def parse_mentions(text: str) -> list[str]:
    """The handles mentioned in `text`, lower-cased, each once, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in _MENTION.finditer(text):
        handle = match.group(1).rstrip(".-").lower()
        if len(handle) >= 3:
            seen.setdefault(handle, None)
        if len(seen) == MAX_MENTIONS:
            break
    return list(seen)


def parse_hashtags(text: str) -> list[str]:
    """The hashtags of `text`, case-folded (NFC), each once, in order of first appearance."""
    seen: dict[str, None] = {}
    for match in _HASHTAG.finditer(text):
        tag = match.group(1)
        if tag.isdigit() or tag.strip("_") == "":
            continue
        seen.setdefault(unicodedata.normalize("NFC", tag.casefold())[:HASHTAG_MAX_CHARS], None)
        if len(seen) == MAX_HASHTAGS:
            break
    return list(seen)


def clean_media(ids: Sequence[str]) -> list[str]:
    """At most MAX_MEDIA distinct, well-formed media ids, in the order given."""
    if len(ids) > MAX_MEDIA:
        raise ValidationFailed({"media": f"at most {MAX_MEDIA} items"})
    if len(set(ids)) != len(ids):
        raise ValidationFailed({"media": "must not repeat an id"})
    for ident in ids:
        if not _MEDIA_ID.fullmatch(ident):
            raise ValidationFailed({"media": "must be media ids"})
    return list(ids)


def clean_idempotency_key(value: str | None) -> str | None:
    """An Idempotency-Key header value: visible ASCII, 1 to 255 characters; None when absent."""
    if value is None:
        return None
    key = value.strip()
    if not 0 < len(key) <= IDEMPOTENCY_KEY_MAX or not all("!" <= ch <= "~" for ch in key):
        raise ValidationFailed({"Idempotency-Key": f"must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters"})
    return key
