"""The pure checks of what a client declares about a file (hub/services/files_input.py).

The HTTP flows in test_files_flow.py prove these are applied; here each rule is pinned on its own.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from hub.errors import ValidationFailed
from hub.services.files_input import (
    MAX_FILENAME_BYTES,
    check_content_type,
    check_sha256,
    content_disposition,
    disposition_kind,
    normalize_filename,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd", "_.._etc_passwd"),
        ("C:\\Windows\\win.ini", "C__Windows_win.ini"),
        ("evil\u202egnp.exe", "evilgnp.exe"),  # a right-to-left override would disguise the extension
        ("a\x00b\nc", "abc"),
        ("  spaced \u2028 out  .", "spaced out"),
        ("CON.txt", "_CON.txt"),
        ("...", "file"),
        ("", "file"),
        ("Re\u0301sume\u0301.pdf", "Résumé.pdf"),  # NFC
    ],
)
def test_filenames_are_normalized_to_harmless_names(raw: str, expected: str) -> None:
    assert normalize_filename(raw) == expected


def test_a_long_filename_is_cut_to_255_bytes_keeping_its_extension() -> None:
    name = normalize_filename("é" * 300 + ".tar")
    assert len(name.encode()) <= MAX_FILENAME_BYTES and name.endswith("é.tar")
    assert normalize_filename("x" * 300) == "x" * MAX_FILENAME_BYTES


def test_content_disposition_has_an_ascii_fallback_and_the_exact_name() -> None:
    header = content_disposition("attachment", 'Résumé "final".txt')
    assert header.startswith('attachment; filename="Resume _final_.txt"; ')
    assert unquote(header.split("filename*=UTF-8''")[1]) == 'Résumé "final".txt'
    assert content_disposition("inline", "日本").startswith('inline; filename="download"')


def test_only_safe_types_are_shown_inline_and_only_when_not_asked_to_download() -> None:
    assert disposition_kind("image/png", attachment=False) == "inline"
    assert disposition_kind("image/png", attachment=True) == "attachment"
    assert disposition_kind("text/html", attachment=False) == "attachment"


def test_content_types_are_checked_against_allow_and_deny_patterns() -> None:
    assert check_content_type(" Image/PNG ", (), ()) == "image/png"
    assert check_content_type("image/png", ("image/*",), ()) == "image/png"
    assert check_content_type("text/plain", ("*/*",), ("text/html",)) == "text/plain"
    for raw, allow, deny in [
        ("text/plain; charset=utf-8", (), ()),
        ("image /png", (), ()),
        ("text/html", (), ("text/html",)),
        ("image/svg+xml", ("image/*",), ("image/svg+xml",)),
        ("video/mp4", ("image/*",), ()),
    ]:
        with pytest.raises(ValidationFailed) as caught:
            check_content_type(raw, allow, deny)
        assert set(caught.value.details["fields"]) == {"content_type"}


def test_sha256_is_lower_case_hex_or_absent() -> None:
    assert check_sha256(None) is None and check_sha256("") is None
    assert check_sha256("AB" * 32) == "ab" * 32
    for bad in ["ab" * 31, "zz" * 32, "ab" * 32 + "\n"]:
        with pytest.raises(ValidationFailed):
            check_sha256(bad)
