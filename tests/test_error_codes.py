"""Every error code is declared once, as a class in hub/errors.py, and raise sites name the class.

A code spelled at a raise site (`NotFound(..., code="...")`) or as a literal elsewhere drifts from the
reference and from the clients; these checks keep the rule from eroding.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hub import errors
from hub.errors import HubError, all_errors, client_error, codes

ROOT = Path(__file__).resolve().parent.parent
ERRORS_MODULE = ROOT / "hub" / "errors.py"
PRODUCTION = ("hub", "rest", "realtime", "storage")
# Literals that equal a code but mean something else: a bus event and log event name, a repository's
# outcome, the readiness probe's summary.
NOT_ERROR_CODES = {"space_expired", "last_owner", "unavailable"}


def _modules(*packages: str) -> list[Path]:
    return [p for pkg in packages for p in sorted((ROOT / pkg).rglob("*.py")) if p != ERRORS_MODULE]


ERROR_NAMES = {cls.__name__ for cls in all_errors()} | {"HubError"}


def test_every_class_declares_its_own_code_once_with_a_docstring() -> None:
    found = codes()  # raises when two classes share a code
    assert len(found) == len(all_errors())
    for cls in all_errors():
        assert "code" in vars(cls), f"{cls.__name__} inherits its code; declare one"
        assert isinstance(cls.status, int) and 400 <= cls.status < 600
        doc = (cls.__doc__ or "").strip()
        assert doc and "\n" not in doc, f"{cls.__name__}: a one-line docstring saying when it happens"


def test_retryable_errors_are_the_transient_ones() -> None:
    for cls in all_errors():
        if cls.status in (429, 503):
            assert cls.retryable, cls.__name__
        elif cls.status != 400:
            assert not cls.retryable, cls.__name__


def test_code_and_status_are_class_attributes() -> None:
    err = errors.DbBusy()
    assert err.code == "db_busy" and err.status == 503 and err.headers == {"Retry-After": "1"}
    assert errors.ServiceUnavailable().headers == {"Retry-After": "2"}
    timeout = client_error(408)()
    assert (timeout.status, timeout.code, isinstance(timeout, errors.BadRequest)) == (408, "bad_request", True)
    assert client_error(408) is type(timeout)


def _calls_passing_code(tree: ast.AST) -> list[int]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name in ERROR_NAMES and any(k.arg == "code" for k in node.keywords):
                found.append(node.lineno)
    return found


def _error_classes_declared(tree: ast.AST) -> list[int]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = {
                b.id if isinstance(b, ast.Name) else b.attr if isinstance(b, ast.Attribute) else "" for b in node.bases
            }
            if bases & ERROR_NAMES:
                found.append(node.lineno)
    return found


def test_no_module_passes_a_code_or_declares_an_error_class() -> None:
    offenders = []
    for path in _modules(*PRODUCTION, "tests", "bench"):
        tree = ast.parse(path.read_text())
        rel = path.relative_to(ROOT)
        offenders += [f"{rel}:{line}: code= passed to an error" for line in _calls_passing_code(tree)]
        offenders += [f"{rel}:{line}: error class outside hub/errors.py" for line in _error_classes_declared(tree)]
    assert offenders == [], "declare the code as a class in hub/errors.py and raise that:\n" + "\n".join(offenders)


def _is_str(node: ast.expr | None, text: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == text


def test_no_production_module_spells_a_code() -> None:
    declared = set(codes()) - NOT_ERROR_CODES
    offenders = []
    for path in _modules(*PRODUCTION):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in declared:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
            if isinstance(node, ast.Dict):  # an error body built by hand: {"code": "...", ...}
                for key, value in zip(node.keys, node.values, strict=True):
                    if _is_str(key, "code") and isinstance(value, ast.Constant) and isinstance(value.value, str):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {{'code': {value.value!r}}}")
    assert offenders == [], "use the error class (or its `.code`) from hub/errors.py:\n" + "\n".join(offenders)


def test_the_checks_see_a_violation() -> None:
    bad = ast.parse('raise NotFound("No such space.", code="space_not_found")\nclass X(Conflict):\n    pass\n')
    assert _calls_passing_code(bad) == [1]
    assert _error_classes_declared(bad) == [2]
    assert issubclass(errors.SpaceNotFound, HubError)
