"""HTTP byte ranges (RFC 9110 section 14) for the responses the hub streams itself.

Only what a download needs: one range per request. A header the hub does not act on (another unit,
several ranges, a malformed or invalid range) is ignored and the whole object is served, which the RFC
allows and which is what S3 does with several ranges; a well-formed range that selects no byte is a 416.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hub.errors import RangeNotSatisfiable

# ASCII digits only (`\d` would take any Unicode digit); twenty of them exceed any object size.
_SPEC = re.compile(r"([0-9]{1,20})-([0-9]{0,20})|-([0-9]{1,20})")


@dataclass(frozen=True, slots=True)
class ByteRange:
    start: int
    end: int  # inclusive, as in Content-Range

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    def content_range(self, size: int) -> str:
        return f"bytes {self.start}-{self.end}/{size}"


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one range to serve of an object of `size` bytes, or None to serve all of it.

    Raises `RangeNotSatisfiable` when the range is valid but selects nothing: it starts at or past the
    end, it is a zero-length suffix, or the object is empty.
    """
    if not header:
        return None
    unit, sep, range_set = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    # Empty list elements ("bytes=0-9,") are allowed by the list syntax and ignored.
    specs = [spec.strip() for spec in range_set.split(",") if spec.strip()]
    if len(specs) != 1:
        return None
    match = _SPEC.fullmatch(specs[0])
    if match is None:
        return None
    first, last, suffix = match.groups()
    if suffix is not None:
        length = int(suffix)
        if length == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return ByteRange(max(0, size - length), size - 1)
    start = int(first)
    if last and int(last) < start:
        return None  # an invalid range-spec: ignored, like any other malformed header
    if start >= size:
        raise RangeNotSatisfiable(size)
    end = min(int(last), size - 1) if last else size - 1
    return ByteRange(start, end)
