"""Validation and shaping of what clients declare about a file (pure, no I/O).

A filename, a content type and a checksum arrive from an untrusted client and end up in a database
row, in a `Content-Disposition` header and in another user's download dialog, so they pass through
here first: a bad value ends as a `validation_failed` answer, a hostile name as a harmless one.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from hub.errors import ValidationFailed

MAX_FILENAME_BYTES = 255
# Types a browser may render in place without risk to the page that links them.
INLINE_SAFE = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/avif",
        "video/mp4",
        "video/webm",
        "audio/mpeg",
        "audio/ogg",
        "audio/wav",
        "audio/webm",
    }
)
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_SHA256 = re.compile(r"[0-9a-f]{64}")  # fullmatch: `$` would let "\n" through
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9]|conin\$|conout\$)(\..*)?$", re.I)
_UNSAFE_CHARS = re.compile(r'[/\\:*?"<>|]')


def normalize_filename(raw: str) -> str:
    """A display name that is harmless anywhere it may end up: never a path, never a device, no
    control or bidirectional characters, at most 255 UTF-8 bytes with the extension kept."""
    name = unicodedata.normalize("NFC", raw)
    # Cc: controls (NUL...), Cf: format chars (RTL override, zero-width), Zl/Zp: line separators.
    name = "".join(
        " " if unicodedata.category(c) in {"Zl", "Zp", "Zs"} else c
        for c in name
        if unicodedata.category(c) not in {"Cc", "Cf", "Cs", "Co", "Cn"}
    )
    name = _UNSAFE_CHARS.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if _WINDOWS_RESERVED.match(name):
        name = "_" + name
    if len(name.encode()) > MAX_FILENAME_BYTES:
        stem, dot, ext = name.rpartition(".")
        ext = ext if dot and stem and 0 < len(ext.encode()) <= 16 else ""
        room = MAX_FILENAME_BYTES - (len(ext.encode()) + 1 if ext else 0)
        stem = (stem if ext else name).encode()[:room].decode("utf-8", "ignore").rstrip(" .")
        name = f"{stem}.{ext}" if ext else stem
    return name or "file"


def content_disposition(kind: str, filename: str) -> str:
    """RFC 6266 with an ASCII fallback and the exact name in RFC 5987 `filename*`."""
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = re.sub(r"[^A-Za-z0-9._ ()-]", "_", fallback).strip(" .") or "download"
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def disposition_kind(content_type: str, attachment: bool) -> str:
    """`inline` only for types that are safe to render in place and only when not asked to download."""
    return "inline" if content_type in INLINE_SAFE and not attachment else "attachment"


def _type_matches(content_type: str, patterns: tuple[str, ...]) -> bool:
    for pattern in patterns:
        p = pattern.strip().lower()
        if p == content_type or (p.endswith("/*") and content_type.startswith(p[:-1])) or p == "*/*":
            return True
    return False


def check_content_type(raw: str, allow: tuple[str, ...], deny: tuple[str, ...]) -> str:
    """The declared type, lower-cased, when it is a bare MIME type that `deny` does not match and
    `allow` (when not empty) does; patterns may end in `/*`."""
    content_type = raw.strip().lower()
    if not _CONTENT_TYPE.match(content_type):
        raise ValidationFailed({"content_type": "must be a MIME type like image/png, without parameters"})
    if _type_matches(content_type, deny) or (allow and not _type_matches(content_type, allow)):
        raise ValidationFailed({"content_type": "this type of file is not accepted here"})
    return content_type


def check_sha256(raw: str | None) -> str | None:
    """A declared SHA-256 as lower-case hex, or None when none was declared."""
    sha256 = raw.lower() if raw else None
    if sha256 is not None and not _SHA256.fullmatch(sha256):
        raise ValidationFailed({"sha256": "must be 64 hexadecimal characters"})
    return sha256
